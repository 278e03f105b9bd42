//! The `makguard` command: parses the command line, runs one subcommand and turns its outcome
//! into the exit-code contract (docs/exit-codes.md): 0 clean, 1 findings, 2 usage or
//! configuration error, 3 incomplete scan.

mod cli;
mod commands;
mod output;
mod progress;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

/// Usage or configuration errors, internal errors included: never a panic message, which
/// could carry a key.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        // The payload is not printed: a bug must not leak a key that happened to be in it.
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("makguard: internal error{location}; please report this bug");
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Usage errors exit 2, --help and --version 0, as clap would; a usage error quotes what
        // was typed, which may be a key, so it is masked like every other message.
        Err(error) if error.use_stderr() => {
            eprint!("{}", output::safe_text(&error.render().to_string()));
            return ExitCode::from(EXIT_USAGE);
        }
        Err(error) => {
            print!("{}", error.render());
            return ExitCode::SUCCESS;
        }
    };
    match std::panic::catch_unwind(|| run(cli)) {
        Ok(Ok(code)) => ExitCode::from(code),
        Ok(Err(err)) => {
            // Configuration errors quote the policy file, where a key may have been pasted.
            output::diag(&format!("error: {err:#}"));
            ExitCode::from(EXIT_USAGE)
        }
        Err(_) => ExitCode::from(EXIT_USAGE),
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Scan(args) => commands::scan::run(&args),
        Command::Fix(args) => commands::fix::run(&args),
        Command::Key(args) => commands::key::run(&args),
        Command::Rules(args) => Ok(commands::rules::run_rules(&args)),
        Command::Explain(args) => commands::rules::run_explain(&args),
        Command::Allow(args) => commands::allow::run(&args),
        Command::Completions(args) => Ok(commands::docs::run_completions(&args)),
        Command::Manpages(args) => commands::docs::run_manpages(&args),
    }
}
