//! Where everything makguard writes goes: every `--format FORMAT[=FILE]` rendered once and
//! written to its file (atomically) or to standard output; and every diagnostic line on
//! standard error, through [`diag`].
//!
//! Colour is decided by `anstream`: the text report is rendered with ANSI styles and written
//! to standard output through an [`anstream::AutoStream`], which drops them for a pipe, under
//! `NO_COLOR` or a terminal without colour, keeps them under `CLICOLOR_FORCE`, and speaks the
//! console API to Windows consoles without VT mode. `--color always|never` wins over the
//! environment. Files are never coloured.
//!
//! Rendered reports are masked by makguard-report; every other byte written here (diagnostics,
//! change logs, diffs, messages) passes [`safe_text`]: the same one masking step, then control
//! characters shown as escapes.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use makguard_core::ScanReport;
use makguard_core::key::mask_keys_in;
use makguard_report::safe::escape_controls;

use crate::cli::{ColorChoice, Detail, FailOn, OutputSpec, ScanOpts};
use makguard_report::{Format, RenderOptions, TextDetail, render, render_github_step_summary};

/// Rejects output lists that would interleave two reports on standard output, and report
/// files that could not be written (a missing folder, a read-only place); checked before
/// scanning so a usage error costs nothing and a long scan is not lost at the end.
pub(crate) fn check_outputs(outputs: &[OutputSpec]) -> anyhow::Result<()> {
    if outputs.iter().filter(|o| o.file.is_none()).count() > 1 {
        bail!(
            "at most one --format may write to standard output; give the others a file (--format sarif=makguard.sarif)"
        );
    }
    for output in outputs {
        if let Some(file) = &output.file {
            check_writable(file)
                .with_context(|| format!("cannot write the {} report to {}", output.format_name, file.display()))?;
        }
    }
    Ok(())
}

/// Rejects a `fix --report` change log that could not be written, before anything is
/// scanned or rewritten: found only at the end, the failure would come after the image had
/// been changed, with no record of what changed.
pub(crate) fn check_change_log(file: &Path) -> anyhow::Result<()> {
    check_writable(file).with_context(|| format!("cannot write the change log to {}", file.display()))
}

/// Rejects a `fix --output` WIM that could not be written, or that names one of the paths
/// being fixed, before anything is scanned or rewritten: the WIM writer refuses both only after
/// the whole scan and fix, and the post-fix scan then reports on a file that was never written.
/// The input itself is refused rather than taken as in-place fixing, as the writer does: an
/// `--output` promises the input stays untouched.
pub(crate) fn check_fixed_wim_output(file: &Path, inputs: &[PathBuf]) -> anyhow::Result<()> {
    check_writable(file).with_context(|| format!("cannot write the fixed WIM to {}", file.display()))?;
    // Canonical paths, so a link to the input or `./install.wim` is the input too.
    let output = std::fs::canonicalize(file).ok();
    if output.is_some() && inputs.iter().any(|input| std::fs::canonicalize(input).ok() == output) {
        bail!(
            "--output {} is the input WIM: leave out --output to fix it in place (atomically)",
            file.display()
        );
    }
    // The WIM writer renames a temporary file over the path it is given: over a link or a
    // device that would replace the link or the device node itself, not write through it.
    if let Ok(meta) = std::fs::symlink_metadata(file)
        && !meta.is_file()
    {
        bail!(
            "--output {}: it exists and is not a regular file (a link, a device or a pipe); name a regular file or a new one",
            file.display()
        );
    }
    Ok(())
}

