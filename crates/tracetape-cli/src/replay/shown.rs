//! URLs as the replay prints them: a user name and password given in
//! `--url` (`https://user:pass@host`) are sent to the service but never
//! shown, in progress lines, reports or errors; `***` stands for them.

use std::borrow::Cow;

use reqwest::Url;

/// What stands for the user information.
const HIDDEN: &str = "***";

/// `url` with its user information replaced by `***`.
pub(crate) fn url(url: &Url) -> String {
    if url.username().is_empty() && url.password().is_none() {
        return url.to_string();
    }
    scrub(url.as_str()).into_owned()
}

/// `text` (an error message, a URL as typed) with the user information
/// of every URL in it replaced by `***`: what follows `scheme://` up to
/// the last `@` before the end of the authority.
pub(crate) fn scrub(text: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut copied = 0;
    let mut from = 0;
    while let Some(found) = text[from..].find("://") {
        let start = from + found + 3;
        let authority_len = text[start..]
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace() || c == ')')
            .unwrap_or(text.len() - start);
        let authority = &text[start..start + authority_len];
        if let Some(at) = authority.rfind('@') {
            out.push_str(&text[copied..start]);
            out.push_str(HIDDEN);
            copied = start + at;
        }
        from = start + authority_len;
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn user_information_is_never_shown() {
        let with = Url::parse("https://user:hunter2@svc.test:8443/api").unwrap();
        assert_eq!(url(&with), "https://***@svc.test:8443/api");
        let name_only = Url::parse("http://token-x@svc.test/").unwrap();
        assert_eq!(url(&name_only), "http://***@svc.test/");
        let without = Url::parse("http://127.0.0.1:8081").unwrap();
        assert_eq!(url(&without), "http://127.0.0.1:8081/");
        assert_eq!(
            scrub(
                "error sending request for url (http://u:hunter2@127.0.0.1:1/health): \
                 connection refused; see http://a:b@c/ and mail@example.test"
            ),
            "error sending request for url (http://***@127.0.0.1:1/health): connection \
             refused; see http://***@c/ and mail@example.test"
        );
        assert!(matches!(scrub("GET http://h/@x"), Cow::Borrowed(_)));
        assert_eq!(scrub("--url ftp://a:b@h"), "--url ftp://***@h");
    }
}
