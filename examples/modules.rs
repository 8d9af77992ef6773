//! Prints the graph of drumbeat's top-level modules and checks its layering:
//!
//! ```sh
//! cargo run --example modules
//! ```
//!
//! A module is a file `src/NAME.rs` or a folder `src/NAME/`. It depends on another when one
//! of its files names it, as `crate::NAME` (also inside `crate::{..}`) or through enough
//! `super::` to reach the crate's root; comments and string literals name nothing. Tests
//! inside `src/` count like any other code.
//!
//! It exits with 1 when the graph has a cycle, or when a module of the pure core names a
//! module outside the core or one of the runtime's crates (tokio, sqlx, reqwest, axum,
//! hyper, notify). tests/layers.rs runs the same check, so `cargo test` fails too. Plain
//! std only: it must run wherever the crate builds.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// The modules that take values and return values: no clock, network or store.
pub const CORE: &[&str] = &[
    "source", "parallel", "diag", "playbook", "validate", "template", "schedule", "plan", "rules",
    "events", "compile", "policy", "roll",
];

/// Crates that do I/O, which the core must not name.
pub const RUNTIME_CRATES: &[&str] = &["tokio", "sqlx", "reqwest", "axum", "hyper", "notify"];

/// Where a file names something: path and 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub file: PathBuf,
    pub line: usize,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// The modules of a `src/` folder and what each names.
#[derive(Debug, Default)]
pub struct Graph {
    /// Every top-level module, with the modules it names and the first place it names each.
    pub edges: BTreeMap<String, BTreeMap<String, Place>>,
    /// Runtime crates named, by module: the crate and the first place.
    pub crates: BTreeMap<String, BTreeMap<String, Place>>,
}

/// What breaks the layering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Modules that depend on each other, in order: the last depends on the first. Each
    /// with the place it names the next.
    Cycle(Vec<(String, Place)>),
    /// A core module names a module outside the core.
    CoreNamesModule {
        module: String,
        names: String,
        at: Place,
    },
    /// A core module names a runtime crate.
    CoreNamesCrate {
        module: String,
        names: String,
        at: Place,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Cycle(steps) => {
                let names: Vec<&str> = steps.iter().map(|(m, _)| m.as_str()).collect();
                write!(f, "cycle: {} -> {}", names.join(" -> "), names[0])?;
                for (i, (m, at)) in steps.iter().enumerate() {
                    let next = &steps[(i + 1) % steps.len()].0;
                    write!(f, "\n  {m} -> {next} at {at}")?;
                }
                Ok(())
            }
            Problem::CoreNamesModule { module, names, at } => write!(
                f,
                "core module `{module}` names `{names}`, which is not in the core, at {at}"
            ),
            Problem::CoreNamesCrate { module, names, at } => write!(
                f,
                "core module `{module}` names the runtime crate `{names}` at {at}"
            ),
        }
    }
}

impl Graph {
    /// Reads every `.rs` file under `src` (the crate roots `lib.rs` and `main.rs` aside).
    pub fn read(src: &Path) -> std::io::Result<Graph> {
        let mut files = Vec::new();
        collect(src, &mut files)?;
        files.sort();
        let mut graph = Graph::default();
        for file in &files {
            let rel = file.strip_prefix(src).expect("under src");
            let Some(path) = module_path(rel) else {
                continue;
            };
            graph.edges.entry(path[0].clone()).or_default();
        }
        for file in &files {
            let rel = file.strip_prefix(src).expect("under src");
            let Some(path) = module_path(rel) else {
                continue;
            };
            let text = std::fs::read_to_string(file)?;
            let shown = Path::new("src").join(rel);
            graph.scan(&path, &shown, &text);
        }
        Ok(graph)
    }

