//! Specs for `schema`.
