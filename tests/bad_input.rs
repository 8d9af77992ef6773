//! Specs for `bad_input`.
