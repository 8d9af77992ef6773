//! The daemon: what `drumbeat run` keeps running.

pub mod metrics;
