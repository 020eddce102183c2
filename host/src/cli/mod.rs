//! The `lava-conn` commands, one file each (as aws-vault's `cli/` does);
//! `common.rs` holds what they share.

pub mod common;
pub mod credential_process;
pub mod exec;
pub mod guard;
pub mod plugins;
pub mod resolve;
pub mod session_name;
pub mod stdio;
pub mod validate;
