//! What the runtime runs: every loaded community with its channels built, ready to plan
//! from and to compose messages for. Built once from validated playbooks (never
//! re-validated), and again, community by community, when a file changes.

use crate::channel::{self, BuildError, Channel, ConsoleSink, Options};
use crate::compile::{Program, compile};
use crate::diag::{Diagnostic, Severity, render};
use crate::plan::slot_values;
use crate::plan::{Fire, Source};
use crate::playbook::types::RateLimit;
use crate::playbook::{Loaded, Playbook, load_paths};
use crate::store::KeptPlaybook;
use crate::template::{Engine, Place, RenderError};
use crate::validate;
use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One community, ready to run.
#[derive(Debug)]
pub struct Community {
    /// The playbook, compiled: what validated is what runs.
    pub program: Program,
    /// The file it was loaded from.
    pub path: PathBuf,
    /// Its channels by id, built with their secrets resolved.
    pub routes: IndexMap<String, Route>,
    /// A digest of the source text it was built from: a reload that finds the same text
    /// keeps the running version. The text itself is not kept (ten thousand playbooks
    /// would hold megabytes of it); the store keeps it for the member commands.
    pub digest: u64,
}

/// A built channel and the pace it is sent at.
#[derive(Debug, Clone)]
pub struct Route {
    pub channel: Arc<dyn Channel>,
    /// `None`: not paced (console, file, exec, webhook unless the playbook says).
    pub limit: Option<RateLimit>,
    pub burst: Option<u32>,
}

impl Community {
    pub fn new(
        program: Program,
        path: PathBuf,
        routes: IndexMap<String, Route>,
        digest: u64,
    ) -> Community {
        Community {
            program,
            path,
            routes,
            digest,
        }
    }

    pub fn playbook(&self) -> &Playbook {
        self.program.playbook()
    }

    /// The compiled templates (compiled the first time a message needs them).
    pub fn engine(&self) -> &Engine {
        self.program.engine()
    }

    pub fn id(&self) -> &str {
        self.program.id()
    }

    /// The text a fire sends: its template rendered at the fire's instant with the values
    /// of its slot or lottery; for an assisted channel, wrapped as a to-do for a person.
    /// The lottery `id`, if the playbook has it.
    pub fn lottery(&self, id: &str) -> Option<&crate::playbook::model::Lottery> {
        self.playbook()
            .rewards
            .lotteries
            .iter()
            .find(|l| l.id.value.as_str() == id)
    }

    /// `winners` are a lottery's drawn winners (`{id, name}` objects).
    pub fn compose(
        &self,
        engine: &Engine,
        fire: &Fire<'_>,
        winners: Option<&[serde_json::Value]>,
    ) -> Result<String, RenderError> {
        let mut ctx = engine.context(fire.at);
        match fire.source {
            Source::Lottery { lottery } => {
                let prize = self
                    .lottery(lottery)
                    .map(|l| l.prize.clone())
                    .unwrap_or_default();
                let winners: Vec<serde_json::Value> = winners.unwrap_or_default().to_vec();
                ctx.set("winners", &winners);
                ctx.set("prize", &prize);
                ctx.set(
                    "lottery",
                    serde_json::json!({"id": lottery, "prize": prize, "winners": winners}),
                );
            }
            source => {
                let place = Place::Slot {
                    slot: source.id().to_string(),
                    topics: fire.topic.is_some(),
                    phase: matches!(source, Source::Phase { .. }),
                };
                slot_values(&self.program, &place, fire.at, &mut ctx);
                if let Some(topic) = fire.topic {
                    ctx.set("topic", topic);
                }
            }
        }
        let text = engine.render(fire.template, &ctx)?;
        Ok(match fire.assist {
            Some(_) => self.to_do(fire, &text),
            None => text,
        })
    }

    /// The to-do a person gets for an assisted channel: what to post, where, by when, and
    /// how to confirm.
    fn to_do(&self, fire: &Fire<'_>, text: &str) -> String {
        self.to_do_for(
            fire.channel,
            fire.at,
            fire.grace.to_chrono(),
            &fire.key(),
            text,
        )
    }

    /// The to-do for a message of `channel` due at `due`, keyed `key`.
    pub fn to_do_for(
        &self,
        channel: &str,
        due: DateTime<Utc>,
        grace: chrono::TimeDelta,
        key: &str,
        text: &str,
    ) -> String {
        let p = self.playbook();
        let local = |t: DateTime<Utc>| t.with_timezone(&p.community.timezone);
        let at = local(due).format("%m-%d %H:%M");
        let end = local(due + grace);
        // The date too when the deadline falls on another day.
        let latest = if end.date_naive() == local(due).date_naive() {
            end.format("%H:%M").to_string()
        } else {
            end.format("%m-%d %H:%M").to_string()
        };
        if p.community.locale.starts_with("zh") {
            format!(
                "【待发布】请在 {at}（最迟 {latest}）到「{}」的 {channel} 手动发布以下内容：\n\n{text}\n\n发布后请确认（assist_done，fire: {key}）。",
                p.community.name
            )
        } else {
            format!(
                "[To post] Please post this in {channel} of \"{}\" at {at} (by {latest} at the latest):\n\n{text}\n\nThen confirm it (assist_done, fire: {key}).",
                p.community.name
            )
        }
    }

