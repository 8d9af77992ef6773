//! Arbitrary bytes through the loader, every check, and every rendering of what they
//! found. Nothing may panic, hang or overflow, whatever the bytes; and every position must
//! lie inside its file on character boundaries, since the renderers slice text with it.

#![no_main]

use drumbeat::playbook::load::{Loaded, load_bytes};
use drumbeat::source::Span;
use drumbeat::diag::render;
use drumbeat::validate;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let mut loaded = Loaded::default();
    load_bytes(&mut loaded, Path::new("fuzz.yaml"), data.to_vec());
    validate::check(&loaded.playbooks, &mut loaded.diagnostics);
    loaded.diagnostics.sort();
    let diags = loaded.diagnostics.into_vec();

    let in_file = |span: Span| {
        let text = &loaded.sources.get(span.file).text;
        let (start, end) = (span.start as usize, span.end as usize);
        assert!(
            start <= end && end <= text.len(),
            "span {start}..{end} of {}",
            text.len()
        );
        assert!(text.is_char_boundary(start) && text.is_char_boundary(end));
    };
    for d in &diags {
        if let Some(span) = d.span {
            in_file(span);
        }
        for label in &d.labels {
            in_file(label.span);
        }
    }

    let summary = render::Summary::of(&loaded.sources, &diags, loaded.playbooks.len());
    let _ = render::human_with(&loaded.sources, &diags, true);
    let _ = render::json(&loaded.sources, &diags, &summary);
    let _ = render::github(&loaded.sources, &diags);
    let _ = render::sarif(&loaded.sources, &diags);
});