    /// Records what one file names. `path` is the file's module path (`["rules", "points"]`).
    fn scan(&mut self, path: &[String], file: &Path, text: &str) {
        let module = &path[0];
        let tokens = tokens(text);
        let at = |line| Place {
            file: file.to_path_buf(),
            line,
        };
        // Depths of the braces that close inline `mod name { .. }` blocks.
        let mut inline: Vec<usize> = Vec::new();
        let mut braces = 0usize;
        let mut named: Vec<(String, usize)> = Vec::new();
        let mut crates: Vec<(String, usize)> = Vec::new();
        for i in 0..tokens.len() {
            let after_sep = i > 0 && matches!(tokens[i - 1].kind, Kind::PathSep | Kind::Dot);
            match &tokens[i].kind {
                Kind::Open => braces += 1,
                Kind::Close => {
                    if inline.last() == Some(&braces) {
                        inline.pop();
                    }
                    braces = braces.saturating_sub(1);
                }
                Kind::Ident(w)
                    if w == "mod"
                        && matches!(tokens.get(i + 1).map(|t| &t.kind), Some(Kind::Ident(_)))
                        && matches!(tokens.get(i + 2).map(|t| &t.kind), Some(Kind::Open)) =>
                {
                    inline.push(braces + 1);
                }
                Kind::Ident(w)
                    if w == "crate" && !after_sep && is(&tokens, i + 1, &Kind::PathSep) =>
                {
                    named.extend(heads(&tokens, i + 2));
                }
                Kind::Ident(w) if w == "super" && !after_sep => {
                    let mut n = 0;
                    let mut j = i;
                    while is_ident(&tokens, j, "super") && is(&tokens, j + 1, &Kind::PathSep) {
                        n += 1;
                        j += 2;
                    }
                    // Reaching the crate's root names a top-level module.
                    if n > 0 && path.len() + inline.len() == n {
                        named.extend(heads(&tokens, j));
                    }
                }
                Kind::Ident(w)
                    if !after_sep
                        && RUNTIME_CRATES.contains(&w.as_str())
                        && (is(&tokens, i + 1, &Kind::PathSep)
                            || i > 0 && is_ident(&tokens, i - 1, "use")) =>
                {
                    crates.push((w.clone(), tokens[i].line));
                }
                _ => {}
            }
        }
        for (name, line) in named {
            if &name != module && self.edges.contains_key(&name) {
                let edges = self
                    .edges
                    .get_mut(module)
                    .expect("every module has an entry");
                edges.entry(name).or_insert_with(|| at(line));
            }
        }
        for (name, line) in crates {
            let entry = self.crates.entry(module.clone()).or_default();
            entry.entry(name).or_insert_with(|| at(line));
        }
    }