/// Proves `file` can be written the way [`write_file`] will write it: a regular file (or a new
/// one) is replaced through a temporary file beside it, so its folder must take a new file;
/// anything else (`/dev/stdout`, a pipe) is written in place and is not probed.
fn check_writable(file: &Path) -> anyhow::Result<()> {
    let file: PathBuf = if std::fs::symlink_metadata(file).is_ok_and(|m| m.file_type().is_symlink()) {
        std::fs::canonicalize(file).context("the link does not lead to a file")?
    } else {
        file.to_path_buf()
    };
    match std::fs::metadata(&file) {
        Ok(meta) if meta.is_dir() => bail!("it is a folder"),
        Ok(meta) if !meta.is_file() => return Ok(()),
        _ => {}
    }
    let folder = match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if !folder.is_dir() {
        bail!("the folder {} does not exist", folder.display());
    }
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let probe = folder.join(format!(".{name}.makguard-probe-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .with_context(|| format!("the folder {} does not take new files", folder.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// The text detail the options ask for: `-q` wins, then `--detail`, then `-v` (full).
fn text_detail(opts: &ScanOpts) -> TextDetail {
    if opts.quiet {
        return TextDetail::Quiet;
    }
    match (opts.detail, opts.verbose) {
        (Some(Detail::Full), _) | (None, 1..) => TextDetail::Full,
        (Some(Detail::Concise), _) | (None, 0) => TextDetail::Concise,
    }
}

/// Writes every report `opts` asks for and returns the exit code by the contract. Under
/// `--fail-on never` / `--exit-zero` findings never make exit 1; an incomplete scan still
/// exits 3.
pub(crate) fn report_and_exit(report: &mut ScanReport, opts: &ScanOpts) -> anyhow::Result<u8> {
    report.report_only = opts.gate() == FailOn::Never;
    if opts.verbose > 0 {
        list_searched_files(report);
    }
    // Computed before rendering: SARIF records the exit code.
    let exit_code = report.exit_status(opts.gate().severity()) as u8;
    write_reports(report, opts, exit_code)?;
    Ok(exit_code)
}

/// `-v`: each file searched, with the kind its name gives it, on standard error.
fn list_searched_files(report: &ScanReport) {
    for root in &report.roots {
        for file in &root.searched {
            // Text, XML included, is searched by content, which may still make it an answer file.
            let kind = match makguard_scan::candidate_by_name(file) {
                Some(makguard_scan::FileKind::Text) | None => "by content",
                Some(kind) => kind.as_str(),
            };
            let shown = if root.is_file {
                root.path.clone()
            } else {
                format!("{}/{file}", root.path.trim_end_matches(['/', '\\']))
            };
            diag(&format!("searched {shown} ({kind})"));
        }
    }
}

/// Renders `report` once per output and writes each, recording `exit_code` (the code the
/// process ends with) in SARIF. The `github` format also appends its annotation counts to
/// `$GITHUB_STEP_SUMMARY` when set.
pub(crate) fn write_reports(report: &ScanReport, opts: &ScanOpts, exit_code: u8) -> anyhow::Result<()> {
    let default = [OutputSpec {
        format: Format::Text,
        format_name: "text".to_string(),
        file: None,
    }];
    let outputs = if opts.formats.is_empty() {
        &default[..]
    } else {
        &opts.formats[..]
    };
    check_outputs(outputs)?;
    for output in outputs {
        let options = RenderOptions {
            color: output.file.is_none() && opts.color != ColorChoice::Never,
            show_keys: opts.show_keys,
            fail_on: opts.gate().severity(),
            detail: text_detail(opts),
            show_notes: opts.verbose > 0,
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
            None => write_stdout(rendered.as_bytes(), opts.color).context("cannot write to standard output")?,
        }
    }
    Ok(())
}

/// Writes to standard output through `anstream`, which keeps, strips or translates colour.
fn write_stdout(bytes: &[u8], color: ColorChoice) -> std::io::Result<()> {
    let choice = match color {
        ColorChoice::Auto => anstream::ColorChoice::Auto,
        ColorChoice::Always => anstream::ColorChoice::Always,
        ColorChoice::Never => anstream::ColorChoice::Never,
    };
    let mut stdout = anstream::AutoStream::new(std::io::stdout(), choice).lock();
    stdout.write_all(bytes)?;
    stdout.flush()
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
pub(crate) fn safe_text(text: &str) -> String {
    escape_controls(&mask_keys_in(text), true)
}

/// Prints one diagnostic line on standard error, `makguard: ` first, through [`safe_text`].
pub(crate) fn diag(message: &str) {
    eprintln!("makguard: {}", safe_text(message));
}

/// Prints `text` on standard output through [`safe_text`].
pub(crate) fn print_safe(text: &str) {
    print!("{}", safe_text(text));
}

/// Writes a report or change log to `path`. A regular file (or a new one) is written
/// atomically: a temporary file beside it, synced, renamed over it, so a full disk or a kill
/// leaves the old file or none, never a truncated one (the temporary file is removed on error).
/// Anything else (`/dev/stdout`, a pipe) is written in place, and every write error counts.
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
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
