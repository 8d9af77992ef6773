//! Specs for `plan`.
