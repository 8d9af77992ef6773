//! Platform size limits and splitting long messages into ordered parts.

/// How a platform counts the size of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// UTF-8 bytes (a Chinese character is 3).
    Bytes,
    /// Unicode scalar values.
    Chars,
    /// UTF-16 code units (an emoji outside the basic plane is 2), as Telegram counts.
    Utf16,
    /// UTF-8 bytes once written as a JSON string (a newline or quote is 2), for platforms
    /// that limit the request body.
    JsonBytes,
}

impl Unit {
    fn of(self, c: char) -> usize {
        match self {
            Unit::Bytes => c.len_utf8(),
            Unit::Chars => 1,
            Unit::Utf16 => c.len_utf16(),
            Unit::JsonBytes => match c {
                '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
                c if (c as u32) < 0x20 => 6,
                c => c.len_utf8(),
            },
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Unit::Bytes => "bytes",
            Unit::Chars => "characters",
            Unit::Utf16 => "UTF-16 code units",
            Unit::JsonBytes => "bytes of JSON",
        }
    }
}

/// The most one message may hold on a platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: usize,
    pub unit: Unit,
}

impl Limit {
    pub const fn new(max: usize, unit: Unit) -> Limit {
        Limit { max, unit }
    }

    /// The size of `text` in this limit's unit.
    pub fn measure(&self, text: &str) -> usize {
        text.chars().map(|c| self.unit.of(c)).sum()
    }

    pub fn fits(&self, text: &str) -> bool {
        self.measure(text) <= self.max
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.max, self.unit.name())
    }
}

/// Splits `text` into parts that each fit `limit`, in order, breaking between lines.
///
/// Lines are packed greedily; the line break where a part ends is dropped, and so are blank
/// lines at the edges of a part. A single line longer than the limit is cut between
/// characters. A text that fits is returned whole, untouched.
pub fn split(text: &str, limit: Limit) -> Vec<String> {
    if limit.fits(text) {
        return vec![text.to_string()];
    }
    let max = limit.max.max(1);
    let newline = limit.unit.of('\n');
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut cur_len = 0;
    let flush = |cur: &mut String, cur_len: &mut usize, parts: &mut Vec<String>| {
        let t = cur.trim_matches('\n');
        if !t.is_empty() {
            parts.push(t.to_string());
        }
        cur.clear();
        *cur_len = 0;
    };
    for line in text.split('\n') {
        let len = limit.measure(line);
        let sep = if cur.is_empty() { 0 } else { newline };
        if cur_len + sep + len <= max {
            if sep > 0 {
                cur.push('\n');
            }
            cur.push_str(line);
            cur_len += sep + len;
            continue;
        }
        flush(&mut cur, &mut cur_len, &mut parts);
        if len <= max {
            cur.push_str(line);
            cur_len = len;
            continue;
        }
        // One line longer than a whole part: cut it between characters.
        for c in line.chars() {
            let w = limit.unit.of(c);
            if cur_len + w > max {
                flush(&mut cur, &mut cur_len, &mut parts);
            }
            cur.push(c);
            cur_len += w;
        }
    }
    flush(&mut cur, &mut cur_len, &mut parts);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_that_fits_is_untouched() {
        let t = "\n早上好\n\n";
        assert_eq!(split(t, Limit::new(100, Unit::Bytes)), vec![t.to_string()]);
    }

    #[test]
    fn lines_are_packed_in_order() {
        // Each line is 9 bytes; with the newline two lines are 19.
        let t = "第一行\n第二行\n第三行\n第四行\n第五行";
        let parts = split(t, Limit::new(19, Unit::Bytes));
        assert_eq!(parts, vec!["第一行\n第二行", "第三行\n第四行", "第五行"]);
        assert!(parts.iter().all(|p| p.len() <= 19));
    }

    #[test]
    fn a_long_line_is_cut_between_characters() {
        let t = "一二三四五六七";
        let parts = split(t, Limit::new(7, Unit::Bytes));
        assert_eq!(parts, vec!["一二", "三四", "五六", "七"]);
    }

    #[test]
    fn blank_lines_at_part_edges_are_dropped() {
        let t = "aaaa\n\n\nbbbb";
        assert_eq!(split(t, Limit::new(5, Unit::Chars)), vec!["aaaa", "bbbb"]);
    }

    #[test]
    fn units_count_as_their_platforms_do() {
        assert_eq!(Limit::new(0, Unit::Bytes).measure("打卡a"), 7);
        assert_eq!(Limit::new(0, Unit::Chars).measure("打卡a"), 3);
        assert_eq!(Limit::new(0, Unit::Utf16).measure("🎉a"), 3);
        assert_eq!(
            Limit::new(0, Unit::JsonBytes).measure("a\"\n\u{1}"),
            1 + 2 + 2 + 6
        );
    }

    #[test]
    fn joined_parts_keep_every_character() {
        let t = "春眠不觉晓\n处处闻啼鸟\n夜来风雨声\n花落知多少".repeat(30);
        for max in [4, 7, 16, 40, 100] {
            let l = Limit::new(max, Unit::Chars);
            let parts = split(&t, l);
            assert!(parts.iter().all(|p| l.fits(p)), "max {max}");
            let strip = |s: &str| s.replace('\n', "");
            assert_eq!(strip(&parts.concat()), strip(&t), "max {max}");
        }
    }
}
