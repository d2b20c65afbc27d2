//! Wrapping a message by display width.
//!
//! A message entry is `HH:MM:SS sender text`; its first row holds the
//! prefix and the start of the text, and further rows are indented under
//! the text's start column (or by the time's width when the prefix is too
//! wide), so a long message reads as one block. Rows break between
//! graphemes, counting CJK and emoji as two columns; a row that has room
//! prefers to break after a space, so Latin words stay whole.

use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// Width of `HH:MM:SS `: the indent of continuation rows.
pub const TIME_WIDTH: usize = 9;

/// Columns a grapheme of message text takes (a tab shows as one space).
pub fn cells(g: &str) -> usize {
    if g == "\t" {
        1
    } else {
        g.width()
    }
}

/// The rows of `text` after a prefix `prefix` columns wide, in a pane
/// `width` columns wide: byte ranges of `text`, and the indent (in
/// columns) each row starts at. Always at least one row.
pub fn rows(prefix: usize, text: &str, width: usize) -> Vec<(usize, std::ops::Range<usize>)> {
    let width = width.max(1);
    // Continuation rows line up under the text when there is room for it.
    let indent = if prefix < width / 2 {
        prefix
    } else if TIME_WIDTH < width / 2 {
        TIME_WIDTH
    } else {
        0
    };
    let mut out = Vec::new();
    let mut start_col = prefix.min(width);
    if start_col >= width {
        // The prefix fills the first row: the text starts on the next.
        out.push((start_col, 0..0));
        start_col = indent;
    }
    let mut row_start = 0;
    let mut col = start_col;
    let mut last_space: Option<usize> = None; // byte index after a space in this row
    for (i, g) in text.grapheme_indices(true) {
        let w = cells(g);
        if col + w > width && i > row_start {
            // Break after the last space when it leaves at least half the
            // row used; else break here.
            let cut = match last_space {
                Some(after)
                    if after > row_start
                        && col_of(text, row_start, after) >= (width - start_col) / 2 =>
                {
                    after
                }
                _ => i,
            };
            out.push((start_col, row_start..cut));
            row_start = cut;
            start_col = indent;
            col = indent + col_of(text, cut, i);
            last_space = None;
        }
        col += w;
        if g == " " {
            last_space = Some(i + 1);
        }
    }
    out.push((start_col, row_start..text.len()));
    out
}

/// Columns of `text[from..to]`.
fn col_of(text: &str, from: usize, to: usize) -> usize {
    text[from..to].graphemes(true).map(cells).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(prefix: usize, text: &str, width: usize) -> Vec<(usize, &str)> {
        rows(prefix, text, width)
            .into_iter()
            .map(|(indent, r)| (indent, &text[r]))
            .collect()
    }

    #[test]
    fn short_text_is_one_row() {
        assert_eq!(pieces(12, "hi", 80), vec![(12, "hi")]);
        assert_eq!(pieces(12, "", 80), vec![(12, "")]);
    }

    #[test]
    fn cjk_wraps_by_two_columns_and_never_splits_a_character() {
        // 10 columns after a 4-column prefix: 3 CJK characters per row.
        let got = pieces(4, "一二三四五六七", 10);
        assert_eq!(got, vec![(4, "一二三"), (4, "四五六"), (4, "七")]);
        for (indent, row) in got {
            assert!(indent + row.width() <= 10);
        }
    }

    #[test]
    fn latin_words_stay_whole_when_there_is_room() {
        let got = pieces(0, "hello big wide world", 12);
        assert_eq!(got, vec![(0, "hello big "), (0, "wide world")]);
    }

    #[test]
    fn a_prefix_wider_than_the_pane_pushes_the_text_down() {
        let got = pieces(30, "abc", 20);
        assert_eq!(got, vec![(20, ""), (9, "abc")]);
        // Tiny panes still make progress, a grapheme per row at worst.
        let got = pieces(5, "你好", 1);
        assert_eq!(got.len(), 3);
    }
}
