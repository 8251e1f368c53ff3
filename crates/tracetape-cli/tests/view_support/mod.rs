//! What the `tracetape view` tests share: a headless Chromium driven over
//! the DevTools protocol.

pub mod browser;
