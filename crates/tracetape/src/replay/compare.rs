//! Whether a replayed response deviates from the recorded one.
