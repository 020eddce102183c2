//! lava's rules that more than one component needs, in one place: the duration
//! grammar (host config and connector specs), STS role-session names, STS and
//! IAM limits, problems, and what both aws connectors hand to jobs.

pub mod aws;
pub mod duration;
pub mod fields;
pub mod problem;
pub mod session;
pub mod sts;
