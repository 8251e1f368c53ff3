//! Placeholder: the server layer.
