//! The command line: one file per command, all thin over the library.

mod assist;
mod common;
mod error;
mod event;
mod explain;
mod init;
mod leaderboard;
mod ledger;
mod lottery;
mod members;
mod plan;
mod render;
mod roll;
mod roster;
mod run;
mod schema;
mod send;
mod status;
mod validate;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

pub use error::CliError;

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
    Run(run::Args),
    Send(send::Args),
    Assist(assist::Args),
    Members(members::Args),
    Event(event::Args),
    Ledger(ledger::Args),
    Leaderboard(leaderboard::Args),
    Lottery(lottery::Args),
    Status(status::Args),
    Schema(schema::Args),
    Explain(explain::Args),
}

/// Runs the command line; the one place where a command's failure is printed and turned
/// into an exit status.
pub fn main() -> ExitCode {
    use crate::store::with_backend;
    let cli = Cli::parse();
    let done = match cli.command {
        Command::Init(args) => init::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Render(args) => render::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Run(args) => run::run(args),
        Command::Send(args) => send::run(args),
        Command::Assist(args) => with_backend!(&args.store, S => assist::run::<S>(args)),
        Command::Members(args) => with_backend!(&args.store, S => members::run::<S>(args)),
        Command::Event(args) => with_backend!(&args.store, S => event::run::<S>(args)),
        Command::Ledger(args) => with_backend!(&args.store, S => ledger::run::<S>(args)),
        Command::Leaderboard(args) => with_backend!(&args.store, S => leaderboard::run::<S>(args)),
        Command::Lottery(args) => with_backend!(&args.store, S => lottery::run::<S>(args)),
        Command::Status(args) => with_backend!(&args.store, S => status::run::<S>(args)),
        Command::Schema(args) => schema::run(args),
        Command::Explain(args) => explain::run(args),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            e.report();
            ExitCode::from(e.status())
        }
    }
}
