//! Bodies that are not JSON: text as a unified line diff (lines alike by
//! whatever measure the caller gives), anything else as bytes.

use std::fmt::Write as _;
use std::ops::Range;

/// Lines of context around each change in a unified diff.
const CONTEXT: usize = 3;
/// Lines a unified diff shows at most, its two header lines included.
pub(super) const MAX_DIFF_LINES: usize = 200;
/// The largest table of line pairs the diff computes a longest common
/// subsequence over (a 1,000 × 1,000 line change); past it, the changed
/// region is shown as removed, then added.
const MAX_TABLE: usize = 1 << 20;

/// What happened to one line, going from the recorded text to the new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edit {
    Same,
    Removed,
    Added,
}

/// The lines of two texts and the edits from one to the other.
pub(super) struct LineDiff<'t> {
    old: Vec<&'t str>,
    new: Vec<&'t str>,
    edits: Vec<Edit>,
}

impl<'t> LineDiff<'t> {
    /// The lines of `text`, each with its `\n`.
    pub(super) fn lines(text: &str) -> Vec<&str> {
        text.split_inclusive('\n').collect()
    }

    /// The edits from `old` to `new` lines, `same(i, j)` saying whether
    /// `old[i]` and `new[j]` are alike.
    pub(super) fn new(
        old: Vec<&'t str>,
        new: Vec<&'t str>,
        same: &dyn Fn(usize, usize) -> bool,
    ) -> Self {
        let edits = edits(old.len(), new.len(), same);
        Self { old, new, edits }
    }

    /// Whether every line of one text is alike one of the other, in order.
    pub(super) fn is_same(&self) -> bool {
        self.edits.iter().all(|edit| *edit == Edit::Same)
    }

    /// How many lines both texts start with alike: the index of the first
    /// line that differs, in either text.
    pub(super) fn common_prefix(&self) -> usize {
        self.edits
            .iter()
            .take_while(|edit| **edit == Edit::Same)
            .count()
    }

    /// A unified diff (`--- expected`, `+++ actual`, `@@` hunks with three
    /// lines of context), cut after [`MAX_DIFF_LINES`] lines. A last line
    /// without a newline is marked `\ No newline at end of file`, as diff
    /// does. Lines alike are shown as recorded.
    pub(super) fn unified(&self) -> String {
        let (old, new, edits) = (&self.old, &self.new, &self.edits);
        let mut lines = vec!["--- expected".to_owned(), "+++ actual".to_owned()];
        // Where each edit starts, in the old and the new text.
        let mut starts = Vec::with_capacity(edits.len() + 1);
        let (mut at_old, mut at_new) = (0, 0);
        for edit in edits {
            starts.push((at_old, at_new));
            at_old += usize::from(*edit != Edit::Added);
            at_new += usize::from(*edit != Edit::Removed);
        }
        starts.push((at_old, at_new));
        for (first, last) in hunks(edits) {
            let from = first.saturating_sub(CONTEXT);
            let to = (last + CONTEXT + 1).min(edits.len());
            let (old_start, new_start) = starts[from];
            let (old_end, new_end) = starts[to];
            lines.push(format!(
                "@@ -{} +{} @@",
                range(old_start, old_end - old_start),
                range(new_start, new_end - new_start)
            ));
            let (mut o, mut n) = (old_start, new_start);
            for edit in &edits[from..to] {
                let (mark, line) = match edit {
                    Edit::Same => (' ', old[o]),
                    Edit::Removed => ('-', old[o]),
                    Edit::Added => ('+', new[n]),
                };
                o += usize::from(*edit != Edit::Added);
                n += usize::from(*edit != Edit::Removed);
                let mut shown = String::with_capacity(line.len() + 1);
                shown.push(mark);
                shown.push_str(line.strip_suffix('\n').unwrap_or(line));
                lines.push(shown);
                if !line.ends_with('\n') {
                    lines.push("\\ No newline at end of file".to_owned());
                }
            }
        }
        if lines.len() > MAX_DIFF_LINES {
            let more = lines.len() - MAX_DIFF_LINES;
            lines.truncate(MAX_DIFF_LINES);
            lines.push(format!("… {more} more lines"));
        }
        lines.join("\n")
    }
}

