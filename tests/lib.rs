//! The one integration-test binary: runs the real `drumbeat` executable and compares
//! exact output, plus library-level specs that need fixtures.

mod common;

mod bad_input;
mod channel;
mod clocked;
mod daemon;
mod hostile_clients;
mod init;
mod intake;
mod layers;
mod members;
mod on_time;
mod plan;
mod queues;
mod render;
mod roster;
mod run;
mod schedule;
mod schema;
mod send;
mod server;
mod status;
mod store;
mod store_versions;
mod validate;
