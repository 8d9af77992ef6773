//! Specs for `render`.
