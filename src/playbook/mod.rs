//! The playbook language: model types, loading with positions, environment references.

pub mod decode;
mod kept;
pub mod load;
pub mod model;
pub mod schema;
pub mod sections;
pub mod types;

pub use load::{Loaded, load_paths};
pub use model::*;
