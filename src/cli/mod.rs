//! The command line: one file per command, all thin over the library.

mod common;
mod init;
mod plan;
mod render;
mod schema;
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
    Validate(validate::Args),
    Schema(schema::Args),
    Plan(plan::Args),
    Render(render::Args),
    Init(init::Args),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate(args) => validate::run(args),
        Command::Schema(args) => schema::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Render(args) => render::run(args),
        Command::Init(args) => init::run(args),
    }
}
