//! Where everything makguard writes goes: every `--format FORMAT[=FILE]` rendered once and
//! written to its file (atomically) or to standard output, with colour only on a terminal (or
//! `--color always`); and every diagnostic line on standard error, through [`diag`].
//!
//! Rendered reports are masked by makguard-report; every other byte written here (diagnostics,
//! change logs, diffs, messages) passes [`safe_text`]: the same one masking step, then control
//! characters shown as escapes.

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::{Context, bail};
use makguard_core::key::mask_keys_in;
use makguard_core::{ScanReport, Severity};
use makguard_report::safe::escape_controls;

use crate::cli::{ColorChoice, OutputSpec};
use makguard_report::{Format, RenderOptions, render, render_github_step_summary};

/// Rejects output lists that would interleave two reports on standard output; checked before
/// scanning so a usage error costs nothing.
pub fn check_outputs(outputs: &[OutputSpec]) -> anyhow::Result<()> {
    if outputs.iter().filter(|o| o.file.is_none()).count() > 1 {
        bail!(
            "at most one --format may write to standard output; give the others a file (--format sarif=makguard.sarif)"
        );
    }
    Ok(())
}

/// Renders `report` once per output and writes each, recording the exit code `report` implies.
pub fn write_reports(
    report: &ScanReport,
    outputs: &[OutputSpec],
    color: ColorChoice,
    show_keys: bool,
    fail_on: Severity,
) -> anyhow::Result<()> {
    let exit_code = report.exit_status(fail_on) as u8;
    write_reports_with_exit_code(report, outputs, color, show_keys, fail_on, exit_code)
}

/// As [`write_reports`], with the exit code the process will end with (SARIF records it). The
/// `github` format also appends its annotation counts to `$GITHUB_STEP_SUMMARY` when set.
pub fn write_reports_with_exit_code(
    report: &ScanReport,
    outputs: &[OutputSpec],
    color: ColorChoice,
    show_keys: bool,
    fail_on: Severity,
    exit_code: u8,
) -> anyhow::Result<()> {
    let default = [OutputSpec {
        format: Format::Text,
        format_name: "text".to_string(),
        file: None,
    }];
    let outputs = if outputs.is_empty() { &default[..] } else { outputs };
    check_outputs(outputs)?;
    for output in outputs {
        let colored = output.file.is_none()
            && match color {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            };
        let options = RenderOptions {
            color: colored,
            show_keys,
            fail_on,
            exit_code: Some(i32::from(exit_code)),
            ..RenderOptions::new(env!("CARGO_PKG_VERSION"))
        };
        if output.format == Format::Github {
            append_step_summary(&render_github_step_summary(report, &options))?;
        }
        let mut rendered = render(output.format, report, &options);
        if !rendered.is_empty() && !rendered.ends_with('\n') {
            rendered.push('\n');
        }
        match &output.file {
            Some(file) => write_file(file, rendered.as_bytes())
                .with_context(|| format!("cannot write the {} report to {}", output.format_name, file.display()))?,
            None => {
                let mut stdout = std::io::stdout().lock();
                stdout
                    .write_all(rendered.as_bytes())
                    .context("cannot write to standard output")?;
                stdout.flush().context("cannot write to standard output")?;
            }
        }
    }
    Ok(())
}

/// Appends to the file `GITHUB_STEP_SUMMARY` names, if set (GitHub Actions sets it per step).
fn append_step_summary(markdown: &str) -> anyhow::Result<()> {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot open GITHUB_STEP_SUMMARY {}", Path::new(&path).display()))?;
    file.write_all(markdown.as_bytes())
        .with_context(|| format!("cannot write GITHUB_STEP_SUMMARY {}", Path::new(&path).display()))
}

/// `text` as makguard may print it: every non-GVLK key masked (the one masking step), then
/// every control character but line feeds and tabs shown as an escape.
pub fn safe_text(text: &str) -> String {
    escape_controls(&mask_keys_in(text), true)
}

/// Prints one diagnostic line on standard error, `makguard: ` first, through [`safe_text`].
pub fn diag(message: &str) {
    eprintln!("makguard: {}", safe_text(message));
}

/// Prints `text` on standard output through [`safe_text`].
pub fn print_safe(text: &str) {
    print!("{}", safe_text(text));
}

/// Writes a report or change log to `path`. A regular file (or a new one) is written
/// atomically: a temporary file beside it, synced, renamed over it, so a full disk or a kill
/// leaves the old file or none, never a truncated one (the temporary file is removed on error).
/// Anything else (`/dev/stdout`, a pipe) is written in place, and every write error counts.
pub fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    // A link to a report is kept a link: the file it names is replaced.
    let resolved;
    let path = if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        resolved = std::fs::canonicalize(path)?;
        resolved.as_path()
    } else {
        path
    };
    let regular_or_new = match std::fs::metadata(path) {
        Ok(meta) => meta.is_file(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => true,
        Err(error) => return Err(error),
    };
    if regular_or_new {
        let permissions = std::fs::metadata(path).ok().map(|m| m.permissions());
        return makguard_fix::write::atomic_write(path, bytes, permissions);
    }
    let mut file = std::fs::OpenOptions::new().write(true).truncate(true).open(path)?;
    file.write_all(bytes)?;
    file.flush()
}
