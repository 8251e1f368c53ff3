//! Adding ignore rules to `ignore` under `[replay.compare]` of
//! `tracetape.toml`, as a text edit that keeps everything else in the file
//! (comments, order, layout): the rules go into the existing array, or a
//! new `ignore` key goes under the existing `[replay.compare]` header, or
//! a new `[replay.compare]` table is appended. Layouts it does not edit
//! (the table written inline or as dotted keys) are refused, and every
//! edit is read back to check that it added exactly the rules and changed
//! nothing else before the file is replaced (atomically).

use std::fs;
use std::io::{self, Write as _};
use std::path::Path;

use anyhow::{Context as _, anyhow, bail};

/// What [`add`] did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Added {
    /// The rules added, in order; those already there are left out.
    pub(crate) rules: Vec<String>,
    /// The file did not exist and was created.
    pub(crate) created: bool,
}

/// Adds `rules` to `replay.compare.ignore` of the file at `path` (created
/// if missing).
pub(crate) fn add(path: &Path, rules: &[String]) -> anyhow::Result<Added> {
    let (text, created) = match fs::read_to_string(path) {
        Ok(text) => (text, false),
        Err(err) if err.kind() == io::ErrorKind::NotFound => (String::new(), true),
        Err(err) => {
            return Err(
                anyhow::Error::new(err).context(format!("failed to read {}", path.display()))
            );
        }
    };
    let (edited, added) = edit(&text, rules).with_context(|| {
        format!(
            "{}: the rules could not be added; add them to `ignore` under [replay.compare] by hand",
            path.display()
        )
    })?;
    if !added.is_empty() {
        write(path, &edited).with_context(|| format!("failed to write {}", path.display()))?;
    }
    Ok(Added {
        created: created && !added.is_empty(),
        rules: added,
    })
}

/// `text` with `rules` added, and the rules that were added.
fn edit(text: &str, rules: &[String]) -> anyhow::Result<(String, Vec<String>)> {
    let before: toml::Table = toml::from_str(text)
        .map_err(|err| anyhow!("not valid TOML: {}", err.to_string().trim_end()))?;
    let existing = ignored(&before)?;
    let mut added: Vec<String> = Vec::new();
    for rule in rules {
        if !existing.contains(rule) && !added.contains(rule) {
            added.push(rule.clone());
        }
    }
    if added.is_empty() {
        return Ok((text.to_owned(), added));
    }
    let has_compare = before
        .get("replay")
        .and_then(|replay| replay.get("compare"))
        .is_some();
    let edited = if !has_compare {
        append_table(text, &added)
    } else {
        let header = table_header(text).ok_or_else(|| {
            anyhow!("[replay.compare] is not written as a table header of its own")
        })?;
        insert_into_table(text, header, &added)?
    };
    // Read back: exactly the rules added, nothing else changed.
    let after: toml::Table = toml::from_str(&edited).map_err(|err| {
        anyhow!(
            "the edit would not be valid TOML: {}",
            err.to_string().trim_end()
        )
    })?;
    let mut expected = existing;
    expected.extend(added.iter().cloned());
    if ignored(&after)? != expected || without_ignore(before) != without_ignore(after) {
        bail!("the edit would change more than the ignore rules");
    }
    Ok((edited, added))
}

/// The strings of `replay.compare.ignore`.
fn ignored(table: &toml::Table) -> anyhow::Result<Vec<String>> {
    let Some(ignore) = table
        .get("replay")
        .and_then(|replay| replay.get("compare"))
        .and_then(|compare| compare.get("ignore"))
    else {
        return Ok(Vec::new());
    };
    let array = ignore
        .as_array()
        .ok_or_else(|| anyhow!("replay.compare.ignore is not an array"))?;
    array
        .iter()
        .map(|value| {
            value
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| anyhow!("replay.compare.ignore holds a value that is not a string"))
        })
        .collect()
}

/// `table` without `replay.compare.ignore`, and without the tables that
/// leaves empty.
fn without_ignore(mut table: toml::Table) -> toml::Table {
    if let Some(replay) = table.get_mut("replay").and_then(toml::Value::as_table_mut) {
        if let Some(compare) = replay
            .get_mut("compare")
            .and_then(toml::Value::as_table_mut)
        {
            compare.remove("ignore");
            if compare.is_empty() {
                replay.remove("compare");
            }
        }
        if replay.is_empty() {
            table.remove("replay");
        }
    }
    table
}

/// `text` with a `[replay.compare]` table holding `rules` at its end.
fn append_table(text: &str, rules: &[String]) -> String {
    let mut out = text.to_owned();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str("[replay.compare]\n");
    out.push_str(&array_key(rules));
    out
}

