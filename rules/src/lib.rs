//! lava's rules that more than one component needs, in one place: the duration
//! grammar (host config and connector specs) and STS role-session names (every
//! connector that assumes roles).

pub mod duration;
pub mod session;
