//! Specs for `validate`.
