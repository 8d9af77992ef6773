//! Rendering speed side by side with Jinja2 (Python), on the same four templates and
//! values: a ~2 KB announcement with loops and conditions, an ~800-byte lesson, a
//! leaderboard that sorts 20 members twice and a ~1 KB welcome (benches/render/NAME.j2 with
//! its values in NAME.json). drumbeat renders through its own engine, exactly as a message
//! is rendered when it is sent; Jinja2 through benches/render_jinja2.py. The outputs must be
//! byte-identical. Target: drumbeat at least 10 times as fast on each.
//!
//!     cargo bench --bench render_vs_jinja2
//!
//! Needs python3 with jinja2 (`pip install jinja2`) for the comparison; without it only
//! drumbeat's figures are printed.

use chrono::{DateTime, Utc};
use drumbeat::playbook::load::{Loaded, load_bytes};
use drumbeat::template::Engine;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Renders per round; the best of five rounds counts. `RENDERS=N` sets another count, and
/// `RENDERS=N JINJA2=0` measures drumbeat alone (for a profiler or an instruction count).
fn renders() -> u32 {
    std::env::var("RENDERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000)
}

fn folder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/render")
}

/// The cases: name, template text, values.
fn cases() -> Vec<(String, String, serde_json::Value)> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(folder())
        .expect("benches/render")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "j2"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p).unwrap();
            let values = std::fs::read_to_string(p.with_extension("json")).unwrap();
            (name, text, serde_json::from_str(&values).unwrap())
        })
        .collect()
}

/// A playbook holding the cases' templates, as an operator would write them.
fn engine(cases: &[(String, String, serde_json::Value)]) -> Engine {
    let mut yaml = String::from(
        "version: 1\ncommunity: { id: bench, name: 打卡营, kind: service, timezone: Asia/Shanghai }\n\
         channels: { group: { type: console } }\ntemplates:\n",
    );
    for (name, text, _) in cases {
        yaml += &format!("  {name}: |-\n");
        for line in text.trim_end_matches('\n').lines() {
            yaml += &format!("    {line}\n");
        }
    }
    let mut loaded = Loaded::default();
    load_bytes(&mut loaded, Path::new("bench.yaml"), yaml.into_bytes());
    let p = loaded.playbooks.pop().expect("the bench playbook loads");
    Engine::new(&p).expect("templates compile")
}

fn jinja2(n: u32) -> Option<BTreeMap<String, (f64, String)>> {
    let out = std::process::Command::new("python3")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/render_jinja2.py"))
        .arg(folder())
        .arg(n.to_string())
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "Jinja2 not measured: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return None;
    }
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    Some(
        doc.as_object()?
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    (
                        v["ns"].as_f64().unwrap_or(f64::NAN),
                        v["text"].as_str().unwrap_or_default().to_string(),
                    ),
                )
            })
            .collect(),
    )
}

fn main() {
    let cases = cases();
    let engine = engine(&cases);
    let at: DateTime<Utc> = "2026-12-07T04:00:00Z".parse().unwrap();
    let mut ours = BTreeMap::new();
    for (name, _, values) in &cases {
        let mut ctx = engine.context(at);
        for (k, v) in values.as_object().unwrap() {
            // The keys live for the whole run.
            let key: &'static str = Box::leak(k.clone().into_boxed_str());
            ctx.set(key, v);
        }
        let text = engine.render(name, &ctx).expect("renders");
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            let started = Instant::now();
            for _ in 0..renders() {
                black_box(engine.render(black_box(name), black_box(&ctx)).unwrap());
            }
            best = best.min(started.elapsed().as_nanos() as f64 / f64::from(renders()));
        }
        ours.insert(name.clone(), (best, text));
    }
    let theirs = match std::env::var("JINJA2").as_deref() {
        Ok("0") => None,
        _ => jinja2(renders() / 4),
    };
    println!(
        "{:<14} {:>7} {:>12} {:>12} {:>8}",
        "template", "bytes", "drumbeat µs", "Jinja2 µs", "×"
    );
    let mut failed = false;
    for (name, (ns, text)) in &ours {
        let (theirs_us, ratio) = match theirs.as_ref().and_then(|t| t.get(name)) {
            Some((j_ns, j_text)) => {
                if j_text != text {
                    failed = true;
                    eprintln!("{name}: outputs differ\n--- drumbeat\n{text}\n--- Jinja2\n{j_text}");
                }
                (format!("{:.1}", j_ns / 1000.0), format!("{:.1}", j_ns / ns))
            }
            None => ("-".into(), "-".into()),
        };
        println!(
            "{:<14} {:>7} {:>12.1} {:>12} {:>8}",
            name,
            text.len(),
            ns / 1000.0,
            theirs_us,
            ratio
        );
    }
    assert!(!failed, "drumbeat and Jinja2 must render the same bytes");
}
