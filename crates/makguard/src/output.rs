//! Where reports go: every `--format FORMAT[=FILE]` rendered once and written to its file or
//! to standard output, with colour only on a terminal (or `--color always`).

use std::io::{IsTerminal, Write};

use anyhow::{Context, bail};
use makguard_core::{ScanReport, Severity};

use crate::cli::{ColorChoice, OutputSpec};
use makguard_report::{Format, RenderOptions, render};

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

/// Renders `report` once per output and writes each.
pub fn write_reports(
    report: &ScanReport,
    outputs: &[OutputSpec],
    color: ColorChoice,
    show_keys: bool,
    fail_on: Severity,
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
            tool_version: env!("CARGO_PKG_VERSION"),
            fail_on,
        };
        let mut rendered = render(output.format, report, &options);
        if !rendered.is_empty() && !rendered.ends_with('\n') {
            rendered.push('\n');
        }
        match &output.file {
            Some(file) => std::fs::write(file, rendered)
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
