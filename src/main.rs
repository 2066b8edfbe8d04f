//! convoy: parse the command line, run, exit with the documented status.

mod app;
mod check;
mod cli;
mod commands;
mod connect;
mod error;
mod plan;
mod report;
mod run;
mod schema;
// Parts of the vault API serve connectors that resolve references at open time.
#[allow(dead_code)]
mod security;
mod spec;

use std::io::Write;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let code = app::main(cli);
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}
