//! Table-driven tests of the `baggage` header: the W3C specification's
//! examples and the W3C test suite's cases, malformed members, limits and
//! percent-encoding.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use opentelemetry::baggage::KeyValueMetadata;

use super::*;
use crate::propagation::tests::{Headers, injected};

/// The baggage extracted from `baggage` headers with these values, as
/// `(key, value, properties)` in key order.
fn extract(values: &[&str]) -> Vec<(String, String, String)> {
    let headers = Headers::new(values.iter().map(|value| ("baggage", *value)));
    let cx = BaggagePropagator::new().extract_with_context(&Context::new(), &headers);
    entries(cx.baggage())
}

fn entries(baggage: &Baggage) -> Vec<(String, String, String)> {
    let mut entries: Vec<_> = baggage
        .iter()
        .map(|(key, (value, metadata))| {
            (
                key.to_string(),
                value.as_str().to_owned(),
                metadata.as_str().to_owned(),
            )
        })
        .collect();
    entries.sort();
    entries
}

/// `(key, value, properties)`
type Entry<'a> = (&'a str, &'a str, &'a str);

fn expected(list: &[Entry<'_>]) -> Vec<(String, String, String)> {
    let mut list: Vec<_> = list
        .iter()
        .map(|(k, v, m)| ((*k).to_owned(), (*v).to_owned(), (*m).to_owned()))
        .collect();
    list.sort();
    list
}

#[test]
fn valid_members_are_kept() {
    let cases: &[(&[&str], &[Entry<'_>])] = &[
        (
            &["key1=val1,key2=val2"],
            &[("key1", "val1", ""), ("key2", "val2", "")],
        ),
        // Whitespace around keys, values and members.
        (
            &["key1 =   val1,  key2 =val2   "],
            &[("key1", "val1", ""), ("key2", "val2", "")],
        ),
        // The specification's example, with properties.
        (
            &[
                "key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue",
            ],
            &[
                ("key1", "value1", "property1;property2"),
                ("key2", "value2", ""),
                ("key3", "value3", "propertyKey=propertyValue"),
            ],
        ),
        (
            &[
                "SomeKey \t = \t SomeValue \t ; \t SomeProp \t , \t SomeKey2 \t = \t SomeValue2 \t ; \t ValueProp \t = \t PropVal",
            ],
            &[
                ("SomeKey", "SomeValue", "SomeProp"),
                ("SomeKey2", "SomeValue2", "ValueProp=PropVal"),
            ],
        ),
        (
            &["SomeKey=SomeValue;SomeProp;SecondProp=PropValue"],
            &[("SomeKey", "SomeValue", "SomeProp;SecondProp=PropValue")],
        ),
        // A value may hold `=`.
        (
            &["SomeKey=SomeValue=equals"],
            &[("SomeKey", "SomeValue=equals", "")],
        ),
        // Percent-encoded values are decoded.
        (
            &["SomeKey=%09%20%22%27%3B%3Dasdf%21%40%23%24%25%5E%26%2A%28%29"],
            &[("SomeKey", "\t \"';=asdf!@#$%^&*()", "")],
        ),
        (
            &["userId=alice,serverNode=DF%2028,isProduction=false"],
            &[
                ("isProduction", "false", ""),
                ("serverNode", "DF 28", ""),
                ("userId", "alice", ""),
            ],
        ),
        (&["k=%F0%9F%98%8A"], &[("k", "😊", "")]),
        (&["k=%c3%a9"], &[("k", "é", "")]),
        // Percent-encoded bytes that are no UTF-8 become U+FFFD.
        (&["k=a%FFb"], &[("k", "a\u{FFFD}b", "")]),
        (&["k=+"], &[("k", "+", "")]),
        (&["k="], &[("k", "", "")]),
        // Several headers are one list.
        (
            &["userId=alice", "serverNode=DF%2028,isProduction=false"],
            &[
                ("isProduction", "false", ""),
                ("serverNode", "DF 28", ""),
                ("userId", "alice", ""),
            ],
        ),
        // Empty list-members and properties are skipped.
        (&[",,a=1, ,", ""], &[("a", "1", "")]),
        (&["a=1;;p;"], &[("a", "1", "p")]),
        // Keys are tokens, not only letters.
        (&["a!#$%&'*+-.^_`|~9=1"], &[("a!#$%&'*+-.^_`|~9", "1", "")]),
        // A repeated key: the last one wins.
        (&["a=1,a=2"], &[("a", "2", "")]),
    ];
    for (headers, entries) in cases {
        assert_eq!(extract(headers), expected(entries), "{headers:?}");
    }
}

#[test]
fn malformed_members_are_skipped_and_the_others_kept() {
    for bad in [
        "bad key=1",
        "(k)=1",
        "k@=1",
        "ké=1",
        "=1",
        "noequals",
        "k=a b",
        "k=\"quoted\"",
        "k=back\\slash",
        "k=é",
        "k=\u{7f}",
        "k=%zz",
        "k=%4",
        "k=%",
        "k=1;bad prop",
        "k=1;=x",
        "k=1;p=a b",
        "k=1;p=\"x\"",
    ] {
        let header = format!("good=1,{bad},fine=2");
        assert_eq!(
            extract(&[&header]),
            expected(&[("fine", "2", ""), ("good", "1", "")]),
            "{bad:?}"
        );
    }
}

#[test]
fn no_header_leaves_the_context_and_an_empty_one_empties_the_baggage() {
    let before = Context::new().with_baggage([KeyValueMetadata::new("old", "1", "")]);
    let propagator = BaggagePropagator::new();
    let untouched = propagator.extract_with_context(&before, &Headers::new([]));
    assert_eq!(entries(untouched.baggage()), expected(&[("old", "1", "")]));
    let replaced = propagator.extract_with_context(&before, &Headers::new([("baggage", "")]));
    assert!(replaced.baggage().is_empty());
}

#[test]
fn members_past_64_are_dropped() {
    let members: Vec<String> = (0..70).map(|n| format!("k{n:02}={n}")).collect();
    // Malformed members do not count.
    let header = format!("bad,{}", members.join(","));
    let kept = extract(&[&header, "late=1"]);
    assert_eq!(kept.len(), 64);
    assert_eq!(kept.first().unwrap().0, "k00");
    assert_eq!(kept.last().unwrap().0, "k63");
    // Spread over several headers, the same.
    let (first, second) = members.split_at(40);
    let kept = extract(&[&first.join(","), &second.join(",")]);
    assert_eq!(kept.len(), 64);
    assert_eq!(kept.last().unwrap().0, "k63");
}

#[test]
fn members_past_8192_bytes_are_dropped() {
    // Exactly 8192 bytes (W3C test suite): kept.
    let full = format!("a={}", "0123456789".repeat(819));
    assert_eq!(full.len(), 8192);
    let kept = extract(&[&full]);
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].1.len(), 8190);
    // One more member would pass the limit.
    assert_eq!(extract(&[&full, "b=1"]).len(), 1);
    // Members up to the limit are kept, the rest dropped.
    let big = format!("a={}", "x".repeat(8000));
    let kept = extract(&[&format!("{big},b=1,c={},d=1", "y".repeat(500))]);
    assert_eq!(
        kept.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
}

#[test]
fn inject_percent_encodes_values_and_round_trips() {
    let baggage = Baggage::from([
        KeyValueMetadata::new("userId", "alice", ""),
        KeyValueMetadata::new("serverNode", "DF 28", "region=eu;primary"),
        KeyValueMetadata::new("tricky", "a,b;c=d%e\"f\\g+h", ""),
        KeyValueMetadata::new("unicode", "😊 é", ""),
        KeyValueMetadata::new("empty", "", ""),
    ]);
    let cx = Context::new().with_baggage(baggage);
    let propagator = BaggagePropagator::new();
    let sent = injected(&propagator, &cx);
    assert_eq!(
        sent["baggage"],
        "empty=,serverNode=DF%2028;region=eu;primary,tricky=a%2Cb%3Bc%3Dd%25e%22f%5Cg%2Bh,\
         unicode=%F0%9F%98%8A%20%C3%A9,userId=alice"
    );
    let back = propagator.extract_with_context(
        &Context::new(),
        &Headers::new([("baggage", sent["baggage"].as_str())]),
    );
    assert_eq!(entries(back.baggage()), entries(cx.baggage()));
}

#[test]
fn inject_leaves_out_metadata_that_is_no_property_list() {
    let baggage = Baggage::from([
        KeyValueMetadata::new("a", "1", "bad,metadata"),
        KeyValueMetadata::new("b", "2", " p = v ; q "),
    ]);
    let sent = injected(
        &BaggagePropagator::new(),
        &Context::new().with_baggage(baggage),
    );
    assert_eq!(sent["baggage"], "a=1,b=2;p=v;q");
}

#[test]
fn inject_drops_members_past_8192_bytes() {
    // Each space is three bytes once encoded.
    let baggage = Baggage::from([
        KeyValueMetadata::new("a", "x".repeat(100), ""),
        KeyValueMetadata::new("b", " ".repeat(3000), ""),
        KeyValueMetadata::new("c", "y", ""),
    ]);
    let sent = injected(
        &BaggagePropagator::new(),
        &Context::new().with_baggage(baggage),
    );
    assert_eq!(sent["baggage"], format!("a={}", "x".repeat(100)));
    // 64 members fit.
    let baggage: Baggage = (0..64)
        .map(|n| KeyValueMetadata::new(format!("k{n:02}"), "v", ""))
        .collect();
    assert_eq!(baggage.len(), 64);
    let sent = injected(
        &BaggagePropagator::new(),
        &Context::new().with_baggage(baggage),
    );
    assert_eq!(sent["baggage"].split(',').count(), 64);
}

#[test]
fn nothing_is_injected_for_empty_baggage() {
    assert!(injected(&BaggagePropagator::new(), &Context::new()).is_empty());
}

#[test]
fn fields_are_baggage() {
    assert_eq!(
        BaggagePropagator::new().fields().collect::<Vec<_>>(),
        ["baggage"]
    );
}
