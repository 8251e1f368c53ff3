//! [`RequestBody`]: the request body as the client wrapped by
//! [`Trace`](super::Trace) sends it; and [`ResponseBody`], the response
//! body as the caller reads it. In record mode both copy the bytes that
//! pass through them aside.

use crate::body::LayerBody;

/// The request body as the client service wrapped by
/// [`Trace`](super::Trace) receives it: `B` itself, passed on unchanged,
/// and, when the attempt is recorded, copied aside up to the recorder's
/// limit as the client sends it.
///
/// hyper-util's client is generic over its body, so it takes this one as
/// it took `B` (`Client<_, RequestBody<B>>`, built with
/// `build_http::<RequestBody<B>>()` or inferred); a hand-written inner
/// service takes `Request<RequestBody<B>>`.
pub type RequestBody<B> = LayerBody<B>;

/// The response body of [`Trace`](super::Trace): the inner client's body
/// `B`, passed on unchanged, and, when the attempt is recorded, copied
/// aside up to the recorder's limit as the caller reads it; the exchange
/// is finished when it ends or is dropped.
pub type ResponseBody<B> = LayerBody<B>;
