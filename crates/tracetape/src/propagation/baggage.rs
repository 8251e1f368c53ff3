//! [`BaggagePropagator`]: W3C Baggage, the `baggage` header.

use std::fmt::Write as _;
use std::sync::LazyLock;

use opentelemetry::Context;
use opentelemetry::baggage::{Baggage, BaggageExt};
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};

use super::ids::trim_ows;

const BAGGAGE: &str = "baggage";

static FIELDS: LazyLock<[String; 1]> = LazyLock::new(|| [BAGGAGE.to_owned()]);

/// The limits below which every list-member must be propagated; past them
/// the specification lets a platform drop list-members.
const MAX_MEMBERS: usize = 64;
const MAX_BYTES: usize = 8192;

/// Propagates [`Baggage`] in [W3C Baggage] format, under the `baggage`
/// header.
///
/// Every `baggage` header is read, as one list. A list-member that breaks
/// the grammar is skipped and the others kept; values are percent-decoded
/// (invalid UTF-8 becomes U+FFFD) and properties are kept, as written, in
/// the entry's metadata. At most 64 list-members and 8192 bytes are kept
/// and sent: members past either limit are dropped. The [module
/// documentation](super) has the details.
///
/// ```
/// use std::collections::HashMap;
///
/// use opentelemetry::baggage::BaggageExt;
/// use opentelemetry::propagation::TextMapPropagator;
/// use tracetape::propagation::BaggagePropagator;
///
/// let propagator = BaggagePropagator::new();
/// let incoming = HashMap::from([(
///     "baggage".to_owned(),
///     "userId=alice, serverNode = DF%2028;region=eu, bad key=x".to_owned(),
/// )]);
/// let cx = propagator.extract(&incoming);
/// let baggage = cx.baggage();
/// assert_eq!(baggage.get("userId").map(|v| v.as_str()), Some("alice"));
/// let (node, properties) = baggage.get_with_metadata("serverNode").unwrap();
/// assert_eq!((node.as_str(), properties.as_str()), ("DF 28", "region=eu"));
/// assert_eq!(baggage.len(), 2);
///
/// let mut outgoing = HashMap::new();
/// propagator.inject_context(&cx, &mut outgoing);
/// assert_eq!(outgoing["baggage"], "serverNode=DF%2028;region=eu,userId=alice");
/// ```
///
/// [W3C Baggage]: https://www.w3.org/TR/baggage/
#[derive(Debug, Clone, Default)]
pub struct BaggagePropagator {
    _private: (),
}

impl BaggagePropagator {
    /// A baggage propagator.
    pub fn new() -> Self {
        BaggagePropagator::default()
    }
}

impl TextMapPropagator for BaggagePropagator {
    /// Writes the baggage of `cx` as one `baggage` header, entries in key
    /// order (the baggage itself has none), values percent-encoded.
    /// Nothing is written for empty baggage.
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let baggage = cx.baggage();
        if baggage.is_empty() {
            return;
        }
        let header = header(baggage);
        if !header.is_empty() {
            injector.set(BAGGAGE, header);
        }
    }

    /// `cx` with the baggage of the request's `baggage` headers, which
    /// replaces any baggage `cx` had; `cx` itself when there is no such
    /// header.
    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        match extractor.get_all(BAGGAGE) {
            Some(fields) => cx.with_baggage(parse(&fields)),
            None => cx.clone(),
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(FIELDS.as_slice())
    }
}

/// The baggage in `fields`, read as one list.
fn parse(fields: &[&str]) -> Baggage {
    let mut baggage = Baggage::new();
    let mut size = Size::default();
    for text in fields.iter().flat_map(|field| field.split(',')) {
        let text = trim_ows(text);
        if text.is_empty() {
            continue;
        }
        let Some(member) = Member::parse(text) else {
            continue;
        };
        if !size.admit(text.len()) {
            break;
        }
        baggage.insert_with_metadata(member.key, member.value, member.properties);
    }
    baggage
}

