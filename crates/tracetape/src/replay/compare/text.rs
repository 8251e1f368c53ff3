//! Bodies that are not JSON: text as a unified line diff, anything else
//! as bytes.

use std::fmt::Write as _;

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

/// A unified diff (`--- expected`, `+++ actual`, `@@` hunks with three
/// lines of context) from `expected` to `actual`, cut after
/// [`MAX_DIFF_LINES`] lines. A last line without a newline is marked
/// `\ No newline at end of file`, as diff does.
pub(super) fn unified_diff(expected: &str, actual: &str) -> String {
    let old: Vec<&str> = expected.split_inclusive('\n').collect();
    let new: Vec<&str> = actual.split_inclusive('\n').collect();
    let edits = edits(&old, &new);
    let mut lines = vec!["--- expected".to_owned(), "+++ actual".to_owned()];
    // Where each edit starts, in the old and the new text.
    let mut starts = Vec::with_capacity(edits.len() + 1);
    let (mut at_old, mut at_new) = (0, 0);
    for edit in &edits {
        starts.push((at_old, at_new));
        at_old += usize::from(*edit != Edit::Added);
        at_new += usize::from(*edit != Edit::Removed);
    }
    starts.push((at_old, at_new));
    for (first, last) in hunks(&edits) {
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

/// The one-based line number of the first line that differs.
pub(super) fn first_different_line(expected: &str, actual: &str) -> usize {
    let same = expected
        .split_inclusive('\n')
        .zip(actual.split_inclusive('\n'))
        .take_while(|(e, a)| e == a)
        .count();
    same + 1
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

/// The edits from `old` to `new`: lines they start and end with in common
/// kept, the rest by longest common subsequence.
fn edits(old: &[&str], new: &[&str]) -> Vec<Edit> {
    let prefix = old.iter().zip(new).take_while(|(o, n)| o == n).count();
    let suffix = old[prefix..]
        .iter()
        .rev()
        .zip(new[prefix..].iter().rev())
        .take_while(|(o, n)| o == n)
        .count();
    let mut edits = vec![Edit::Same; prefix];
    middle(
        &old[prefix..old.len() - suffix],
        &new[prefix..new.len() - suffix],
        &mut edits,
    );
    edits.extend(std::iter::repeat_n(Edit::Same, suffix));
    edits
}

fn middle(old: &[&str], new: &[&str], edits: &mut Vec<Edit>) {
    let width = new.len() + 1;
    if (old.len() + 1).saturating_mul(width) > MAX_TABLE {
        edits.extend(std::iter::repeat_n(Edit::Removed, old.len()));
        edits.extend(std::iter::repeat_n(Edit::Added, new.len()));
        return;
    }
    // common[i * width + j]: the longest common subsequence of old[i..]
    // and new[j..].
    let mut common = vec![0_u32; (old.len() + 1) * width];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            common[i * width + j] = if old[i] == new[j] {
                common[(i + 1) * width + j + 1] + 1
            } else {
                common[(i + 1) * width + j].max(common[i * width + j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < old.len() && j < new.len() {
        if old[i] == new[j] {
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
    edits.extend(std::iter::repeat_n(Edit::Removed, old.len() - i));
    edits.extend(std::iter::repeat_n(Edit::Added, new.len() - j));
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
        let old: Vec<&str> = old.iter().map(String::as_str).collect();
        let new: Vec<&str> = new.iter().map(String::as_str).collect();
        let edits = edits(&old, &new);
        assert_eq!(edits.len(), 4000);
        assert!(edits[..2000].iter().all(|e| *e == Edit::Removed));
        assert!(edits[2000..].iter().all(|e| *e == Edit::Added));
    }

    #[test]
    fn the_first_different_line_is_one_based() {
        assert_eq!(first_different_line("a\nb\nc", "a\nx\nc"), 2);
        assert_eq!(first_different_line("a", "b"), 1);
        assert_eq!(first_different_line("a\n", "a\nb"), 2);
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
