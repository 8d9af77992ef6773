//! What the member commands share: the store, the playbooks it keeps, members' states.

use crate::cli::common::{open_existing_store, small_runtime, usage};
use crate::playbook::{Loaded, Playbook, load::load_bytes};
use crate::rules::engine::State;
use crate::runtime::intake::rebuild;
use crate::store::{AnyStore, Store};
use crate::template::Engine;
use std::path::Path;
use std::process::ExitCode;

/// The store and the communities it knows, for commands that read members.
pub struct Roster {
    pub rt: tokio::runtime::Runtime,
    pub store: AnyStore,
    pub playbooks: Vec<Playbook>,
    /// Each playbook's templates, in the same order.
    engines: Vec<Engine>,
}

impl Roster {
    /// Opens the store at `url` (which must exist) and reads the playbooks it keeps. With
    /// `community`, only that one.
    pub fn open(url: &str, community: Option<&str>) -> Result<Roster, ExitCode> {
        let rt = small_runtime()?;
        let store = open_existing_store(&rt, url)?;
        let kept = rt.block_on(store.playbooks()).map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::from(1)
        })?;
        let mut playbooks = Vec::new();
        for (id, path, source) in kept {
            if community.is_some_and(|c| c != id) {
                continue;
            }
            let mut loaded = Loaded::default();
            load_bytes(&mut loaded, Path::new(&path), source.into_bytes());
            playbooks.extend(loaded.playbooks);
        }
        if let Some(c) = community
            && playbooks.is_empty()
        {
            return Err(usage(&format!("the store knows no community `{c}`")));
        }
        let mut engines = Vec::new();
        for p in &playbooks {
            engines.push(Engine::new(p).map_err(|e| {
                eprintln!("error: {e}");
                ExitCode::from(1)
            })?);
        }
        Ok(Roster {
            rt,
            store,
            playbooks,
            engines,
        })
    }

    /// The community a member belongs to: the one given, else the only one that knows them.
    pub fn find(&self, member: &str) -> Result<&Playbook, ExitCode> {
        let mut found = Vec::new();
        for p in &self.playbooks {
            let known = self
                .rt
                .block_on(self.store.member(p.community.id.value.as_str(), member))
                .map_err(|e| {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                })?;
            if known.is_some() {
                found.push(p);
            }
        }
        match found.as_slice() {
            [p] => Ok(p),
            [] => Err(usage(&format!("no member `{member}` in the store"))),
            _ => Err(usage(&format!(
                "member `{member}` is in several communities ({}): give --community",
                found
                    .iter()
                    .map(|p| p.community.id.value.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// A member's state, rebuilt from their events and ledger.
    pub fn state(&self, p: &Playbook, member: &str) -> Result<State, ExitCode> {
        let i = self
            .playbooks
            .iter()
            .position(|x| std::ptr::eq(x, p))
            .expect("a playbook of this roster");
        self.rt
            .block_on(rebuild(&self.store, p, &self.engines[i], member))
            .map_err(|e| {
                eprintln!("error: {e}");
                ExitCode::from(1)
            })
    }

    /// Every member of a community with their state, by id.
    pub fn states(&self, p: &Playbook) -> Result<Vec<State>, ExitCode> {
        let rows = self
            .rt
            .block_on(self.store.members(p.community.id.value.as_str()))
            .map_err(|e| {
                eprintln!("error: {e}");
                ExitCode::from(1)
            })?;
        rows.iter().map(|m| self.state(p, &m.id)).collect()
    }
}

/// Output formats of the member commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}
