//! The command line: one file per command, all thin over the library.

mod common;
mod explain;
mod init;
mod plan;
mod render;
mod schema;
mod send;
mod status;
mod validate;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "drumbeat", version, about = "A playbook engine for community operations", long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Init(init::Args),
    Validate(validate::Args),
    Render(render::Args),
    Plan(plan::Args),
    Send(send::Args),
    Status(status::Args),
    Schema(schema::Args),
    Explain(explain::Args),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Init(args) => init::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Render(args) => render::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Send(args) => send::run(args),
        Command::Status(args) => status::run(args),
        Command::Schema(args) => schema::run(args),
        Command::Explain(args) => explain::run(args),
    }
}
