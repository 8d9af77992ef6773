//! `drumbeat leaderboard [--top N]`

use crate::cli::CliError;
use crate::cli::common::emit;
use crate::cli::roster::{Format, Roster};
use crate::diag::visible;
use crate::plan::format::columns;
use crate::rules::{Status, tier_of};
use crate::store::{DEFAULT_URL, Store};
use serde_json::json;

/// Members ranked by points, per community (members who left are not ranked).
///
/// Example:
///   drumbeat leaderboard --top 10
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// How many to show per community.
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    #[arg(long, default_value = DEFAULT_URL)]
    pub store: String,
    #[arg(long)]
    pub community: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

pub fn run<S: Store>(args: Args) -> Result<(), CliError> {
    let roster = Roster::<S>::open(&args.store, args.community.as_deref())?;
    let mut out = String::new();
    let mut boards = Vec::new();
    for p in roster.playbooks() {
        let id = p.community.id.value.as_str();
        let (balances, members) = roster.rt.block_on(async {
            Ok::<_, crate::store::StoreError>((
                roster.store.balances(id).await?,
                roster.store.members(id).await?,
            ))
        })?;
        let balance = |m: &str| {
            balances
                .iter()
                .find(|b| b.member == m)
                .map_or(0, |b| b.points)
        };
        let mut ranked: Vec<_> = members
            .iter()
            .filter(|m| m.status == Status::Member)
            .map(|m| (balance(&m.id), m))
            .collect();
        // Highest first; ties by id, so the order is stable.
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
        ranked.truncate(args.top);
        let levels = p
            .rewards
            .tiers
            .as_ref()
            .map(|t| t.levels.as_slice())
            .unwrap_or(&[]);
        let mut rows = vec![["RANK", "ID", "NAME", "POINTS", "TIER"].map(String::from)];
        let mut items = Vec::new();
        for (i, (points, m)) in ranked.iter().enumerate() {
            let tier = tier_of(levels, *points).map(|t| t.name.clone());
            let name = m.name.clone().unwrap_or_else(|| m.id.clone());
            rows.push([
                (i + 1).to_string(),
                visible(&m.id).into_owned(),
                visible(&name).into_owned(),
                points.to_string(),
                tier.clone().unwrap_or_else(|| "-".into()),
            ]);
            items.push(
                json!({"rank": i + 1, "id": m.id, "name": name, "points": points, "tier": tier}),
            );
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("{} ({})\n", visible(&p.community.name), id));
        columns(&mut out, &rows);
        boards.push(json!({"community": id, "leaders": items}));
    }
    let written = match args.format {
        Format::Json => emit(&format!(
            "{}\n",
            serde_json::to_string_pretty(&boards).unwrap_or_default()
        )),
        Format::Table => emit(&out),
    };
    roster.rt.block_on(roster.store.close());
    written
}
