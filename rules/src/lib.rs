//! lava's rules that more than one component needs, in one place: the duration
//! grammar (host config and connector specs), STS role-session names, STS and
//! IAM limits, the stand-ins a job is handed, what a login's text and SSH options may hold, the names of values a job
//! gets, and problems. (Reading a spec,
//! and what a connector asks of the host, live in the connector SDK,
//! `lava-guest-kit`.)

pub mod duration;
pub mod launcher;
pub mod login;
pub mod names;
pub mod problem;
pub mod session;
pub mod ssh;
pub mod sts;
