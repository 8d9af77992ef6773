//! What the member commands share: the store, the playbooks it keeps, members' states.

use crate::cli::CliError;
use crate::cli::common::{open_existing_store, small_runtime, usage};
use crate::compile::{Program, compile};
use crate::diag::render;
use crate::diag::visible;
use crate::playbook::{Loaded, Playbook, load::load_bytes};
use crate::rules::engine::State;
use crate::runtime::intake::rebuild;
use crate::store::Store;
use std::path::Path;

/// The ledger reason of the line that records a member taken off the roster.
pub const REMOVED: &str = "removed";

/// The store and the communities it knows, for commands that read members.
pub struct Roster<S> {
    pub rt: tokio::runtime::Runtime,
    pub store: S,
    /// The playbooks the store keeps, compiled.
    programs: Vec<Program>,
}

impl<S: Store> Roster<S> {
    /// Opens the store at `url` (which must exist) and reads the playbooks it keeps. With
    /// `community`, only that one.
    pub fn open(url: &str, community: Option<&str>) -> Result<Roster<S>, CliError> {
        let rt = small_runtime()?;
        let store = open_existing_store::<S>(&rt, url)?;
        let kept = rt.block_on(store.playbooks())?;
        let mut programs = Vec::new();
        for kept in kept {
            if community.is_some_and(|c| c != kept.community) {
                continue;
            }
            let mut loaded = Loaded::default();
            load_bytes(&mut loaded, Path::new(&kept.path), kept.source.into_bytes());
            crate::validate::check(&loaded.playbooks, &mut loaded.diagnostics);
            let refused = |diags: Vec<crate::diag::Diagnostic>| {
                eprint!("{}", render::human(&loaded.sources, &diags));
                CliError::Failed(format!(
                    "the playbook of `{}` kept in the store does not validate with this drumbeat: run `drumbeat run` with its fixed file",
                    kept.community
                ))
            };
            if loaded.diagnostics.has_errors() {
                let diags = std::mem::take(&mut loaded.diagnostics).into_vec();
                return Err(refused(diags));
            }
            for p in std::mem::take(&mut loaded.playbooks) {
                programs.push(compile(p, &loaded.sources).map_err(|d| refused(d.into_vec()))?);
            }
        }
        if let Some(c) = community
            && programs.is_empty()
        {
            return Err(usage(&format!("the store knows no community `{c}`")));
        }
        Ok(Roster {
            rt,
            store,
            programs,
        })
    }

    /// The playbooks the store keeps (only the one asked for, with `--community`).
    pub fn playbooks(&self) -> Vec<&Playbook> {
        self.programs.iter().map(Program::playbook).collect()
    }

    /// The community a member belongs to: the one given, else the only one that knows them.
    /// A member taken off the roster is not found, and the error says when they were
    /// removed and that their ledger is kept.
    pub fn find(&self, member: &str) -> Result<&Playbook, CliError> {
        self.find_in(member, false)
    }

    /// Like [`Roster::find`], but also finds a member taken off the roster: their ledger
    /// is kept and still read.
    pub fn find_kept(&self, member: &str) -> Result<&Playbook, CliError> {
        self.find_in(member, true)
    }

    fn find_in(&self, member: &str, removed_too: bool) -> Result<&Playbook, CliError> {
        let mut found = Vec::new();
        for p in self.playbooks() {
            let known = self
                .rt
                .block_on(self.store.member(p.community.id.value.as_str(), member))?;
            if known.is_some() {
                found.push(p);
            }
        }
        let shown = visible(member);
        if found.is_empty() {
            // The line that records a removal, per community that removed them.
            let mut removals = Vec::new();
            for p in self.playbooks() {
                let id = p.community.id.value.as_str();
                let lines = self.rt.block_on(self.store.ledger(id, member))?;
                if let Some(l) = lines.iter().rev().find(|l| l.reason == REMOVED) {
                    removals.push((p, l.at.with_timezone(&p.community.timezone)));
                }
            }
            match removals.as_slice() {
                [(p, _)] if removed_too => return Ok(p),
                [(p, at)] => {
                    let id = p.community.id.value.as_str();
                    return Err(usage(&format!(
                        "`{shown}` was removed from `{id}` on {} (drumbeat members remove); \
                         their ledger and offences are kept: drumbeat ledger {shown} --community {id}",
                        at.format("%Y-%m-%d %H:%M")
                    )));
                }
                _ => found.extend(removals.iter().map(|(p, _)| *p)),
            }
        }
        match found.as_slice() {
            [p] => Ok(p),
            [] => Err(usage(&format!("no member `{shown}` in the store"))),
            _ => Err(usage(&format!(
                "member `{shown}` is in several communities ({}): give --community",
                found
                    .iter()
                    .map(|p| p.community.id.value.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// A member's state, rebuilt from their events and ledger.
    pub fn state(&self, p: &Playbook, member: &str) -> Result<State, CliError> {
        let program = self
            .programs
            .iter()
            .find(|x| std::ptr::eq(x.playbook(), p))
            .expect("a playbook of this roster");
        Ok(self.rt.block_on(rebuild(&self.store, program, member))?)
    }

    /// Every member of a community with their state, by id.
    pub fn states(&self, p: &Playbook) -> Result<Vec<State>, CliError> {
        let rows = self
            .rt
            .block_on(self.store.members(p.community.id.value.as_str()))?;
        rows.iter().map(|m| self.state(p, &m.id)).collect()
    }
}

/// Output formats of the member commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}
