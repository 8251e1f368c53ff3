//! [`FollowRedirects`]: redirects followed above the tracing middleware, so
//! that each hop of a reqwest request is an attempt with its own CLIENT span.
//!
//! reqwest follows redirects inside one `send`, below any middleware, so
//! [`TracingMiddleware`](super::TracingMiddleware) alone sees one attempt
//! however many hops there were. With reqwest's own following turned off
//! (`redirect::Policy::none()`) and this middleware placed before the
//! tracing middleware, every hop passes through it.

use http::header::{
    AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, LOCATION,
    PROXY_AUTHORIZATION, TRANSFER_ENCODING,
};
use http::{Extensions, Method, StatusCode};
use reqwest::{Request, Response, Url};
use reqwest_middleware::{Middleware, Next};

/// Why a redirect was not followed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedirectError {
    /// More hops than the limit.
    #[error("stopped after {limit} redirects, the last one to {url}")]
    TooMany {
        /// The limit that was reached.
        limit: usize,
        /// Where the last redirect pointed.
        url: Url,
    },
}

/// Follows redirects (301, 302, 303, 307, 308) itself, one pass through the
/// rest of the middleware chain per hop.
///
/// 301, 302 and 303 turn a request other than `GET`/`HEAD` into a `GET`
/// without a body; 307 and 308 repeat the method and body (a streamed body
/// that cannot be cloned ends the chase: the redirect response is
/// returned). Credentials (`Authorization`, `Proxy-Authorization`,
/// `Cookie`) are dropped when a hop leaves the original origin.
///
/// ```
/// use reqwest_middleware::ClientBuilder;
/// use tracetape::client::{FollowRedirects, TracingMiddleware};
///
/// let reqwest = reqwest::Client::builder()
///     .redirect(reqwest::redirect::Policy::none())
///     .build()?;
/// let client = ClientBuilder::new(reqwest)
///     .with(FollowRedirects::new())
///     .with(TracingMiddleware::new())
///     .build();
/// # Ok::<(), reqwest::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct FollowRedirects {
    limit: usize,
}

impl FollowRedirects {
    /// Follows up to 10 redirects, as reqwest does by default.
    pub fn new() -> Self {
        Self { limit: 10 }
    }

    /// Follows up to `limit` redirects; one more is an error.
    pub fn with_limit(limit: usize) -> Self {
        Self { limit }
    }
}

impl Default for FollowRedirects {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait::async_trait]
impl Middleware for FollowRedirects {
    async fn handle(
        &self,
        request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let origin = request.url().clone();
        let mut request = request;
        let mut hops = 0;
        loop {
            let again = request.try_clone();
            let response = next.clone().run(request, extensions).await?;
            let Some(url) = location(&response) else {
                return Ok(response);
            };
            let Some(again) = again else {
                return Ok(response);
            };
            if hops == self.limit {
                return Err(reqwest_middleware::Error::middleware(
                    RedirectError::TooMany {
                        limit: self.limit,
                        url,
                    },
                ));
            }
            hops += 1;
            request = redirected(again, response.status(), url, &origin);
        }
    }
}

/// Where a redirect response points, resolved against the request URL.
fn location(response: &Response) -> Option<Url> {
    let status = response.status();
    let redirect = matches!(
        status,
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    );
    if !redirect {
        return None;
    }
    let location = response.headers().get(LOCATION)?.to_str().ok()?;
    response.url().join(location).ok()
}

/// The next hop's request, from a copy of the previous one.
fn redirected(mut request: Request, status: StatusCode, url: Url, origin: &Url) -> Request {
    let method = request.method().clone();
    let becomes_get = match status {
        StatusCode::SEE_OTHER => method != Method::HEAD,
        StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND => {
            method != Method::GET && method != Method::HEAD
        }
        _ => false,
    };
    if becomes_get {
        *request.method_mut() = Method::GET;
        *request.body_mut() = None;
        let headers = request.headers_mut();
        for name in [
            CONTENT_TYPE,
            CONTENT_LENGTH,
            CONTENT_ENCODING,
            TRANSFER_ENCODING,
        ] {
            headers.remove(name);
        }
    }
    if url.origin() != origin.origin() {
        let headers = request.headers_mut();
        for name in [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE] {
            headers.remove(name);
        }
    }
    *request.url_mut() = url;
    request
}
