//! `drumbeat lottery replay DRAW`

use crate::cli::CliError;
use crate::cli::common::{emit, open_store_to_read, small_runtime, usage};
use crate::diag::visible;
use crate::rules::lottery::draw;
use crate::store::{DEFAULT_URL, Draws, Lifecycle};

/// Lottery draws, for audits.
///
/// Every draw is recorded with its seed, the eligible members in the order drawn from and
/// the number of winners wanted. `replay` draws again from those and checks that the
/// same winners come out.
///
/// Example:
///   drumbeat lottery replay fitness-camp/weekly-draw/20261204T120000Z
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
    #[arg(long, global = true, default_value = DEFAULT_URL)]
    pub store: String,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Draw again from a recorded draw's seed and eligible members; exit 0 when the
    /// winners are the same, 1 when not.
    Replay {
        /// The draw's id: `community/lottery/instant`, as logged and shown in the outbox.
        draw: String,
    },
}

pub fn run<S: Lifecycle + Draws>(args: Args) -> Result<(), CliError> {
    let rt = small_runtime()?;
    let store = open_store_to_read::<S>(&rt, &args.store)?;
    let Action::Replay { draw: id } = args.action;
    let found = rt.block_on(store.find_draw(&id));
    rt.block_on(store.close());
    let Some(d) = found? else {
        return Err(usage(&format!("no draw `{id}` in the store")));
    };
    let again = draw(&d.eligible, d.wanted, d.seed);
    let list = |w: &[String]| {
        if w.is_empty() {
            "(none)".to_string()
        } else {
            w.iter().map(|m| visible(m)).collect::<Vec<_>>().join(", ")
        }
    };
    let mut out = format!(
        "draw     {}\nat       {}\nseed     {}\neligible {} members\nwanted   {}\nrecorded {}\nreplayed {}\n",
        visible(&d.id),
        d.at.to_rfc3339(),
        d.seed,
        d.eligible.len(),
        d.wanted,
        list(&d.winners),
        list(&again),
    );
    if again == d.winners {
        out.push_str("the replay draws the same winners\n");
        emit(&out)
    } else {
        out.push_str("the replay draws DIFFERENT winners: the record does not match its seed\n");
        emit(&out)?;
        // The report says so.
        Err(CliError::Printed(1))
    }
}
