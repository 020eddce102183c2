//! Helpers shared by the component tests.