/// A unified diff from `expected` to `actual`, lines compared exactly.
#[cfg(test)]
fn unified_diff(expected: &str, actual: &str) -> String {
    let (old, new) = (LineDiff::lines(expected), LineDiff::lines(actual));
    let same = |i: usize, j: usize| old[i] == new[j];
    LineDiff::new(old.clone(), new.clone(), &same).unified()
}

/// `start,count` as a hunk header writes it: one-based, the count left
/// out when it is 1, and the line before when it is 0.
fn range(start: usize, count: usize) -> String {
    match count {
        0 => format!("{start},0"),
        1 => format!("{}", start + 1),
        _ => format!("{},{count}", start + 1),
    }
}

/// The first and last edit of each hunk: changes closer than twice the
/// context share one.
fn hunks(edits: &[Edit]) -> Vec<(usize, usize)> {
    let mut hunks: Vec<(usize, usize)> = Vec::new();
    for (at, _) in edits.iter().enumerate().filter(|(_, e)| **e != Edit::Same) {
        match hunks.last_mut() {
            Some((_, last)) if at - *last <= 2 * CONTEXT + 1 => *last = at,
            _ => hunks.push((at, at)),
        }
    }
    hunks
}

/// The edits from `old` lines to `new` ones (counts; `same(i, j)` says
/// whether two are alike): lines they start and end with alike kept, the
/// rest by longest common subsequence.
fn edits(old: usize, new: usize, same: &dyn Fn(usize, usize) -> bool) -> Vec<Edit> {
    let prefix = (0..old.min(new)).take_while(|&at| same(at, at)).count();
    let suffix = (0..(old - prefix).min(new - prefix))
        .take_while(|&back| same(old - 1 - back, new - 1 - back))
        .count();
    let mut edits = vec![Edit::Same; prefix];
    middle(prefix..old - suffix, prefix..new - suffix, same, &mut edits);
    edits.extend(std::iter::repeat_n(Edit::Same, suffix));
    edits
}

