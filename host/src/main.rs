//! `lava-conn`: validate connection specs, derive session names, resolve
//! connections for jobs, run jobs with them, and show the plugins.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lava_conn::WorkerConfig;

use cli::common::{EXIT_FAILURE, Globals};

/// A WebAssembly-sandboxed connector host for lava connections.
#[derive(Parser)]
#[command(name = "lava-conn", version, about, propagate_version = true)]
struct Cli {
    /// Worker configuration file (TOML).
    #[arg(long, global = true, env = "LAVA_CONN_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    /// Folder of connector plugins (`*.wasm`) to load beside the built-in ones.
    #[arg(long, global = true, env = "LAVA_CONN_PLUGINS", value_name = "DIR")]
    plugins: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Validate(cli::validate::Args),
    SessionName(cli::session_name::Args),
    Resolve(cli::resolve::Args),
    Exec(cli::exec::Args),
    Plugins(cli::plugins::PluginsArgs),
    Describe(cli::plugins::DescribeArgs),
    CredentialProcess(cli::credential_process::Args),
}

fn main() -> ExitCode {
    // The audit trail (one line per AWS capability call) is on unless
    // RUST_LOG says otherwise: an operator needs it most when nobody asked.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,lava_conn::audit=info".into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never into log files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("lava-conn: {error:#}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // The job's helper needs no worker configuration (and must not fail on one).
    if let Command::CredentialProcess(args) = &cli.command {
        return Ok(cli::credential_process::run(args));
    }
    let config = WorkerConfig::load(cli.config.as_deref(), std::env::vars())?;
    let globals = Globals { plugins: cli.plugins };
    match &cli.command {
        Command::Validate(args) => cli::validate::run(args, &globals, config),
        Command::SessionName(args) => cli::session_name::run(args, &globals, config),
        Command::Resolve(args) => cli::resolve::run(args, &globals, config),
        Command::Exec(args) => cli::exec::run(args, &globals, config),
        Command::Plugins(args) => cli::plugins::run_plugins(args, &globals, config),
        Command::Describe(args) => cli::plugins::run_describe(args, &globals, config),
        Command::CredentialProcess(_) => unreachable!("handled before the configuration is read"),
    }
}
