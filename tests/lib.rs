//! The one integration-test binary: runs the real `drumbeat` executable and compares
//! exact output, plus library-level specs that need fixtures.

mod common;

mod bad_input;
mod channel;
mod init;
mod on_time;
mod plan;
mod render;
mod schema;
mod send;
mod store;
mod validate;