/// `ignore = [` with one rule a line, then `]`.
fn array_key(rules: &[String]) -> String {
    let mut out = String::from("ignore = [\n");
    for rule in rules {
        out.push_str(&format!("    {},\n", quoted(rule)));
    }
    out.push_str("]\n");
    out
}

/// The byte range of the `[replay.compare]` header line (with its line
/// end), if the text has one.
fn table_header(text: &str) -> Option<std::ops::Range<usize>> {
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let start = at;
        at += line.len();
        let code = line.split('#').next().unwrap_or_default();
        let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if compact == "[replay.compare]" {
            return Some(start..at);
        }
    }
    None
}

/// Adds `rules` to the `ignore` array of the table whose header is at
/// `header`, or an `ignore` key right under the header.
fn insert_into_table(
    text: &str,
    header: std::ops::Range<usize>,
    rules: &[String],
) -> anyhow::Result<String> {
    // The table's lines: up to the next header.
    let mut at = header.end;
    let mut key = None;
    for line in text[header.end..].split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            break;
        }
        if let Some(rest) = trimmed.strip_prefix("ignore")
            && rest.trim_start().starts_with('=')
        {
            let equals = at
                + (line.len() - trimmed.len())
                + "ignore".len()
                + (rest.len() - rest.trim_start().len());
            key = Some(equals + 1);
            break;
        }
        at += line.len();
    }
    let Some(value) = key else {
        let mut out = String::with_capacity(text.len() + 64);
        out.push_str(&text[..header.end]);
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&array_key(rules));
        out.push_str(&text[header.end..]);
        return Ok(out);
    };
    let array = Array::find(text, value).ok_or_else(|| anyhow!("`ignore` is not an array"))?;
    let listed: Vec<String> = rules.iter().map(|rule| quoted(rule)).collect();
    let mut out = String::with_capacity(text.len() + 64);
    let line_start = text[..array.close].rfind('\n').map_or(0, |at| at + 1);
    let multi_line = text[array.open..array.close].contains('\n')
        && text[line_start..array.close].trim().is_empty();
    if multi_line {
        // One rule a line, before the line of the closing bracket.
        out.push_str(&text[..=array.last]);
        if !array.ends_with_comma() {
            out.push(',');
        }
        out.push_str(&text[array.last + 1..line_start]);
        for rule in &listed {
            out.push_str(&format!("    {rule},\n"));
        }
        out.push_str(&text[line_start..]);
    } else {
        out.push_str(&text[..array.close]);
        let separator = if array.is_empty() || array.ends_with_comma() {
            if text[array.last + 1..array.close].ends_with(' ') || array.is_empty() {
                ""
            } else {
                " "
            }
        } else {
            ", "
        };
        out.push_str(separator);
        out.push_str(&listed.join(", "));
        out.push_str(&text[array.close..]);
    }
    Ok(out)
}

/// Where an array value is in the text.
#[derive(Debug)]
struct Array {
    /// The `[`.
    open: usize,
    /// The matching `]`.
    close: usize,
    /// The last byte of code before `close` (not a blank, not in a
    /// comment): `open` for an empty array.
    last: usize,
    last_byte: u8,
}

impl Array {
    /// The array whose value starts after the `=` at `from` (blanks
    /// first); `None` when the value is not an array or does not end.
    fn find(text: &str, from: usize) -> Option<Self> {
        let bytes = text.as_bytes();
        let mut at = from;
        while at < bytes.len() && (bytes[at] == b' ' || bytes[at] == b'\t') {
            at += 1;
        }
        if bytes.get(at) != Some(&b'[') {
            return None;
        }
        let open = at;
        let mut depth = 0_usize;
        let mut last = open;
        while at < bytes.len() {
            let byte = bytes[at];
            match byte {
                b'#' => {
                    while at < bytes.len() && bytes[at] != b'\n' {
                        at += 1;
                    }
                    continue;
                }
                b'"' | b'\'' => {
                    let triple =
                        bytes[at..].starts_with(if byte == b'"' { b"\"\"\"" } else { b"'''" });
                    let end = string_end(bytes, at, byte, triple)?;
                    last = end - 1;
                    at = end;
                    continue;
                }
                b'[' => depth += 1,
                b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(Self {
                            open,
                            close: at,
                            last,
                            last_byte: bytes[last],
                        });
                    }
                }
                _ => {}
            }
            if !byte.is_ascii_whitespace() {
                last = at;
            }
            at += 1;
        }
        None
    }

    fn is_empty(&self) -> bool {
        self.last == self.open
    }

    fn ends_with_comma(&self) -> bool {
        self.last_byte == b','
    }
}

