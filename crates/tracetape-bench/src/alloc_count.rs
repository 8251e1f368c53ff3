//! The counting global allocator of a build with the `count-allocs`
//! feature (stats_alloc's, whose unsafe code stays in that crate), and
//! the counts line `serve` prints at each mark of
//! [`allocs`](crate::per_request).

#[cfg(feature = "count-allocs")]
#[global_allocator]
static COUNTING: &stats_alloc::StatsAlloc<std::alloc::System> = &stats_alloc::INSTRUMENTED_SYSTEM;

/// `allocations=N bytes=M` since the process started (allocations count
/// reallocations too, as a fresh block), or `None` in a build without the
/// counting allocator.
pub(crate) fn counts_line() -> Option<String> {
    #[cfg(feature = "count-allocs")]
    {
        let stats = COUNTING.stats();
        Some(format!(
            "allocations={} bytes={}",
            stats.allocations + stats.reallocations,
            stats.bytes_allocated
        ))
    }
    #[cfg(not(feature = "count-allocs"))]
    {
        None
    }
}
