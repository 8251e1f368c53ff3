//! The low-cardinality `error.type` of a failed attempt, read off the error
//! and its sources: the reqwest error's own flags first, then I/O error
//! kinds, then what the messages of hyper, the resolver and the TLS stack
//! say.

use std::error::Error;
use std::io;

/// Why an attempt produced no response.
pub(crate) fn classify(error: &(dyn Error + 'static)) -> &'static str {
    let chain = || chain(error);
    let mut kind = None;
    for error in chain() {
        if let Some(found) = reqwest_kind(error).or_else(|| io_kind(error)) {
            kind = Some(found);
            break;
        }
    }
    // Resolver and TLS failures arrive as connect errors; their messages
    // tell them apart.
    let messages: Vec<String> = chain()
        .map(|e| e.to_string().to_ascii_lowercase())
        .collect();
    let says = |words: &[&str]| messages.iter().any(|m| words.iter().any(|w| m.contains(w)));
    if kind == Some("timeout") || says(&["timed out", "timeout", "deadline has elapsed"]) {
        return "timeout";
    }
    if says(&[
        "dns error",
        "failed to lookup address",
        "name or service not known",
    ]) {
        return "dns";
    }
    if says(&["tls", "certificate", "ssl"]) {
        return "tls";
    }
    if let Some(kind) = kind {
        return kind;
    }
    if says(&["connect", "connection refused"]) {
        return "connect";
    }
    if says(&["body"]) {
        return "body";
    }
    "_OTHER"
}

/// `error` and its sources, outermost first.
pub(crate) fn chain<'a>(
    error: &'a (dyn Error + 'static),
) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    let mut next = Some(error);
    std::iter::from_fn(move || {
        let current = next?;
        next = current.source();
        Some(current)
    })
}

#[cfg(feature = "reqwest")]
fn reqwest_kind(error: &(dyn Error + 'static)) -> Option<&'static str> {
    let error = error.downcast_ref::<reqwest::Error>()?;
    if error.is_timeout() {
        Some("timeout")
    } else if error.is_connect() {
        Some("connect")
    } else if error.is_body() || error.is_decode() {
        Some("body")
    } else if error.is_redirect() {
        Some("redirect")
    } else if error.is_builder() {
        Some("request")
    } else {
        None
    }
}

#[cfg(not(feature = "reqwest"))]
fn reqwest_kind(_: &(dyn Error + 'static)) -> Option<&'static str> {
    None
}

fn io_kind(error: &(dyn Error + 'static)) -> Option<&'static str> {
    use io::ErrorKind::*;
    match error.downcast_ref::<io::Error>()?.kind() {
        TimedOut => Some("timeout"),
        ConnectionRefused | ConnectionReset | ConnectionAborted | NotConnected
        | AddrNotAvailable | HostUnreachable | NetworkUnreachable => Some("connect"),
        UnexpectedEof | BrokenPipe => Some("body"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapped(&'static str, io::Error);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Wrapped {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.1)
        }
    }

    fn io(kind: io::ErrorKind, message: &str) -> io::Error {
        io::Error::new(kind, message.to_owned())
    }

    #[test]
    fn kinds_come_from_the_whole_chain() {
        let refused = Wrapped(
            "client error (Connect)",
            io(io::ErrorKind::ConnectionRefused, "refused"),
        );
        assert_eq!(classify(&refused), "connect");
        let dns = Wrapped(
            "client error (Connect)",
            io(
                io::ErrorKind::Other,
                "dns error: failed to lookup address information",
            ),
        );
        assert_eq!(classify(&dns), "dns");
        let tls = Wrapped(
            "client error (Connect)",
            io(io::ErrorKind::Other, "invalid peer certificate"),
        );
        assert_eq!(classify(&tls), "tls");
        assert_eq!(classify(&io(io::ErrorKind::TimedOut, "slow")), "timeout");
        assert_eq!(classify(&io(io::ErrorKind::UnexpectedEof, "cut")), "body");
        assert_eq!(classify(&io(io::ErrorKind::Other, "odd")), "_OTHER");
        let elapsed: Box<dyn Error + Send + Sync> = Box::new(tower::timeout::error::Elapsed::new());
        assert_eq!(classify(&*elapsed), "timeout");
    }
}
