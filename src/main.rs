mod commands;
#[allow(dead_code)] // parts of the API serve spec loading and the copy runner
mod security;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use commands::secrets::SecretsCmd;

/// Secure, verifiable copies of tables and files between data stores.
#[derive(Debug, Parser)]
#[command(name = "convoy", version)]
struct Cli {
    /// Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault).
    #[arg(long, global = true, env = "CONVOY_VAULT", value_name = "PATH")]
    vault: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage the encrypted secret vault and sealed values.
    #[command(subcommand)]
    Secrets(SecretsCmd),
}

fn main() {
    // clap exits with 2 on a usage error, 0 for --help and --version.
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Secrets(cmd) => commands::secrets::run(cmd, cli.vault),
    };
    if let Err(err) = result {
        std::process::exit(commands::report(&err));
    }
}