    /// The channel that delivers for `channel`: its `assist` channel when it has one.
    pub fn assist_of(&self, channel: &str) -> Option<&str> {
        self.playbook()
            .channels
            .iter()
            .find(|(k, _)| k.as_str() == channel)
            .and_then(|(_, c)| c.assist.as_ref())
            .map(|a| a.value.as_str())
    }
}

/// Where `${NAME}` is read from.
pub type Env = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// How the runtime builds channels.
#[derive(Clone)]
pub struct Build {
    pub options: Options,
    /// Reads `${NAME}`; the process environment in `drumbeat run`.
    pub env: Env,
    /// `--dry-run`: every channel is the console.
    pub dry_run: Option<ConsoleSink>,
}

/// What loading a set of paths gave.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Communities whose file is valid and whose channels built.
    pub communities: Vec<Community>,
    /// Their playbooks' texts, to keep in the store (the communities keep only a digest).
    pub kept: Vec<KeptPlaybook>,
    /// Files refused, each with why.
    pub refused: BTreeMap<PathBuf, Refusal>,
}

/// Why a file was not loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The diagnostics or channel errors, as text.
    pub report: String,
    /// The playbook is valid but a channel could not be built (a `${NAME}` missing from the
    /// environment, a bad address).
    pub channels: bool,
}

/// Loads, validates and builds every playbook under `paths`. A file with errors is
/// refused whole; the others still load.
pub fn load(paths: &[PathBuf], build: &Build) -> Outcome {
    let mut loaded: Loaded = load_paths(paths);
    validate::check(&loaded.playbooks, &mut loaded.diagnostics);
    loaded.diagnostics.sort();
    let diags = loaded.diagnostics.into_vec();
    let mut out = Outcome::default();
    let mut bad: BTreeSet<PathBuf> = BTreeSet::new();
    let mut reports: BTreeMap<PathBuf, Vec<Diagnostic>> = BTreeMap::new();
    for d in diags {
        if d.severity != Severity::Error {
            continue;
        }
        let path = match (&d.span, &d.path) {
            (Some(span), _) => loaded.sources.path(span.file).to_path_buf(),
            (None, Some(p)) => p.clone(),
            (None, None) => PathBuf::from("(input)"),
        };
        bad.insert(path.clone());
        reports.entry(path).or_default().push(d);
    }
    for (path, ds) in reports {
        let report = render::human(&loaded.sources, &ds).trim_end().to_string();
        out.refused.insert(
            path,
            Refusal {
                report,
                channels: false,
            },
        );
    }
    for p in loaded.playbooks {
        let path = loaded.sources.path(p.span.file).to_path_buf();
        if bad.contains(&path) {
            continue;
        }
        let text = loaded.sources.get(p.span.file).text.as_ref();
        let digest = digest(text);
        let kept = KeptPlaybook {
            community: p.community.id.value.to_string(),
            path: path.display().to_string(),
            source: text.to_string(),
        };
        // Validation passed, so compiling does too; were the two ever to disagree, the
        // file is refused with what did not compile rather than run half-resolved.
        let program = match compile(p, &loaded.sources) {
            Ok(program) => program,
            Err(diags) => {
                let report = render::human(&loaded.sources, &diags.into_vec())
                    .trim_end()
                    .to_string();
                out.refused.insert(
                    path,
                    Refusal {
                        report,
                        channels: false,
                    },
                );
                continue;
            }
        };
        match routes(program.playbook(), build) {
            Ok(routes) => {
                out.communities
                    .push(Community::new(program, path, routes, digest));
                out.kept.push(kept);
            }
            Err(errors) => {
                let report = errors
                    .iter()
                    .map(|e| format!("error: {e}"))
                    .collect::<Vec<_>>()
                    .join("\n");
                out.refused.insert(
                    path,
                    Refusal {
                        report,
                        channels: true,
                    },
                );
            }
        }
    }
    out
}

/// A digest of a playbook's text, to tell an unchanged file on reload.
fn digest(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// Builds every channel of a playbook, with the pace each is sent at.
fn routes(p: &Playbook, build: &Build) -> Result<IndexMap<String, Route>, Vec<BuildError>> {
    let built = match &build.dry_run {
        Some(sink) => p
            .channels
            .keys()
            .map(|id| (id.as_str().to_string(), channel::console(sink.clone())))
            .collect(),
        None => channel::build_all(p, &*build.env, &build.options)?,
    };
    Ok(built
        .into_iter()
        .map(|(id, ch)| {
            let decl = p
                .channels
                .iter()
                .find(|(k, _)| k.as_str() == id)
                .map(|(_, c)| c);
            let (limit, burst) = match (&build.dry_run, decl) {
                (None, Some(decl)) => (
                    channel::rate_limit_of(decl),
                    channel::default_burst(&decl.kind),
                ),
                _ => (None, None),
            };
            (
                id,
                Route {
                    channel: ch,
                    limit,
                    burst,
                },
            )
        })
        .collect())
}

/// Whether a path names the same file as another (as given, or resolved).
pub fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || match (a.canonicalize(), b.canonicalize()) {
            (Ok(x), Ok(y)) => x == y,
            _ => false,
        }
}
