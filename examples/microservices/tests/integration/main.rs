//! The three services over real sockets on 127.0.0.1: their spans in
//! in-memory exporters, what they record in record mode, and checkout
//! replayed from those recordings.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod concurrency;
mod end_to_end;
mod orders;
mod record;
mod replay;
mod support;