    /// Every cycle (one per strongly connected group of modules), and every module of the
    /// core that names what the core must not.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems: Vec<Problem> = self.cycles().into_iter().map(Problem::Cycle).collect();
        for (module, names) in &self.edges {
            if !CORE.contains(&module.as_str()) {
                continue;
            }
            for (name, at) in names {
                if !CORE.contains(&name.as_str()) {
                    problems.push(Problem::CoreNamesModule {
                        module: module.clone(),
                        names: name.clone(),
                        at: at.clone(),
                    });
                }
            }
            for (name, at) in self.crates.get(module).into_iter().flatten() {
                problems.push(Problem::CoreNamesCrate {
                    module: module.clone(),
                    names: name.clone(),
                    at: at.clone(),
                });
            }
        }
        problems
    }

    /// One cycle through each group of modules that reach each other: from the group's
    /// first module (by name), the shortest way back to it.
    fn cycles(&self) -> Vec<Vec<(String, Place)>> {
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut cycles = Vec::new();
        for start in self.edges.keys() {
            if seen.contains(start.as_str()) {
                continue;
            }
            let Some(way) = self.shortest_way(start, start) else {
                continue;
            };
            // Everything on a cycle through `start` shares its group; mark the whole group.
            for m in self.edges.keys() {
                if self.reaches(start, m) && self.reaches(m, start) {
                    seen.insert(m);
                }
            }
            cycles.push(way);
        }
        cycles
    }

    fn reaches(&self, from: &str, to: &str) -> bool {
        from == to || self.shortest_way(from, to).is_some()
    }

    /// The shortest chain of edges from `from` to `to` (at least one edge), breadth first
    /// in name order, so the answer is stable.
    fn shortest_way(&self, from: &str, to: &str) -> Option<Vec<(String, Place)>> {
        let mut back: BTreeMap<&str, (&str, &Place)> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([from]);
        while let Some(m) = queue.pop_front() {
            for (next, at) in self.edges.get(m).into_iter().flatten() {
                if back.contains_key(next.as_str()) {
                    continue;
                }
                back.insert(next, (m, at));
                if next == to {
                    let mut way = Vec::new();
                    let mut cur = to;
                    loop {
                        let (prev, at) = back[cur];
                        way.push((prev.to_string(), at.clone()));
                        cur = prev;
                        if cur == from {
                            break;
                        }
                    }
                    way.reverse();
                    return Some(way);
                }
                queue.push_back(next);
            }
        }
        None
    }

    /// Modules by layer, bottom first: a module's layer is one above the highest it names
    /// (0 for those that name none). Only meaningful without cycles.
    pub fn layers(&self) -> Vec<Vec<&str>> {
        let mut layer: BTreeMap<&str, usize> = BTreeMap::new();
        // Longest chain below each module; the graph is small, so repeat until it settles
        // (at most one round per module, since there is no cycle).
        for _ in 0..=self.edges.len() {
            for (m, names) in &self.edges {
                let l = names
                    .keys()
                    .map(|n| layer.get(n.as_str()).map_or(1, |l| l + 1))
                    .max()
                    .unwrap_or(0);
                layer.insert(m, l);
            }
        }
        let mut out: Vec<Vec<&str>> = Vec::new();
        for (m, l) in layer {
            if out.len() <= l {
                out.resize(l + 1, Vec::new());
            }
            out[l].push(m);
        }
        out
    }
}

impl fmt::Display for Graph {
    /// One line per module, `a -> b, c`, modules and what they name in name order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (m, names) in &self.edges {
            let names: Vec<&str> = names.keys().map(String::as_str).collect();
            if names.is_empty() {
                writeln!(f, "{m} ->")?;
            } else {
                writeln!(f, "{m} -> {}", names.join(", "))?;
            }
        }
        Ok(())
    }
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    Ok(())
}

/// The module path of a file relative to `src/`: `rules/points/tests.rs` is
/// `rules::points::tests`, `store/mod.rs` is `store`. `None` for the crate roots.
fn module_path(rel: &Path) -> Option<Vec<String>> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop()?;
    let stem = last.strip_suffix(".rs")?;
    if parts.is_empty() && (stem == "lib" || stem == "main") {
        return None;
    }
    if stem != "mod" {
        parts.push(stem.to_string());
    }
    (!parts.is_empty()).then_some(parts)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Ident(String),
    /// `::`
    PathSep,
    Dot,
    Open,
    Close,
    Comma,
    Other,
}

#[derive(Debug)]
struct Token {
    kind: Kind,
    line: usize,
}

fn is(tokens: &[Token], i: usize, kind: &Kind) -> bool {
    tokens.get(i).is_some_and(|t| &t.kind == kind)
}

fn is_ident(tokens: &[Token], i: usize, word: &str) -> bool {
    matches!(tokens.get(i).map(|t| &t.kind), Some(Kind::Ident(w)) if w == word)
}

