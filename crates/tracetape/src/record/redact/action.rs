//! What an action turns a found value into.

use super::{RedactAction, RedactionKey};

impl RedactAction {
    /// The text `value` becomes, or `None` when the action drops the
    /// exchange instead.
    pub(crate) fn rewrite(&self, value: &[u8], key: &RedactionKey) -> Option<String> {
        match self {
            Self::Redact => Some(key.redact(value)),
            Self::Mask { keep } => Some(mask(&String::from_utf8_lossy(value), *keep)),
            Self::Replace(text) => Some(text.clone()),
            Self::Drop => None,
        }
    }
}

/// Every character of `value` but the last `keep` as `*`; all of them
/// when there are no more than `keep`.
fn mask(value: &str, keep: usize) -> String {
    let count = value.chars().count();
    if count <= keep {
        return "*".repeat(count);
    }
    let hidden = count - keep;
    let mut masked = "*".repeat(hidden);
    masked.extend(value.chars().skip(hidden));
    masked
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn each_action_rewrites_as_documented() {
        let key = RedactionKey::ephemeral().unwrap();
        let card = b"4111111111111111";
        assert_eq!(
            RedactAction::Mask { keep: 4 }.rewrite(card, &key).unwrap(),
            "************1111"
        );
        assert_eq!(
            RedactAction::Mask { keep: 4 }
                .rewrite(b"abc", &key)
                .unwrap(),
            "***"
        );
        assert_eq!(
            RedactAction::Mask { keep: 0 }
                .rewrite("żółw".as_bytes(), &key)
                .unwrap(),
            "****"
        );
        assert_eq!(
            RedactAction::Replace("x".into())
                .rewrite(card, &key)
                .unwrap(),
            "x"
        );
        assert_eq!(
            RedactAction::Redact.rewrite(card, &key),
            Some(key.redact(card))
        );
        assert_eq!(RedactAction::Drop.rewrite(card, &key), None);
    }
}
