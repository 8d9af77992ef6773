//! Source files and byte spans.
//!
//! Every position inside drumbeat is a byte offset into one loaded file. Line and column
//! numbers (1-based, columns counted in characters) are computed only when a diagnostic is
//! shown. The YAML parser reports character indexes; [`SourceFile::byte_of_char`] is the one
//! place where they become byte offsets, so Chinese text never shifts a caret.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Index of a file in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FileId(pub u32);

/// A byte range `start..end` in one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Self {
        Span {
            file,
            start: start as u32,
            end: end.max(start) as u32,
        }
    }

    pub fn range(&self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    /// A span starting `offset` bytes into this one, `len` bytes long, clamped to this span's file.
    pub fn sub(&self, offset: usize, len: usize) -> Span {
        let start = self.start as usize + offset;
        Span::new(self.file, start, start + len)
    }
}

/// A value together with where it was written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: std::fmt::Display> std::fmt::Display for Spanned<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.value.fmt(f)
    }
}

/// One loaded file: its name as the user gave it and its text.
#[derive(Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
    /// Byte offset of the first byte of each line.
    line_starts: Vec<usize>,
    /// Character index of the first character of each line.
    line_chars: Vec<usize>,
    /// Byte offset of every [`CHECKPOINT`]-th character, so that converting between
    /// characters and bytes never scans a whole (possibly megabytes long) line.
    checkpoints: Vec<usize>,
}

/// Characters between two entries of `SourceFile::checkpoints`.
const CHECKPOINT: usize = 64;

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        let text = text.into();
        let mut line_starts = vec![0];
        let mut line_chars = vec![0];
        let mut checkpoints = Vec::with_capacity(text.len() / CHECKPOINT + 1);
        let mut chars = 0usize;
        for (i, c) in text.char_indices() {
            if chars.is_multiple_of(CHECKPOINT) {
                checkpoints.push(i);
            }
            chars += 1;
            if c == '\n' {
                line_starts.push(i + 1);
                line_chars.push(chars);
            }
        }
        SourceFile {
            path: path.into(),
            text,
            line_starts,
            line_chars,
            checkpoints,
        }
    }

    /// Number of characters before byte offset `byte` (rounded down to a character boundary).
    fn chars_before(&self, byte: usize) -> usize {
        let mut byte = byte.min(self.text.len());
        while !self.text.is_char_boundary(byte) {
            byte -= 1;
        }
        let k = self.checkpoints.partition_point(|&b| b <= byte);
        if k == 0 {
            return 0;
        }
        let from = self.checkpoints[k - 1];
        (k - 1) * CHECKPOINT + self.text[from..byte].chars().count()
    }

    /// Converts a character index (as the YAML parser counts) into a byte offset.
    pub fn byte_of_char(&self, char_index: usize) -> usize {
        let Some(&start) = self.checkpoints.get(char_index / CHECKPOINT) else {
            return self.text.len();
        };
        let skip = char_index % CHECKPOINT;
        self.text[start..]
            .char_indices()
            .nth(skip)
            .map(|(i, _)| start + i)
            .unwrap_or(self.text.len())
    }

    /// Byte offset of a 1-based line and 1-based column counted in characters; `None` when
    /// the file has no such line. A column past the end of the line gives its line break.
    pub fn byte_of_line_col(&self, line: usize, col: usize) -> Option<usize> {
        let first_char = *self.line_chars.get(line.checked_sub(1)?)?;
        let line_end = self
            .line_starts
            .get(line)
            .map_or(self.text.len(), |next| next - 1);
        let byte = self.byte_of_char(first_char + col.saturating_sub(1));
        Some(byte.min(line_end))
    }

    /// 1-based line and 1-based column (in characters) of a byte offset.
    pub fn line_col(&self, byte: usize) -> (usize, usize) {
        let byte = byte.min(self.text.len());
        let line = match self.line_starts.binary_search(&byte) {
            Ok(l) => l,
            Err(l) => l - 1,
        };
        let col = self.chars_before(byte) - self.line_chars[line];
        (line + 1, col + 1)
    }

    /// Byte range of the 1-based line `line`, without its line break.
    pub fn line_range(&self, line: usize) -> std::ops::Range<usize> {
        let start = self.line_starts[line - 1];
        let end = self
            .line_starts
            .get(line)
            .map_or(self.text.len(), |next| next - 1);
        let end = if end > start && self.text.as_bytes().get(end - 1) == Some(&b'\r') {
            end - 1
        } else {
            end
        };
        start..end.max(start)
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }
}

