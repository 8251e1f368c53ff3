//! Placeholder: the local store.
