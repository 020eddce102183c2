//! lava's rules that more than one component needs, in one place: the duration
//! grammar (host config and connector specs), STS role-session names, STS and
//! IAM limits, and problems. (What a connector asks of the host lives in the
//! connector SDK, `lava-guest-kit`.)

pub mod duration;
pub mod fields;
pub mod problem;
pub mod session;
pub mod sts;
