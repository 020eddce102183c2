//! `lava-conn`: validate connection specs, derive session names, resolve
//! connections for jobs, run jobs with them, and show the plugins.

// std's print macros panic when the reader has gone; these, shadowing them
// for every module below, never do (`cli::stdio`).
macro_rules! print {
    ($($arg:tt)*) => { $crate::cli::stdio::out(format_args!($($arg)*)) };
}
macro_rules! println {
    () => { $crate::cli::stdio::out(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cli::stdio::out(format_args!("{}\n", format_args!($($arg)*))) };
}
macro_rules! eprintln {
    ($($arg:tt)*) => { $crate::cli::stdio::err(format_args!("{}\n", format_args!($($arg)*))) };
}

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lava_conn::WorkerConfig;

use cli::common::{EXIT_EXEC_FAILURE, EXIT_FAILURE, Globals};

/// A WebAssembly-sandboxed connector host for lava connections.
#[derive(Parser)]
#[command(name = "lava-conn", version, about, propagate_version = true, after_long_help = settings_help())]
struct Cli {
    /// Worker configuration file (TOML).
    #[arg(long, global = true, env = lava_conn::CONFIG_FILE_VARIABLE, value_name = "FILE")]
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
    #[command(hide = true)]
    Guard(cli::guard::Args),
}

/// The end of `--help`: every setting's environment variable (from the one
/// table the configuration reads), logging and the audit trail.
fn settings_help() -> String {
    let mut text = format!(
        "Settings: a TOML file (--config, {}), each key overridden by its variable:\n",
        lava_conn::CONFIG_FILE_VARIABLE
    );
    for (variable, key) in lava_conn::setting_overrides() {
        text.push_str(&format!("  {variable:<32} {key}\n"));
    }
    text.push_str(&format!(
        "\nLogging: RUST_LOG (default `{DEFAULT_LOG_FILTER}`), to stderr. The audit trail is one \
         `lava_conn::audit` line per AWS call a plugin makes (plugin, job, connection, target, outcome; \
         never a secret); RUST_LOG=warn leaves it out.\n\nDocs: docs/cli-and-configuration.md"
    ));
    text
}

/// What the CLI logs unless `RUST_LOG` says otherwise: warnings, and the
/// audit trail (one line per AWS capability call). aws-config's warnings
/// are left out: each is a failure the command reports itself, in words,
/// and aws-config's own line dumps whole responses.
const DEFAULT_LOG_FILTER: &str = "warn,lava_conn::audit=info,aws_config=error";

fn main() -> ExitCode {
    // The audit trail (one line per AWS capability call) is on unless
    // RUST_LOG says otherwise: an operator needs it most when nobody asked.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| DEFAULT_LOG_FILTER.into()),
        )
        .with_writer(std::io::stderr)
        // Its own report of a failed write is an `eprintln!` of its crate,
        // which panics on a closed stderr: a log line that cannot be written
        // is dropped instead (`cli::stdio` says why).
        .log_internal_errors(false)
        // Colour codes only for a person at a terminal, never into log files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(&error),
    };
    // A job runner cannot tell exec's own failures from its job's exit
    // codes unless they have one of their own.
    let failure = if matches!(cli.command, Command::Exec(_)) { EXIT_EXEC_FAILURE } else { EXIT_FAILURE };
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("lava-conn: {}", lava_conn::error_text(error.as_ref()));
            ExitCode::from(failure)
        }
    }
}

/// clap's message for a command line it refused (or the help or version
/// asked for), and the exit code: 125 for `exec` as for its other failures
/// before the job starts, 2 for the other commands (as clap's own).
fn usage_error(error: &clap::Error) -> ExitCode {
    let _ = error.print();
    if !error.use_stderr() {
        return ExitCode::SUCCESS;
    }
    let exec = subcommand_named(std::env::args().skip(1)).is_some_and(|name| name == "exec");
    ExitCode::from(if exec { EXIT_EXEC_FAILURE } else { EXIT_FAILURE })
}

/// The subcommand a command line names: its first word that is neither an
/// option nor the value of a global option (`--config FILE`, `--plugins DIR`).
fn subcommand_named(mut args: impl Iterator<Item = String>) -> Option<String> {
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" | "--plugins" => {
                args.next();
            }
            option if option.starts_with('-') => {}
            name => return Some(name.to_string()),
        }
    }
    None
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // The job's helper needs no worker configuration (and must not fail on one).
    if let Command::CredentialProcess(args) = &cli.command {
        return Ok(cli::credential_process::run(args));
    }
    if let Command::Guard(args) = &cli.command {
        return Ok(cli::guard::run(args));
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
        Command::CredentialProcess(_) | Command::Guard(_) => {
            unreachable!("handled before the configuration is read")
        }
    }
}
