//! Helpers for the store's tests: real spans through a real SDK pipeline.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;

use super::LocalStore;

/// A store in a fresh temporary directory (`traces` below it, not yet
/// created, so the first export has to create it).
pub(crate) fn temp_store() -> (tempfile::TempDir, LocalStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path().join("store").join("traces"));
    (dir, store)
}

/// A provider exporting every span as its own batch into `store`.
pub(crate) fn provider(store: &LocalStore, service: &str) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_simple_exporter(store.exporter())
        .with_resource(
            Resource::builder_empty()
                .with_service_name(service.to_owned())
                .build(),
        )
        .build()
}