/// The `baggage` header for `baggage`.
fn header(baggage: &Baggage) -> String {
    let mut entries: Vec<_> = baggage.iter().collect();
    entries.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
    let mut header = String::new();
    let mut size = Size::default();
    for (key, (value, metadata)) in entries {
        // Baggage only holds token keys, but it is cheap to be sure.
        if !is_token(key.as_str()) {
            continue;
        }
        let mut member = String::with_capacity(key.as_str().len() + 1 + value.as_str().len());
        member.push_str(key.as_str());
        member.push('=');
        percent_encode(value.as_str(), &mut member);
        // Metadata that is no property list is not sent.
        if let Some(properties) = properties(metadata.as_str()).filter(|p| !p.is_empty()) {
            member.push(';');
            member.push_str(&properties);
        }
        if !size.admit(member.len()) {
            break;
        }
        if !header.is_empty() {
            header.push(',');
        }
        header.push_str(&member);
    }
    header
}

/// The list-members and bytes of a baggage-string so far.
#[derive(Debug, Default)]
struct Size {
    members: usize,
    bytes: usize,
}

impl Size {
    /// Counts one more list-member of `len` bytes, unless that would pass
    /// a limit.
    fn admit(&mut self, len: usize) -> bool {
        let bytes = self.bytes + len + usize::from(self.members > 0);
        if self.members == MAX_MEMBERS || bytes > MAX_BYTES {
            return false;
        }
        self.members += 1;
        self.bytes = bytes;
        true
    }
}

/// One list-member: `key OWS "=" OWS value *( OWS ";" OWS property )`.
#[derive(Debug)]
struct Member {
    key: String,
    /// Percent-decoded.
    value: String,
    /// The properties as sent, without whitespace, joined by `;`.
    properties: String,
}

impl Member {
    fn parse(text: &str) -> Option<Member> {
        let (pair, rest) = match text.split_once(';') {
            Some((pair, rest)) => (pair, Some(rest)),
            None => (text, None),
        };
        let (key, value) = pair.split_once('=')?;
        let key = trim_ows(key);
        let value = trim_ows(value);
        if !is_token(key) || !value.bytes().all(is_baggage_octet) {
            return None;
        }
        Some(Member {
            key: key.to_owned(),
            value: percent_decode(value)?,
            properties: match rest {
                Some(rest) => properties(rest)?,
                None => String::new(),
            },
        })
    }
}

/// The `;`-separated properties in `text` (`key` or `key=value`), with
/// the whitespace around each part removed; `None` when one is malformed.
/// Empty ones are skipped.
fn properties(text: &str) -> Option<String> {
    let mut out = String::new();
    for property in text.split(';').map(trim_ows).filter(|p| !p.is_empty()) {
        if !out.is_empty() {
            out.push(';');
        }
        match property.split_once('=') {
            Some((key, value)) => {
                let (key, value) = (trim_ows(key), trim_ows(value));
                if !is_token(key) || !value.bytes().all(is_baggage_octet) {
                    return None;
                }
                out.push_str(key);
                out.push('=');
                out.push_str(value);
            }
            None if is_token(property) => out.push_str(property),
            None => return None,
        }
    }
    Some(out)
}

/// `token` of RFC 9110: one or more visible ASCII characters that are not
/// delimiters.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// `baggage-octet`: visible ASCII but `"`, `,`, `;` and `\`.
fn is_baggage_octet(byte: u8) -> bool {
    matches!(byte, 0x21..=0x7e) && !matches!(byte, b'"' | b',' | b';' | b'\\')
}

/// `value` with each `%XX` replaced by its byte and the bytes read as
/// UTF-8, invalid sequences replaced by U+FFFD; `None` when a `%` is not
/// followed by two hex digits.
fn percent_decode(value: &str) -> Option<String> {
    if !value.contains('%') {
        return Some(value.to_owned());
    }
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if byte == b'%' {
            let high = char::from(*bytes.get(i + 1)?).to_digit(16)?;
            let low = char::from(*bytes.get(i + 2)?).to_digit(16)?;
            out.push(u8::try_from(high * 16 + low).ok()?);
            i += 3;
        } else {
            out.push(byte);
            i += 1;
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// Appends `value` to `out` with every byte but RFC 3986's unreserved
/// characters (`A-Z a-z 0-9 - . _ ~`) percent-encoded. That is more than
/// the baggage grammar requires, but `=` and `+` are then safe from
/// receivers that split on the first `=` or decode `+` as a space.
fn percent_encode(value: &str, out: &mut String) {
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

#[cfg(test)]
mod tests;
