//! Text that anyone could have written, made safe to show.

/// Text from members or platforms, made safe to print for people: control characters (C0,
/// DEL, C1: escape sequences, line breaks, tabs), bidirectional controls and line
/// separators are shown as escapes (`\n`, `\u{1b}`, `\u{202e}`) instead of acting on the
/// terminal or on the order of what follows. Everything else is kept, Chinese included.
pub fn visible(text: &str) -> std::borrow::Cow<'_, str> {
    let acts = |c: char| {
        c.is_control()
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
            || matches!(
                c,
                '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{2028}' | '\u{2029}'
            )
    };
    if !text.contains(acts) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if acts(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::visible;

    #[test]
    fn controls_and_bidi_marks_are_shown_as_escapes() {
        assert_eq!(visible("杭州-阿青"), "杭州-阿青");
        assert_eq!(
            visible("a\u{1b}]0;x\u{7}\r\n\tb\u{7f}\u{85}"),
            "a\\u{1b}]0;x\\u{7}\\r\\n\\tb\\u{7f}\\u{85}"
        );
        assert_eq!(
            visible("\u{202e}gpj.exe\u{2066}\u{200f}\u{61c}\u{2028}"),
            "\\u{202e}gpj.exe\\u{2066}\\u{200f}\\u{61c}\\u{2028}"
        );
    }
}
