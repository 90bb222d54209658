//! The `chargeback` binary: the custom handler (`serve`) and the CLI.

/// mimalloc rather than glibc's allocator: ingest allocates records on its
/// parsing threads and frees them on the writer's, and glibc's per-thread
/// arenas kept two to three times the live heap resident (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    chargeback::startup::main()
}
