//! Recognising a DNS query in a datagram's payload: a resolver that speaks
//! DNS itself (hickory, c-ares, a hand-written client) sends one to port 53
//! instead of calling `getaddrinfo`, and the name it asks for is what the
//! report names.

/// The well-known port of DNS, where a datagram is looked into.
pub(crate) const PORT: u16 = 53;

/// The bytes of a DNS message the first question's name can be read from:
/// the 12-byte header, a name of at most 255 bytes and the question's type
/// and class. Callers need not hand over more of a payload than this.
pub(crate) const QUESTION_BYTES: usize = HEADER + MAX_NAME + 4;

/// The size of a DNS header (RFC 1035, 4.1.1).
const HEADER: usize = 12;

/// The longest name on the wire, length bytes and the root's 0 included
/// (RFC 1035, 2.3.4).
const MAX_NAME: usize = 255;

/// The name the first question of the DNS query `payload` asks for, dotted
/// and without the trailing dot (`db.internal`), when `payload` is one:
/// a header with the query bit clear and at least one question, then a
/// complete question whose name is made of uncompressed labels of printable
/// ASCII other than `.` (a compression pointer cannot occur in the first
/// question of a query, since there is nothing before it to point to).
///
/// `None` for anything else: a response, a truncated or garbage payload, a
/// name with compression or with unusual bytes, the root name. Never panics.
pub(crate) fn query_name(payload: &[u8]) -> Option<String> {
    let header = payload.get(..HEADER)?;
    let is_response = header[2] & 0x80 != 0;
    let questions = u16::from_be_bytes([header[4], header[5]]);
    if is_response || questions == 0 {
        return None;
    }
    let mut name = String::new();
    let mut at = HEADER;
    loop {
        let len = usize::from(*payload.get(at)?);
        if len == 0 {
            at += 1;
            break;
        }
        // 0b11…: a compression pointer; 0b01… and 0b10…: reserved or
        // extended label types. None is expected here.
        if len > 63 {
            return None;
        }
        let label = payload.get(at + 1..at + 1 + len)?;
        if !label.iter().all(|&b| b.is_ascii_graphic() && b != b'.') {
            return None;
        }
        if !name.is_empty() {
            name.push('.');
        }
        // Printable ASCII (checked above), so one `char` per byte.
        name.extend(label.iter().copied().map(char::from));
        at += 1 + len;
        // The labels so far and the root's 0 still to come.
        if at - HEADER + 1 > MAX_NAME {
            return None;
        }
    }
    // The question's type and class follow the name.
    payload.get(at..at + 4)?;
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A standard query (id 0x1234, recursion desired) for `name`'s A
    /// record, as a resolver sends it.
    pub(crate) fn query(name: &str) -> Vec<u8> {
        let mut message = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.').filter(|label| !label.is_empty()) {
            message.push(u8::try_from(label.len()).unwrap_or(u8::MAX));
            message.extend_from_slice(label.as_bytes());
        }
        message.push(0);
        message.extend_from_slice(&[0, 1, 0, 1]);
        message
    }

    #[test]
    fn reads_the_first_question_s_name() {
        assert_eq!(
            query_name(&query("db.internal")),
            Some("db.internal".to_owned())
        );
        assert_eq!(
            query_name(&query("localhost")),
            Some("localhost".to_owned())
        );
        // A trailing dot in what was asked for is not in the name.
        assert_eq!(
            query_name(&query("Example.COM.")),
            Some("Example.COM".to_owned())
        );
        // An EDNS record after the question changes nothing.
        let mut with_opt = query("a.b");
        with_opt[11] = 1;
        with_opt.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(query_name(&with_opt), Some("a.b".to_owned()));
    }

    #[test]
    fn rejects_responses_and_messages_without_questions() {
        let mut response = query("db.internal");
        response[2] |= 0x80;
        assert_eq!(query_name(&response), None);
        let mut none = query("db.internal");
        none[5] = 0;
        assert_eq!(query_name(&none), None);
    }

    #[test]
    fn rejects_compression_pointers_and_other_label_types() {
        let mut pointer = query("");
        // Replace the root name by a pointer to offset 12 (itself).
        pointer.truncate(HEADER);
        pointer.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
        assert_eq!(query_name(&pointer), None);
        let mut after_label = query("db");
        after_label.truncate(HEADER + 3);
        after_label.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
        assert_eq!(query_name(&after_label), None);
        let mut extended = query("db");
        extended[HEADER] = 0x42;
        assert_eq!(query_name(&extended), None);
    }

    #[test]
    fn rejects_the_root_odd_bytes_and_overlong_names() {
        assert_eq!(query_name(&query("")), None);
        let mut dotted = query("a.b");
        dotted[HEADER + 1] = b'.';
        assert_eq!(query_name(&dotted), None);
        let mut binary = query("ab");
        binary[HEADER + 1] = 0;
        assert_eq!(query_name(&binary), None);
        // 5 labels of 63 bytes: 320 bytes of name, over 255.
        let long = vec!["x".repeat(63); 5].join(".");
        assert_eq!(query_name(&query(&long)), None);
        // 3 labels of 63 and one of 61: 253 characters, 255 bytes on the wire.
        let longest = [
            "x".repeat(63),
            "x".repeat(63),
            "x".repeat(63),
            "x".repeat(61),
        ]
        .join(".");
        assert_eq!(query_name(&query(&longest)), Some(longest.clone()));
        assert!(query(&longest).len() <= QUESTION_BYTES);
    }

    #[test]
    fn truncated_or_garbage_input_gives_none_without_panicking() {
        let whole = query("db.internal");
        for len in 0..whole.len() {
            assert_eq!(query_name(&whole[..len]), None, "{len} bytes");
        }
        // Every byte value at every position of a short message, and a
        // deterministic pseudo-random spray: none may panic.
        for at in 0..whole.len() {
            for value in 0..=u8::MAX {
                let mut changed = whole.clone();
                changed[at] = value;
                let _ = query_name(&changed);
            }
        }
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..2000 {
            let mut garbage = Vec::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = usize::try_from(state % 300).unwrap_or(0);
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                garbage.push(state.to_le_bytes()[0]);
            }
            let _ = query_name(&garbage);
        }
    }
}
