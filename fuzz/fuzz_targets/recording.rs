//! Recording files as they may be found on disk: cut, edited, written by
//! another version or not recordings at all. Reading one must never panic;
//! one that reads writes back to a file that reads the same, and each of
//! its bodies can be decoded (or says why not) without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracetape::record::Recording;

fuzz_target!(|data: &[u8]| {
    let Ok(recording) = Recording::from_otlp_json(data) else {
        return;
    };
    for exchange in &recording.exchanges {
        let _ = exchange.request.decoded_body();
        if let Some(response) = &exchange.response {
            let _ = response.decoded_body();
        }
    }
    let written = recording
        .to_otlp_json()
        .expect("a recording read is a recording written");
    let again = Recording::from_otlp_json(&written).expect("what was written reads back");
    assert_eq!(again, recording);
});