/// The first names of a path's rest from `i`: `name` of `name::..`, or each item's first
/// name in `{a::x, b}`. A glob names nothing.
fn heads(tokens: &[Token], i: usize) -> Vec<(String, usize)> {
    match tokens.get(i).map(|t| &t.kind) {
        Some(Kind::Ident(name)) => vec![(name.clone(), tokens[i].line)],
        Some(Kind::Open) => {
            let mut out = Vec::new();
            let mut depth = 0;
            let mut item_start = true;
            for t in &tokens[i..] {
                match &t.kind {
                    Kind::Open => {
                        depth += 1;
                        item_start = depth == 1;
                        continue;
                    }
                    Kind::Close => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    Kind::Comma if depth == 1 => {
                        item_start = true;
                        continue;
                    }
                    Kind::Ident(name) if item_start && depth == 1 => {
                        out.push((name.clone(), t.line))
                    }
                    _ => {}
                }
                item_start = false;
            }
            out
        }
        _ => Vec::new(),
    }
}

/// Rust source as the tokens this check reads: names, `::`, `.`, braces and commas, each
/// with its line. Comments, string and character literals and lifetimes are skipped.
fn tokens(text: &str) -> Vec<Token> {
    let c: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    // Skips to just after the end of a quoted literal that started before `i`.
    let skip_quoted = |mut i: usize, quote: char, line: &mut usize| {
        while i < c.len() && c[i] != quote {
            if c[i] == '\\' {
                i += 1;
            }
            if c.get(i) == Some(&'\n') {
                *line += 1;
            }
            i += 1;
        }
        i + 1
    };
    while i < c.len() {
        let ch = c[i];
        let next = c.get(i + 1).copied();
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && next == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if c[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if ch == '"' {
            i = skip_quoted(i + 1, '"', &mut line);
        } else if ch == '\'' {
            if next == Some('\\') {
                i = skip_quoted(i + 1, '\'', &mut line);
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                // A lifetime or a label: its name follows as an ordinary word.
                i += 1;
            }
        } else if ch.is_alphanumeric() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            let raw = matches!(word.as_str(), "r" | "br" | "cr");
            let hashes = c[i..].iter().take_while(|&&h| h == '#').count();
            if raw && c.get(i + hashes) == Some(&'"') {
                // r"..", r#".."#: ends at the quote followed by as many hashes.
                i += hashes + 1;
                while i < c.len() {
                    if c[i] == '"' && (1..=hashes).all(|h| c.get(i + h) == Some(&'#')) {
                        i += 1 + hashes;
                        break;
                    }
                    if c[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            } else if matches!(word.as_str(), "b" | "c") && c.get(i) == Some(&'"') {
                i = skip_quoted(i + 1, '"', &mut line);
            } else if word == "b" && c.get(i) == Some(&'\'') {
                i = skip_quoted(i + 1, '\'', &mut line);
            } else if word == "r" && hashes == 1 {
                // `r#name`, a raw identifier: the name follows as an ordinary word.
                i += 1;
            } else {
                out.push(Token {
                    kind: Kind::Ident(word),
                    line,
                });
            }
        } else {
            let kind = match ch {
                ':' if next == Some(':') => {
                    i += 1;
                    Kind::PathSep
                }
                '.' => Kind::Dot,
                '{' => Kind::Open,
                '}' => Kind::Close,
                ',' => Kind::Comma,
                _ => Kind::Other,
            };
            out.push(Token { kind, line });
            i += 1;
        }
    }
    out
}

// Also compiled into tests/layers.rs, where nothing calls it.
#[cfg_attr(test, allow(dead_code))]
fn main() -> std::process::ExitCode {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = match Graph::read(&src) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", src.display());
            return std::process::ExitCode::from(2);
        }
    };
    print!("{graph}");
    let problems = graph.problems();
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("error: {p}");
        }
        return std::process::ExitCode::FAILURE;
    }
    println!();
    println!("layers, bottom first:");
    for (i, modules) in graph.layers().iter().enumerate() {
        println!("  {i}: {}", modules.join(", "));
    }
    println!("no cycles; the core names no runtime crate and no module outside the core");
    std::process::ExitCode::SUCCESS
}
