//! The changes injected into the fidelity service, one build each
//! (`FIDELITY_CHANGE=<name>`), and where a replay report should name each:
//! its "right place".

use anyhow::bail;

/// Where a change should show in the replay report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// The response status, of a recording of `request`.
    Status,
    /// A compared response header, by lower-case name.
    Header(&'static str),
    /// A body deviation at this JSON path (array indices may be anything:
    /// `$.options[*].kind` is met by `$.options[0].kind`).
    Path(&'static str),
    /// A body deviation at this path or below it.
    Under(&'static str),
    /// A body deviation whose path names this field, wherever it is (a
    /// line of a streamed body: the syntax for lines is not fixed yet).
    Field(&'static str),
    /// Any body deviation.
    Body,
    /// The outbound call: a call with no recorded answer, a recorded call
    /// left unused, or a deviation of the call, naming this method and a
    /// URL whose path starts with `path`.
    Call {
        method: &'static str,
        path: &'static str,
    },
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Status => f.write_str("status"),
            Place::Header(name) => write!(f, "header {name}"),
            Place::Path(path) => f.write_str(path),
            Place::Under(path) => write!(f, "{path}..."),
            Place::Field(field) => write!(f, "a line's {field}"),
            Place::Body => f.write_str("body"),
            Place::Call { method, path } => write!(f, "call {method} {path}"),
        }
    }
}

/// What a replay of the changed build should report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// A finding at `place`, on a recording of `request` (`METHOD route`),
    /// or anywhere for a call (`request: None`: start-up and background
    /// calls belong to no request).
    Caught {
        request: Option<&'static str>,
        place: Place,
    },
    /// Nothing: the change is not one that replay should flag (or cannot,
    /// by its documented semantics). Shown, not counted in the totals.
    Nothing,
}

macro_rules! changes {
    ($($variant:ident $name:literal $what:literal => $expect:expr;)*) => {
        /// A change to the fidelity service, chosen at start-up.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Change {
            /// The build as recorded.
            None,
            $(#[doc = $what] $variant,)*
        }

        impl Change {
            /// Every change, in the order the benchmark replays them.
            pub(crate) const ALL: &'static [Change] = &[$(Change::$variant,)*];

            /// Its name, as `FIDELITY_CHANGE` and `--changes` take it.
            pub(crate) fn name(self) -> &'static str {
                match self {
                    Change::None => "none",
                    $(Change::$variant => $name,)*
                }
            }

            /// What the change does, in a few words.
            pub(crate) fn what(self) -> &'static str {
                match self {
                    Change::None => "the build as recorded",
                    $(Change::$variant => $what,)*
                }
            }

            /// Where the report should name it.
            pub(crate) fn expect(self) -> Expect {
                match self {
                    Change::None => Expect::Nothing,
                    $(Change::$variant => $expect,)*
                }
            }
        }
    };
}

const fn at(request: &'static str, place: Place) -> Expect {
    Expect::Caught {
        request: Some(request),
        place,
    }
}

const fn call(method: &'static str, path: &'static str) -> Expect {
    Expect::Caught {
        request: None,
        place: Place::Call { method, path },
    }
}