/// The byte after the string starting at `start` (a `quote`, three of
/// them when `triple`); basic strings honour backslash escapes.
fn string_end(bytes: &[u8], start: usize, quote: u8, triple: bool) -> Option<usize> {
    let width = if triple { 3 } else { 1 };
    let mut at = start + width;
    while at < bytes.len() {
        if quote == b'"' && bytes[at] == b'\\' {
            at += 2;
            continue;
        }
        if bytes[at] == quote && (!triple || bytes[at..].starts_with(&[quote; 3])) {
            return Some(at + width);
        }
        if !triple && bytes[at] == b'\n' {
            return None;
        }
        at += 1;
    }
    None
}

/// `text` as a TOML basic string.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Replaces the file at `path` with `text`: a temporary file in the same
/// directory renamed over it, with the old file's permissions.
fn write(path: &Path, text: &str) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other("not a file name"))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(".tmp");
    let temp = dir.join(temp_name);
    let written = (|| {
        let mut file = fs::File::create(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        if let Ok(meta) = fs::metadata(path) {
            fs::set_permissions(&temp, meta.permissions())?;
        }
        fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rules(rules: &[&str]) -> Vec<String> {
        rules.iter().map(|&rule| rule.to_owned()).collect()
    }

    fn edited(text: &str, new: &[&str]) -> String {
        edit(text, &rules(new)).unwrap().0
    }

    #[test]
    fn a_missing_table_is_appended_and_the_rest_kept() {
        let text = "# how we replay\n[replay]\nport = 8081 # the service\n";
        assert_eq!(
            edited(text, &["$.nonce", "$['say \"hi\"']"]),
            "# how we replay\n[replay]\nport = 8081 # the service\n\n[replay.compare]\n\
             ignore = [\n    \"$.nonce\",\n    \"$['say \\\"hi\\\"']\",\n]\n"
        );
        assert_eq!(
            edited("", &["$.a"]),
            "[replay.compare]\nignore = [\n    \"$.a\",\n]\n"
        );
    }

    #[test]
    fn a_table_without_ignore_gets_the_key_under_its_header() {
        let text = "[replay.compare] # rules\nepochs = false\n\n[record]\ndir = \"r\"\n";
        assert_eq!(
            edited(text, &["$.a"]),
            "[replay.compare] # rules\nignore = [\n    \"$.a\",\n]\nepochs = false\n\n[record]\n\
             dir = \"r\"\n"
        );
    }

    #[test]
    fn an_existing_array_gets_the_new_rules_at_its_end() {
        let text = "[replay.compare]\nignore = [\"$.a\"] # old\nepochs = false\n";
        assert_eq!(
            edited(text, &["$.a", "$.b"]),
            "[replay.compare]\nignore = [\"$.a\", \"$.b\"] # old\nepochs = false\n"
        );
        assert_eq!(
            edited("[replay.compare]\nignore = []\n", &["$.b"]),
            "[replay.compare]\nignore = [\"$.b\"]\n"
        );
        let text = "[replay.compare]\nignore = [\n  \"$.a\", # the id\n  \"$[']']\"\n]\n[x]\n";
        assert_eq!(
            edited(text, &["$.b"]),
            "[replay.compare]\nignore = [\n  \"$.a\", # the id\n  \"$[']']\",\n    \"$.b\",\n]\n[x]\n"
        );
    }

    #[test]
    fn nothing_new_changes_nothing() {
        let text = "[replay.compare]\nignore = [\"$.a\"]\n";
        let (out, added) = edit(text, &rules(&["$.a"])).unwrap();
        assert_eq!(out, text);
        assert!(added.is_empty());
    }

    #[test]
    fn layouts_it_cannot_edit_are_refused() {
        for text in [
            "[replay]\ncompare = { epochs = false }\n",
            "[replay]\ncompare.ignore = [\"$.a\"]\n",
            "replay = { port = 1 }\n",
            "not toml = = \n",
        ] {
            assert!(edit(text, &rules(&["$.b"])).is_err(), "{text}");
        }
    }

    #[test]
    fn the_file_is_created_or_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tracetape.toml");
        let added = add(&path, &rules(&["$.a"])).unwrap();
        assert!(added.created);
        let added = add(&path, &rules(&["$.a", "$.b"])).unwrap();
        assert_eq!(
            added,
            Added {
                rules: rules(&["$.b"]),
                created: false
            }
        );
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "[replay.compare]\nignore = [\n    \"$.a\",\n    \"$.b\",\n]\n"
        );
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }
}
