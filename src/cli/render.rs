//! `drumbeat render PLAYBOOK TEMPLATE [--at TIME] [--member FILE]`

use crate::cli::CliError;
use crate::cli::common::{load_one, time_option, usage};
use crate::compile::Program;
use crate::diag::suggest;
use crate::plan::slot_values;
use crate::template::{Context, Place, places_of, sample};
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};

/// Print one message exactly as it would be sent
///
/// The message goes to stdout (followed by one line break); notes about sample values go to
/// stderr. The template is rendered for the place that uses it: a slot gets `slot`, its
/// rotated `topic` at --at, and `phase`/`activity` in phase slots; member-facing messages
/// get `member`, `stats` and `segments`, from --member or from sample values.
///
/// --member FILE is a JSON object: either the member itself ({"id": "u-1", "name": "阿杰"})
/// or the values to render with ({"member": {...}, "stats": {...}, "points": 50, ...}).
///
/// Example: drumbeat render playbooks/fitness-camp.yaml lesson --at 2026-12-02T12:00
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The playbook file.
    pub playbook: PathBuf,
    /// The template's name.
    pub template: String,
    /// When the message is sent: RFC 3339, or a local date and time in the community's zone
    /// (default: now).
    #[arg(long)]
    pub at: Option<String>,
    /// A JSON file with the member (and optionally stats and event values).
    #[arg(long)]
    pub member: Option<PathBuf>,
    /// Render as sent by this slot or lottery (when several places use the template).
    #[arg(long)]
    pub slot: Option<String>,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let program = load_one(&args.playbook, "rendered")?;
    let at = time_option(
        "--at",
        args.at.as_deref(),
        program.playbook().community.timezone,
    )?;
    let text = message(
        &program,
        &args.template,
        at,
        args.slot.as_deref(),
        args.member.as_deref(),
    )?;
    crate::cli::common::emit(&format!("{text}\n"))
}

/// Renders template `template` of a valid playbook at `at` for the place that sends it
/// (or the slot/lottery `slot`), with `--member` values or samples (named on stderr).
pub(crate) fn message(
    program: &Program,
    template: &str,
    at: DateTime<Utc>,
    slot: Option<&str>,
    member: Option<&Path>,
) -> Result<String, CliError> {
    let p = program.playbook();
    let engine = program.engine();
    if !engine.has_template(template) {
        let mut msg = format!("the playbook has no template `{template}`");
        if let Some(s) = suggest(template, p.templates.keys().map(|k| k.as_str())) {
            msg.push_str(&format!("; did you mean `{s}`?"));
        }
        return Err(usage(&msg));
    }
    let places: Vec<Place> = places_of(p)
        .into_iter()
        .filter(|(t, _)| *t == template)
        .map(|(_, place)| place)
        .collect();
    let place = match slot {
        Some(id) => match places.iter().find(|pl| place_id(pl) == Some(id)) {
            Some(pl) => Some(pl.clone()),
            None => {
                return Err(usage(&format!(
                    "no slot or lottery `{id}` sends template `{template}`"
                )));
            }
        },
        None => places.first().cloned(),
    };
    let mut ctx = engine.context(at);
    if let Some(file) = member
        && let Err(e) = read_member(file, &mut ctx)
    {
        return Err(usage(&format!("--member {}: {e}", file.display())));
    }
    match &place {
        Some(place) => {
            slot_values(program, place, at, &mut ctx);
            let filled = sample::fill(p, place, &mut ctx);
            if !filled.is_empty() {
                eprintln!(
                    "note: rendered as {} with sample values for {}",
                    place.describe(),
                    filled.join(", ")
                );
            }
        }
        None => eprintln!(
            "note: nothing sends template `{template}`; rendered with community, rules and now only"
        ),
    }
    Ok(engine.render(template, &ctx)?)
}

fn place_id(place: &Place) -> Option<&str> {
    match place {
        Place::Slot { slot, .. } => Some(slot),
        Place::Lottery { lottery } => Some(lottery),
        _ => None,
    }
}

fn read_member(path: &std::path::Path, ctx: &mut Context) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))?;
    let serde_json::Value::Object(map) = value else {
        return Err("expected a JSON object".into());
    };
    if map.contains_key("member") {
        for (k, v) in map {
            // Context names are static: keep the ones a place can have.
            if let Some(name) = CONTEXT_NAMES.iter().find(|n| **n == k) {
                ctx.set(name, v);
            }
        }
    } else {
        ctx.set("member", serde_json::Value::Object(map));
    }
    Ok(())
}

/// Names `--member` may set.
const CONTEXT_NAMES: &[&str] = &[
    "member", "stats", "segments", "unmet", "rule", "penalty", "points", "streak", "tier", "badge",
    "winners", "prize", "lottery",
];
