//! Which recorded outbound call answers a live one.
