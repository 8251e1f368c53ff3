//! Without the `record-replay` feature, the seams the client core and its
//! integrations call record and replay mode through: no call is ever
//! recorded ([`recording::plan`] is `None`) or answered from a recording
//! ([`replay::scope`] is `None`), and the types only those modes would
//! make have no value, so what takes them is never called.

pub(crate) mod recording {
    use std::time::SystemTime;

    use http::Response;
    use http_body::Body;
    use opentelemetry::Context;

    use crate::body::LayerBody;
    use crate::client::config::Config;

    /// Where a recorded attempt's exchange would go: nowhere to be had.
    #[derive(Debug)]
    pub(crate) enum Plan {}

    /// A recorded attempt's exchange: none.
    #[derive(Debug)]
    pub(crate) enum Pending {}

    /// A recorded attempt's response side: none.
    #[derive(Debug)]
    pub(crate) enum ClientCapture {}

    /// Nothing is recorded.
    pub(crate) fn plan(_: &Config, _: &Context) -> Option<Plan> {
        None
    }

    impl Pending {
        pub(crate) fn new(
            plan: Plan,
            _: &Context,
            _: &Context,
            _: (String, Option<String>),
            _: SystemTime,
        ) -> Self {
            match plan {}
        }

        pub(crate) fn tee_request<B: Body>(
            self,
            _: &http::request::Parts,
            _: B,
        ) -> (LayerBody<B>, Option<ClientCapture>) {
            match self {}
        }

        #[cfg(feature = "reqwest")]
        pub(crate) fn record_reqwest(self, _: &reqwest::Request) -> ClientCapture {
            match self {}
        }
    }

    impl ClientCapture {
        pub(crate) fn response<B: Body>(self, _: Response<B>) -> Response<LayerBody<B>> {
            match self {}
        }

        pub(crate) fn fail(self, _: &(dyn std::error::Error + 'static)) {
            match self {}
        }

        #[cfg(feature = "reqwest")]
        pub(crate) fn reqwest_response(self, _: reqwest::Response) -> reqwest::Response {
            match self {}
        }
    }
}

pub(crate) mod replay {
    use std::task::{Context as TaskContext, Poll};

    use http::Response;

    use crate::body::LayerBody;
    use crate::client::config::Config;
    use crate::client::service::BoxError;

    /// The scope that would answer a call from a recording: none.
    #[derive(Debug)]
    pub(crate) enum ReplayScope {}

    /// A call answered from a recording: none.
    #[derive(Debug)]
    pub(crate) struct Replayed {
        scope: ReplayScope,
    }

    /// Every call is sent.
    pub(crate) fn scope(_: &Config) -> Option<ReplayScope> {
        None
    }

    impl Replayed {
        pub(crate) fn new<B>(scope: ReplayScope, _: http::request::Parts, _: B) -> Self {
            Self { scope }
        }

        pub(crate) fn poll<B: http_body::Body>(
            &mut self,
            _: &mut TaskContext<'_>,
        ) -> Poll<Result<Response<LayerBody<B>>, BoxError>> {
            match self.scope {}
        }
    }

    /// What the reqwest middleware would get from a recording.
    #[cfg(feature = "reqwest")]
    pub(crate) async fn reqwest_call(
        scope: &ReplayScope,
        _: &reqwest::Request,
        _: &http::Extensions,
    ) -> Result<reqwest::Response, std::convert::Infallible> {
        match *scope {}
    }
}
