//! `drumbeat init [--kind service|sales|resource] DIR`

use crate::cli::CliError;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Write a starter playbook for one kind of community.
///
/// The starter is written to DIR/<kind>.yaml (service.yaml, sales.yaml or resource.yaml),
/// so that starters of different kinds can live in one folder; DIR is created if needed.
/// An existing file is never overwritten unless --force is given. The starter validates
/// clean, sends to the console until you add a real channel, and is commented in Chinese
/// and English. Its first line points editors at playbook.schema.json in the same folder;
/// the printed next steps show how to write that file.
///
/// Example: drumbeat init --kind sales playbooks/
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The kind of community.
    #[arg(long, value_enum, default_value_t = Kind::Service)]
    pub kind: Kind,
    /// Replace the starter file if it already exists.
    #[arg(long)]
    pub force: bool,
    /// The folder to write the starter into (created if missing).
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Check-in camps, study groups, member care: a daily rhythm, points, recall.
    Service,
    /// A group that lives a few days to sell: warm-up, offer, close.
    Sales,
    /// Resource exchange: weekly matchmaking, referral points, badges.
    Resource,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Service => "service",
            Kind::Sales => "sales",
            Kind::Resource => "resource",
        }
    }

    /// The starter's text, embedded in the binary.
    pub fn starter(self) -> &'static str {
        match self {
            Kind::Service => include_str!("starters/service.yaml"),
            Kind::Sales => include_str!("starters/sales.yaml"),
            Kind::Resource => include_str!("starters/resource.yaml"),
        }
    }

    /// The first day of the starter's `runs`, where it has one: its plan starts there.
    fn first_day(self) -> Option<&'static str> {
        match self {
            Kind::Sales => Some("2027-01-04"),
            Kind::Service | Kind::Resource => None,
        }
    }

    /// The file name the starter is written to inside DIR.
    pub fn file_name(self) -> String {
        format!("{}.yaml", self.name())
    }
}

pub fn run(args: Args) -> Result<(), CliError> {
    let path = args.dir.join(args.kind.file_name());
    std::fs::create_dir_all(&args.dir)
        .map_err(|e| CliError::Failed(format!("cannot create {}: {e}", args.dir.display())))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if args.force {
        options.create(true).truncate(true);
    } else {
        // create_new checks and creates in one step, so a file appearing in between is
        // still never overwritten.
        options.create_new(true);
    }
    let written = options
        .open(&path)
        .and_then(|mut f| f.write_all(args.kind.starter().as_bytes()));
    written.map_err(|e| {
        CliError::Failed(if e.kind() == std::io::ErrorKind::AlreadyExists {
            format!(
                "{} already exists; nothing was written\n  = help: pass --force to replace it, or choose another folder",
                path.display()
            )
        } else {
            format!("cannot write {}: {e}", path.display())
        })
    })?;
    crate::cli::common::emit(&next_steps(args.kind, &args.dir, &path))
}

/// What was written and the commands to run next.
fn next_steps(kind: Kind, dir: &Path, path: &Path) -> String {
    let file = shell_word(&path.display().to_string());
    let schema = shell_word(&dir.join("playbook.schema.json").display().to_string());
    let steps = [
        (format!("drumbeat validate {file}"), "check it"),
        (
            format!("drumbeat render {file} welcome"),
            "preview a message",
        ),
        (
            match kind.first_day() {
                Some(day) => format!("drumbeat plan {file} --from {day} --days 7"),
                None => format!("drumbeat plan {file} --days 7"),
            },
            "what is sent when",
        ),
        (
            format!("drumbeat schema > {schema}"),
            "field completion in editors",
        ),
    ];
    // Line the comments up.
    let width = steps
        .iter()
        .map(|(c, _)| c.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = format!(
        "wrote {file} (a {} community starter)\n\nnext steps:\n",
        kind.name()
    );
    for (command, why) in steps {
        let pad = width - command.chars().count();
        out.push_str(&format!("  {command}{:pad$}  # {why}\n", ""));
    }
    out
}

/// A path as it can be pasted into a POSIX shell: quoted only when it needs to be.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| !c.is_ascii() || c.is_ascii_alphanumeric() || "-_./:+,@%=".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_hint_starts_where_the_starter_runs() {
        for kind in [Kind::Service, Kind::Sales, Kind::Resource] {
            let runs = kind
                .starter()
                .lines()
                .find(|l| l.trim_start().starts_with("runs:"));
            match kind.first_day() {
                Some(day) => assert!(
                    runs.is_some_and(|l| l.contains(&format!("from: {day}"))),
                    "{kind:?}: {runs:?}"
                ),
                None => assert_eq!(runs, None, "{kind:?}"),
            }
        }
    }

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("playbooks/sales.yaml"), "playbooks/sales.yaml");
        assert_eq!(shell_word("社群/sales.yaml"), "社群/sales.yaml");
        assert_eq!(shell_word("my camp/sales.yaml"), "'my camp/sales.yaml'");
        assert_eq!(shell_word("it's/a.yaml"), r"'it'\''s/a.yaml'");
        assert_eq!(shell_word("$HOME/a.yaml"), "'$HOME/a.yaml'");
    }
}
