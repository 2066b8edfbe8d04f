//! convoy: parse the command line, run, exit with the documented status.

mod cli;
mod commands;
mod connect;
mod cores;
mod error;
mod plan;
mod report;
mod run;
mod schema;
mod security;
mod spec;
mod stage;

use std::io::Write;

use clap::Parser;

/// Keep freed memory for reuse instead of handing it back to the kernel.
///
/// Every batch allocates buffers of a few MiB and frees them a moment later.
/// With glibc's defaults those are fresh mappings each time, and the kernel
/// zeroes every page again on first touch: about a tenth of the CPU time of
/// a PostgreSQL to Parquet copy. Serving them from the heap makes the
/// memory of one batch the next one's. Memory stays bounded by the pipeline's
/// budget; only what is returned to the kernel between batches changes.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 20);
    }
}

fn main() {
    tune_allocator();
    error::install_panic_hook();
    let cli = cli::Cli::parse();
    let code = commands::main(cli);
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}
