//! The `tracestate` grammar of W3C Trace Context Level 2, and the bridge to
//! OpenTelemetry's [`TraceState`].

use opentelemetry::trace::TraceState;

use super::ids::trim_ows;

/// The most list-members a `tracestate` may hold.
const MAX_MEMBERS: usize = 32;

/// Sent `tracestate` headers are cut to this many characters (the
/// specification asks vendors to propagate at least this much).
const MAX_HEADER: usize = 512;

/// List-members longer than this are the first to go when a header is cut.
const LONG_MEMBER: usize = 128;

/// The longest key.
const MAX_KEY: usize = 256;

/// The longest value.
const MAX_VALUE: usize = 256;

/// The list carried by the received `tracestate` fields, read as one
/// comma-separated list in the order they came; an empty state when the
/// combined list breaks the grammar anywhere (a bad key or value, more than
/// 32 list-members).
///
/// Empty and whitespace-only list-members are allowed and skipped. Keys
/// are unique by the sender's care, not the receiver's check: a repeated
/// key keeps its first (leftmost) list-member and drops the later ones,
/// and the rest of the list stands.
pub(crate) fn parse(fields: &[&str]) -> TraceState {
    match members(fields) {
        Some(members) => to_trace_state(&members),
        None => TraceState::NONE,
    }
}

/// The `(key, value)` list-members of `fields`, or `None` when invalid.
fn members<'a>(fields: &[&'a str]) -> Option<Vec<(&'a str, &'a str)>> {
    let mut members: Vec<(&str, &str)> = Vec::new();
    for member in fields.iter().flat_map(|field| field.split(',')) {
        let member = trim_ows(member);
        if member.is_empty() {
            continue;
        }
        if members.len() == MAX_MEMBERS {
            return None;
        }
        let (key, value) = member.split_once('=')?;
        if !valid_key(key) || !valid_value(value) {
            return None;
        }
        if !members.iter().any(|(k, _)| *k == key) {
            members.push((key, value));
        }
    }
    Some(members)
}

/// The members as OpenTelemetry's `TraceState`.
///
/// `TraceState` checks keys itself by the earlier `tenant@system` rule,
/// and refuses some that the grammar allows: more than one `@`, more than
/// 13 characters after it, or one that does not start with a letter or
/// digit. Those members are left out and the others kept, since the type
/// that carries the state in the span context cannot hold them.
fn to_trace_state(members: &[(&str, &str)]) -> TraceState {
    if members.is_empty() {
        return TraceState::NONE;
    }
    TraceState::from_key_value(members.iter().copied()).unwrap_or_else(|_| {
        let holdable = members
            .iter()
            .copied()
            .filter(|member| TraceState::from_key_value([*member]).is_ok());
        TraceState::from_key_value(holdable).unwrap_or_default()
    })
}

/// The `tracestate` header for `state`: its valid list-members, each key
/// once (the leftmost, most recent, wins), at most 32; empty when none.
///
/// A header longer than [`MAX_HEADER`] characters is cut as the
/// specification's limits section asks: list-members longer than
/// [`LONG_MEMBER`] characters go first (the rightmost first), then
/// list-members from the right, until it fits.
pub(crate) fn header(state: &TraceState) -> String {
    let mut members: Vec<(&str, &str)> = Vec::new();
    for (key, value) in state {
        if members.len() == MAX_MEMBERS {
            break;
        }
        if !valid_key(key) || !valid_value(value) || members.iter().any(|(k, _)| *k == key) {
            continue;
        }
        members.push((key, value));
    }
    let member_len = |(key, value): &(&str, &str)| key.len() + 1 + value.len();
    let header_len = |members: &[(&str, &str)]| {
        members.iter().map(member_len).sum::<usize>() + members.len().saturating_sub(1)
    };
    while header_len(&members) > MAX_HEADER {
        if let Some(long) = members.iter().rposition(|m| member_len(m) > LONG_MEMBER) {
            members.remove(long);
        } else {
            members.pop();
        }
    }
    let mut header = String::with_capacity(header_len(&members));
    for (i, (key, value)) in members.iter().enumerate() {
        if i > 0 {
            header.push(',');
        }
        header.push_str(key);
        header.push('=');
        header.push_str(value);
    }
    header
}

/// `key = ( lcalpha / DIGIT ) 0*255 ( keychar )`, where
/// `keychar = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"`.
///
/// (Level 2 as it stands: the `tenant@system` form of earlier drafts is
/// one case of it, with no limit on where or how often `@` appears.)
pub(crate) fn valid_key(key: &str) -> bool {
    let start = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let keychar = |b: u8| start(b) || matches!(b, b'_' | b'-' | b'*' | b'/' | b'@');
    match key.as_bytes().split_first() {
        Some((&first, rest)) => {
            key.len() <= MAX_KEY && start(first) && rest.iter().all(|&b| keychar(b))
        }
        None => false,
    }
}

/// `value = 0*255(chr) nblk-chr`, where `chr` is printable ASCII but `,`
/// and `=`, and the last one (`nblk-chr`) is no space.
pub(crate) fn valid_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    let chr = |b: u8| matches!(b, 0x20..=0x7e) && b != b',' && b != b'=';
    matches!(bytes.last(), Some(&last) if last != b' ')
        && bytes.len() <= MAX_VALUE
        && bytes.iter().all(|&b| chr(b))
}