fn middle(
    old: Range<usize>,
    new: Range<usize>,
    same: &dyn Fn(usize, usize) -> bool,
    edits: &mut Vec<Edit>,
) {
    let (old_len, new_len) = (old.len(), new.len());
    let width = new_len + 1;
    if (old_len + 1).saturating_mul(width) > MAX_TABLE {
        edits.extend(std::iter::repeat_n(Edit::Removed, old_len));
        edits.extend(std::iter::repeat_n(Edit::Added, new_len));
        return;
    }
    let alike = |i: usize, j: usize| same(old.start + i, new.start + j);
    // common[i * width + j]: the longest common subsequence of the old
    // lines from i and the new ones from j.
    let mut common = vec![0_u32; (old_len + 1) * width];
    for i in (0..old_len).rev() {
        for j in (0..new_len).rev() {
            common[i * width + j] = if alike(i, j) {
                common[(i + 1) * width + j + 1] + 1
            } else {
                common[(i + 1) * width + j].max(common[i * width + j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < old_len && j < new_len {
        if alike(i, j) {
            edits.push(Edit::Same);
            i += 1;
            j += 1;
        } else if common[(i + 1) * width + j] >= common[i * width + j + 1] {
            edits.push(Edit::Removed);
            i += 1;
        } else {
            edits.push(Edit::Added);
            j += 1;
        }
    }
    edits.extend(std::iter::repeat_n(Edit::Removed, old_len - i));
    edits.extend(std::iter::repeat_n(Edit::Added, new_len - j));
}

/// `bodies differ: N bytes vs M bytes, first difference at byte K`
/// (counted from 0; K is the shorter length when one is a prefix of the
/// other).
pub(super) fn bytes_differ(expected: &[u8], actual: &[u8]) -> String {
    let mut message = String::new();
    let _ = write!(
        message,
        "bodies differ: {} bytes vs {} bytes, first difference at byte {}",
        expected.len(),
        actual.len(),
        first_difference(expected, actual)
    );
    message
}

/// Where two byte strings first differ.
pub(super) fn first_difference(expected: &[u8], actual: &[u8]) -> usize {
    expected
        .iter()
        .zip(actual)
        .position(|(e, a)| e != a)
        .unwrap_or(expected.len().min(actual.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unified_diff_shows_changes_with_context() {
        let expected = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n";
        let actual = "a\nB\nc\nd\ne\nf\ng\nh\ni\nj\nk\n";
        assert_eq!(
            unified_diff(expected, actual),
            "--- expected\n+++ actual\n\
             @@ -1,5 +1,5 @@\n a\n-b\n+B\n c\n d\n e\n\
             @@ -8,3 +8,4 @@\n h\n i\n j\n+k"
        );
    }

    #[test]
    fn close_changes_share_a_hunk_and_a_missing_newline_is_marked() {
        let diff = unified_diff("one\ntwo\nthree", "one\n2\nthree\nfour");
        assert_eq!(
            diff,
            "--- expected\n+++ actual\n\
             @@ -1,3 +1,4 @@\n one\n-two\n-three\n\\ No newline at end of file\n+2\n+three\n+four\n\
             \\ No newline at end of file"
        );
        // Everything added to an empty text.
        assert_eq!(
            unified_diff("", "x\n"),
            "--- expected\n+++ actual\n@@ -0,0 +1 @@\n+x"
        );
    }

    #[test]
    fn long_diffs_are_cut() {
        let expected: String = (0..500).map(|i| format!("{i}\n")).collect();
        let actual: String = (0..500).map(|i| format!("{}\n", i * 2)).collect();
        let diff = unified_diff(&expected, &actual);
        let lines: Vec<&str> = diff.lines().collect();
        assert_eq!(lines.len(), MAX_DIFF_LINES + 1);
        assert!(
            lines[MAX_DIFF_LINES].ends_with("more lines"),
            "{}",
            lines[MAX_DIFF_LINES]
        );
    }

    #[test]
    fn a_large_change_falls_back_to_removed_then_added() {
        let old: Vec<String> = (0..2000).map(|i| format!("o{i}\n")).collect();
        let new: Vec<String> = (0..2000).map(|i| format!("n{i}\n")).collect();
        let edits = edits(old.len(), new.len(), &|i, j| old[i] == new[j]);
        assert_eq!(edits.len(), 4000);
        assert!(edits[..2000].iter().all(|e| *e == Edit::Removed));
        assert!(edits[2000..].iter().all(|e| *e == Edit::Added));
    }

    #[test]
    fn the_common_prefix_counts_lines_alike() {
        let prefix = |e: &str, a: &str| {
            let (old, new) = (LineDiff::lines(e), LineDiff::lines(a));
            let same = |i: usize, j: usize| old[i] == new[j];
            LineDiff::new(old.clone(), new.clone(), &same).common_prefix()
        };
        assert_eq!(prefix("a\nb\nc", "a\nx\nc"), 1);
        assert_eq!(prefix("a", "b"), 0);
        assert_eq!(prefix("a\n", "a\nb"), 1);
        // Lines alike by another measure than equality.
        let (old, new) = (vec!["A\n", "b\n"], vec!["a\n", "B\n", "c\n"]);
        let same = |i: usize, j: usize| old[i].eq_ignore_ascii_case(new[j]);
        let diff = LineDiff::new(old.clone(), new.clone(), &same);
        assert_eq!(diff.common_prefix(), 2);
        assert!(!diff.is_same());
        assert_eq!(
            diff.unified(),
            "--- expected\n+++ actual\n@@ -1,2 +1,3 @@\n A\n b\n+c"
        );
    }

    #[test]
    fn bytes_name_the_first_difference() {
        assert_eq!(
            bytes_differ(&[0, 1, 2, 3], &[0, 1, 9]),
            "bodies differ: 4 bytes vs 3 bytes, first difference at byte 2"
        );
        assert_eq!(
            bytes_differ(&[0, 1], &[0, 1, 2]),
            "bodies differ: 2 bytes vs 3 bytes, first difference at byte 2"
        );
    }
}
