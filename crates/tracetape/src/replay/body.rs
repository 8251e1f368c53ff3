//! [`ReplayedBody`]: a recorded body served again, in chunks, as a
//! streamed body would arrive, then its recorded trailers.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};

/// A replayed body is served in pieces of this size at most.
const CHUNK: usize = 16 * 1024;

/// Recorded bytes served as a body, in chunks of at most 16 KiB, then
/// the recorded trailers, if there were any.
#[derive(Debug, Default)]
pub(crate) struct ReplayedBody {
    chunks: VecDeque<Bytes>,
    trailers: Option<HeaderMap>,
}

impl ReplayedBody {
    pub(crate) fn new(mut bytes: Bytes) -> Self {
        let mut chunks = VecDeque::with_capacity(bytes.len().div_ceil(CHUNK));
        while !bytes.is_empty() {
            chunks.push_back(bytes.split_to(bytes.len().min(CHUNK)));
        }
        Self {
            chunks,
            trailers: None,
        }
    }

    /// The body followed by `trailers` (none when empty).
    pub(crate) fn with_trailers(mut self, trailers: HeaderMap) -> Self {
        self.trailers = (!trailers.is_empty()).then_some(trailers);
        self
    }
}

impl Body for ReplayedBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let frame = match self.chunks.pop_front() {
            Some(chunk) => Frame::data(chunk),
            None => match self.trailers.take() {
                Some(trailers) => Frame::trailers(trailers),
                None => return Poll::Ready(None),
            },
        };
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty() && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.chunks.iter().map(|chunk| chunk.len() as u64).sum())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn bytes_come_back_whole_in_bounded_chunks() {
        let bytes: Bytes = (0..40_000u32).map(|i| i as u8).collect::<Vec<u8>>().into();
        let mut body = ReplayedBody::new(bytes.clone());
        assert_eq!(body.size_hint().exact(), Some(40_000));
        let mut sizes = Vec::new();
        let mut all = Vec::new();
        while let Some(frame) = body.frame().await {
            let data = frame.unwrap().into_data().unwrap();
            sizes.push(data.len());
            all.extend_from_slice(&data);
        }
        assert_eq!(sizes, [CHUNK, CHUNK, 40_000 - 2 * CHUNK]);
        assert_eq!(all, bytes);
        assert!(body.is_end_stream());
        assert!(ReplayedBody::new(Bytes::new()).is_end_stream());
    }

    #[tokio::test]
    async fn trailers_follow_the_last_chunk() {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("5"));
        let body =
            ReplayedBody::new(Bytes::from_static(b"message")).with_trailers(trailers.clone());
        assert!(!body.is_end_stream());
        let collected = body.collect().await.unwrap();
        assert_eq!(collected.trailers(), Some(&trailers));
        assert_eq!(collected.to_bytes(), "message");
    }
}
