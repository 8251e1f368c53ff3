//! JSON bodies pretty-printed by serde_json, in the body's own key order
//! (the workspace builds serde_json with `preserve_order`).

/// `bytes` pretty-printed, if they are one JSON document.
pub(super) fn pretty(bytes: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    serde_json::to_string_pretty(&value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_their_order() {
        let pretty = pretty(br#"{"z":1,"a":[true,null,-2.5,"x"],"m":{}}"#);
        assert_eq!(
            pretty.as_deref(),
            Some(
                "{\n  \"z\": 1,\n  \"a\": [\n    true,\n    null,\n    -2.5,\n    \"x\"\n  ],\n  \"m\": {}\n}"
            )
        );
    }

    #[test]
    fn anything_else_is_not_json() {
        assert_eq!(pretty(b""), None);
        assert_eq!(pretty(b"{\"cut\": "), None);
        assert_eq!(pretty(b"hello"), None);
        assert_eq!(pretty(b"1 2"), None);
    }
}