changes! {
    FieldValue "field-value" "GET /quote: bikes_available one more"
        => at("GET /quote", Place::Path("$.bikes_available"));
    FieldRemoved "field-removed" "POST /rentals: confirmation left out"
        => at("POST /rentals", Place::Path("$.confirmation"));
    FieldAdded "field-added" "POST /rentals: an insurance field added"
        => at("POST /rentals", Place::Path("$.insurance"));
    Status "status" "POST /rentals: 200 instead of 201"
        => at("POST /rentals", Place::Status);
    HeaderValue "header-value" "GET /quote: x-quote-version 3 instead of 2"
        => at("GET /quote", Place::Header("x-quote-version"));
    ArrayOrder "array-order" "GET /quote: options from the dearest instead of by kind"
        => at("GET /quote", Place::Under("$.options"));
    IntToFloat "int-to-float" "POST /rentals: hours as 3.0 instead of 3"
        => at("POST /rentals", Place::Path("$.hours"));
    DateArithmetic "date-arithmetic" "POST /rentals: due_date today + 14 days instead of + 30"
        => at("POST /rentals", Place::Path("$.due_date"));
    TimestampShift "timestamp-shift" "POST /rentals: created_at three hours ahead"
        => at("POST /rentals", Place::Path("$.created_at"));
    Rounding "rounding" "POST /rentals: tax_cents rounded down instead of to nearest"
        => at("POST /rentals", Place::Path("$.tax_cents"));
    ErrorMessage "error-message" "POST /rentals 422: another error message"
        => at("POST /rentals", Place::Path("$.error"));
    ErrorStatus "error-status" "POST /rentals: 400 instead of 422 for 0 hours"
        => at("POST /rentals", Place::Status);
    ListOrder "list-order" "GET /rentals: newest first instead of by id"
        => at("GET /rentals", Place::Under("$.items"));
    ContentType "content-type" "GET /rentals: content-type application/vnd.depot+json"
        => at("GET /rentals", Place::Header("content-type"));
    LineChanged "ndjson-line-changed" "GET /forecast: the fourth line's wind_ms changed"
        => at("GET /forecast", Place::Field("wind_ms"));
    LineDropped "ndjson-line-dropped" "GET /forecast: the last line left out"
        => at("GET /forecast", Place::Body);
    OutboundBody "outbound-body" "POST /reservations sent kind upper-cased"
        => call("POST", "/reservations");
    QueryDropped "query-dropped" "GET /weather sent without units=metric"
        => call("GET", "/weather");
    QueryChanged "query-changed" "GET /rates sent kind=longtail instead of kind=cargo"
        => call("GET", "/rates");
    ExtraCall "extra-call" "GET /availability/{depot} called twice"
        => call("GET", "/availability/");
    SkippedCall "skipped-call" "POST /reservations not called"
        => call("POST", "/reservations");
    NoRetry "no-retry" "GET /availability/{depot} not retried after a 503"
        => call("GET", "/availability/");
    NewEndpoint "new-endpoint" "GET /quote also calls GET /promotions, never recorded"
        => call("GET", "/promotions");
    StartupChanged "startup-changed" "the start-up GET /config asks for env=staging"
        => call("GET", "/config");
    StartupMissing "startup-missing" "no start-up GET /config (defaults used)"
        => call("GET", "/config");
    BackgroundChanged "background-changed" "the periodic POST /heartbeat says busy instead of ok"
        => call("POST", "/heartbeat");
    AuditChanged "audit-changed" "the POST /audit after the response says rental.opened"
        => call("POST", "/audit");
    ReorderedCalls "reordered-calls" "GET /quote: the three rate calls one after the other, reversed, instead of concurrently (expected to pass: calls are matched by what they ask, not by their order)"
        => Expect::Nothing;
    DependencyHeader "dependency-header" "POST /reservations sent x-client-version 4 instead of 3 (expected to pass while matching compares no request headers)"
        => Expect::Nothing;
}

impl Change {
    /// The change `FIDELITY_CHANGE` names; `None` when unset or empty.
    pub(crate) fn from_env() -> anyhow::Result<Change> {
        match std::env::var("FIDELITY_CHANGE") {
            Ok(name) if !name.is_empty() => name.parse(),
            _ => Ok(Change::None),
        }
    }

    /// Whether a replay should flag it (and it counts in the totals).
    pub(crate) fn counted(self) -> bool {
        self.expect() != Expect::Nothing
    }
}

impl std::str::FromStr for Change {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Change> {
        if s == "none" {
            return Ok(Change::None);
        }
        match Change::ALL.iter().find(|change| change.name() == s) {
            Some(change) => Ok(*change),
            None => bail!(
                "unknown change {s:?}; the changes: {}",
                Change::ALL
                    .iter()
                    .map(|c| c.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_has_its_own_name_and_enough_are_counted() -> anyhow::Result<()> {
        for change in Change::ALL {
            assert_eq!(change.name().parse::<Change>()?, *change);
        }
        let counted = Change::ALL.iter().filter(|c| c.counted()).count();
        assert!(counted >= 25, "{counted}");
        assert!("nope".parse::<Change>().is_err());
        Ok(())
    }
}
