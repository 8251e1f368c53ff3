//! Key-value pairs, as a query string or a form body holds them, paired
//! between a recorded call and a live one.

use super::difference::{CallDifference, CallPart};
use super::dynamic::alike_str;

/// How the pairs of a live call line up with the recorded ones.
#[derive(Debug)]
pub(super) struct Paired<'a> {
    /// Pairs found on both sides (equal or [alike](alike_str)).
    pub(super) alike: u64,
    /// Recorded pairs with no live counterpart.
    recorded: Vec<&'a (String, String)>,
    /// Live pairs with no recorded counterpart.
    live: Vec<&'a (String, String)>,
}

/// Pairs `live` with `recorded`: equal pairs first, then, key by key, a
/// recorded value with a live value it is alike to.
pub(super) fn pair<'a>(
    recorded: &'a [(String, String)],
    live: &'a [(String, String)],
) -> Paired<'a> {
    let mut live_left: Vec<Option<&(String, String)>> = live.iter().map(Some).collect();
    let mut recorded_left = Vec::new();
    let mut alike = 0;
    let mut take = |wanted: &dyn Fn(&(String, String)) -> bool| {
        let slot = live_left.iter_mut().find(|slot| slot.is_some_and(wanted))?;
        slot.take()
    };
    let mut unequal = Vec::new();
    for pair in recorded {
        if take(&|live| live == pair).is_some() {
            alike += 1;
        } else {
            unequal.push(pair);
        }
    }
    for pair in unequal {
        let (key, value) = pair;
        if take(&|(k, v)| k == key && alike_str(value, v)).is_some() {
            alike += 1;
        } else {
            recorded_left.push(pair);
        }
    }
    Paired {
        alike,
        recorded: recorded_left,
        live: live_left.into_iter().flatten().collect(),
    }
}

impl Paired<'_> {
    /// Whether every pair found its counterpart.
    pub(super) fn all_alike(&self) -> bool {
        self.recorded.is_empty() && self.live.is_empty()
    }

    /// Pairs in either call, a pair found on both sides counted once.
    pub(super) fn total(&self) -> u64 {
        self.alike + self.recorded.len() as u64 + self.live.len() as u64
    }

    /// What differs, each key named as `name(key)` says: a recorded value
    /// with a live value under the same key is changed, others missing
    /// or unexpected.
    pub(super) fn differences(
        &self,
        part: CallPart,
        name: impl Fn(&str) -> String,
    ) -> Vec<CallDifference> {
        let mut live: Vec<Option<&(String, String)>> =
            self.live.iter().copied().map(Some).collect();
        let mut differences = Vec::new();
        for (key, expected) in &self.recorded {
            let actual = live
                .iter_mut()
                .find(|slot| slot.is_some_and(|(k, _)| k == key))
                .and_then(Option::take)
                .map(|(_, value)| value.as_str());
            differences.push(CallDifference::new(part, name(key), Some(expected), actual));
        }
        for (key, actual) in live.into_iter().flatten() {
            differences.push(CallDifference::new(part, name(key), None, Some(actual)));
        }
        differences
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn dynamic_values_pair_with_their_kind_and_business_values_must_be_equal() {
        let recorded = pairs(&[
            ("item", "5"),
            ("sig", "9f86d081884c7d659a2feaa0c55ad015"),
            ("ts", "1733462400123"),
        ]);
        let live = pairs(&[
            ("item", "5"),
            ("sig", "2c26b46b68ffc68ff99b453c1d304134"),
            ("ts", "1765000000999"),
        ]);
        let paired = pair(&recorded, &live);
        assert!(paired.all_alike());
        assert_eq!((paired.alike, paired.total()), (3, 3));

        let other_item = pairs(&[
            ("item", "6"),
            ("sig", "2c26b46b68ffc68ff99b453c1d304134"),
            ("ts", "1765000000999"),
        ]);
        let paired = pair(&recorded, &other_item);
        assert!(!paired.all_alike());
        assert_eq!((paired.alike, paired.total()), (2, 4));
        let differences = paired.differences(CallPart::Query, str::to_owned);
        assert_eq!(differences.len(), 1);
        assert_eq!(
            differences[0].to_string(),
            "query item: expected 5, actual 6"
        );
    }

    #[test]
    fn a_dropped_or_added_value_is_missing_or_unexpected() {
        let recorded = pairs(&[("a", "1"), ("b", "2")]);
        let dropped = pairs(&[("a", "1")]);
        let paired = pair(&recorded, &dropped);
        assert_eq!(
            paired.differences(CallPart::Query, str::to_owned)[0].to_string(),
            "query b: missing (expected 2)"
        );
        let added = pairs(&[("a", "1"), ("b", "2"), ("c", "3")]);
        let paired = pair(&recorded, &added);
        assert_eq!(
            paired.differences(CallPart::Query, |key| format!("$.{key}"))[0].to_string(),
            "query $.c: unexpected 3"
        );
    }
}