/// All files loaded in one run.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: Vec<Arc<SourceFile>>,
}

impl SourceMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> FileId {
        self.push(SourceFile::new(path, text))
    }

    /// Adds a file already indexed (files are indexed on several threads, numbered in order).
    pub fn push(&mut self, file: SourceFile) -> FileId {
        let id = FileId(self.files.len() as u32);
        self.files.push(Arc::new(file));
        id
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    pub fn path(&self, id: FileId) -> &Path {
        &self.get(id).path
    }

    pub fn text(&self, span: Span) -> &str {
        self.get(span.file)
            .text
            .get(span.range())
            .unwrap_or_default()
    }

    pub fn files(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), &**f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_text_maps_characters_to_bytes() {
        let f = SourceFile::new("a.yaml", "name: 减脂营\nid: x\n");
        // `x` is character 13 (0-based): 6 ascii + 3 han + newline + 4 ascii.
        let b = f.byte_of_char(14);
        assert_eq!(&f.text[b..b + 1], "x");
        assert_eq!(f.line_col(b), (2, 5));
        let han = f.byte_of_char(7);
        assert_eq!(&f.text[han..han + 3], "脂");
        assert_eq!(f.line_col(han), (1, 8));
    }

    #[test]
    fn long_lines_convert_like_a_plain_scan() {
        // Checkpoints must not change any answer: compare with counting from the start.
        let text: String = (0..500)
            .map(|i| {
                if i % 7 == 0 {
                    "减脂营\n".to_string()
                } else {
                    format!("k{i}: 值{i}, ")
                }
            })
            .collect();
        let f = SourceFile::new("a.yaml", text.clone());
        for (ci, (b, _)) in text.char_indices().enumerate() {
            assert_eq!(f.byte_of_char(ci), b);
            let line = text[..b].matches('\n').count() + 1;
            let line_start = text[..b].rfind('\n').map_or(0, |i| i + 1);
            let col = text[line_start..b].chars().count() + 1;
            assert_eq!(f.line_col(b), (line, col), "byte {b}");
        }
        assert_eq!(f.byte_of_char(text.chars().count()), text.len());
        assert_eq!(f.byte_of_char(usize::MAX / 2), text.len());
        // A byte inside a character counts as that character's start.
        let han = text.find('值').unwrap();
        assert_eq!(f.line_col(han + 1), f.line_col(han));
    }

    #[test]
    fn line_and_column_give_bytes() {
        let f = SourceFile::new("a.yaml", "name: 减脂营\nid: x\r\nz");
        assert_eq!(f.byte_of_line_col(1, 7), Some(6));
        assert_eq!(f.byte_of_line_col(1, 8), Some(9));
        assert_eq!(f.byte_of_line_col(1, 99), Some(15), "the line break");
        assert_eq!(f.byte_of_line_col(2, 5), Some(20));
        assert_eq!(f.byte_of_line_col(3, 1), Some(23));
        assert_eq!(f.byte_of_line_col(3, 9), Some(24));
        assert_eq!(f.byte_of_line_col(4, 1), None);
        assert_eq!(f.byte_of_line_col(0, 1), None);
    }

    #[test]
    fn line_ranges_drop_line_breaks() {
        let f = SourceFile::new("a.yaml", "a\r\nbc\n");
        assert_eq!(&f.text[f.line_range(1)], "a");
        assert_eq!(&f.text[f.line_range(2)], "bc");
        assert_eq!(f.line_count(), 3);
    }
}
