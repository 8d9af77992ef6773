//! Specs for `init`.
