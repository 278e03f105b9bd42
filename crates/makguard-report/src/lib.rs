//! makguard-report: renders a [`ScanReport`] in every output format makguard speaks: text for
//! people, the JSON contract, SARIF 2.1.0 for code-scanning services, `JUnit` XML for test
//! dashboards, GitLab's Code Quality report, GitHub workflow-command annotations and Markdown
//! for step summaries.
//!
//! Every renderer returns a `String`; printing and writing files is the CLI's business. No
//! document prints a non-GVLK key in full: every one passes one masking step over its whole
//! text ([`safe`]), keys appear masked with their `sha256:` fingerprint, and only the text
//! and JSON formats reveal a key, and only with [`RenderOptions::show_keys`]. The formats are documented in `docs/output-formats.md`.

#![warn(missing_docs)]

mod github;
mod gitlab;
mod json;
mod junit;
mod markdown;
pub mod safe;
mod sarif;
mod text;

use std::fmt;
use std::str::FromStr;

use makguard_core::{ExitStatus, Finding, RootReport, ScanReport, Severity};

pub use github::{
    ANNOTATIONS_PER_LEVEL as GITHUB_ANNOTATIONS_PER_LEVEL, escape_data as github_escape_data,
    escape_property as github_escape_property,
};
pub use markdown::{MAX_TABLE_ROWS as MARKDOWN_MAX_TABLE_ROWS, escape_cell as markdown_escape_cell};
pub use sarif::SarifLimits;

/// The tool name in every format.
pub const TOOL_NAME: &str = "makguard";
/// The project's home page (SARIF `informationUri`).
pub const INFORMATION_URI: &str = "https://github.com/makguard/makguard";

/// Where a rule's documentation lives (SARIF `helpUri`, Markdown links).
pub fn rule_help_uri(code: &str) -> String {
    format!(
        "{INFORMATION_URI}/blob/main/docs/rules.md#{}",
        code.to_ascii_lowercase()
    )
}

/// How to render (construct with [`RenderOptions::new`] and `..`: fields are added over time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderOptions {
    /// ANSI colour in the text format (the CLI turns it on for a terminal only).
    pub color: bool,
    /// `--show-keys`: full keys in the text and JSON formats only. Never in SARIF, `JUnit`,
    /// annotations or Markdown, which end up in CI systems.
    pub show_keys: bool,
    /// makguard's version, e.g. `env!("CARGO_PKG_VERSION")` of the CLI.
    pub tool_version: &'static str,
    /// `--fail-on`: the severity at or above which the scan fails (the verdict shown). At
    /// `note`, SARIF also carries note-level findings.
    pub fail_on: Severity,
    /// How much the text format shows (`-q`, default, `--detail full` / `-v`).
    pub detail: TextDetail,
    /// List note-severity findings in the text format (`-v`); they are always counted, and
    /// listed anyway under `--fail-on note`. Other formats always carry them.
    pub show_notes: bool,
    /// The exit code the process ends with, computed before rendering (SARIF
    /// `invocations[0].exitCode`). `None`: the code the report implies at `fail_on`.
    pub exit_code: Option<i32>,
    /// What one SARIF document may hold; GitHub code scanning's limits by default.
    pub sarif_limits: SarifLimits,
}

/// How much of each finding the text format shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextDetail {
    /// `-q`: only the unsuppressed error findings, one line each, and the verdict.
    Quiet,
    /// One line per finding, the summary and the verdict.
    #[default]
    Concise,
    /// Each finding with its XML place, key fingerprint and class, fix and remediation.
    Full,
}

impl RenderOptions {
    /// No colour, keys masked, failing on errors, GitHub's SARIF limits.
    pub fn new(tool_version: &'static str) -> RenderOptions {
        RenderOptions {
            color: false,
            show_keys: false,
            tool_version,
            fail_on: Severity::Error,
            detail: TextDetail::Concise,
            show_notes: false,
            exit_code: None,
            sarif_limits: SarifLimits::GITHUB,
        }
    }
}

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Lines for people reading a terminal or a log.
    Text,
    /// The JSON contract, for programs.
    Json,
    /// SARIF 2.1.0, for code-scanning services.
    Sarif,
    /// `JUnit` XML, for test dashboards.
    Junit,
    /// GitLab's Code Quality report.
    Gitlab,
    /// GitHub workflow-command annotations.
    Github,
    /// Markdown, for step summaries.
    Markdown,
}

impl Format {
    /// Every format, in the order the help lists them.
    pub const ALL: [Format; 7] = [
        Format::Text,
        Format::Json,
        Format::Sarif,
        Format::Junit,
        Format::Gitlab,
        Format::Github,
        Format::Markdown,
    ];

    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Sarif => "sarif",
            Format::Junit => "junit",
            Format::Gitlab => "gitlab",
            Format::Github => "github",
            Format::Markdown => "markdown",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A format name makguard does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown output format `{0}` (expected text, json, sarif, junit, gitlab, github or markdown)")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(name: &str) -> Result<Format, UnknownFormat> {
        Format::ALL
            .into_iter()
            .find(|format| format.as_str().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| UnknownFormat(name.to_string()))
    }
}

/// Renders `report` in `format`.
///
/// Every document passes `safe::finish`, the one masking step of [`safe`], so no field can print a
/// non-GVLK key whatever it holds; the text and GitHub formats render a copy of the report
/// whose control characters are escaped ([`safe::escaped_report`]).
pub fn render(format: Format, report: &ScanReport, options: &RenderOptions) -> String {
    let masked_paths;
    let report = if safe::may_reveal(format, options) {
        report
    } else {
        masked_paths = safe::with_masked_raw_paths(report);
        &*masked_paths
    };
    let escaped;
    let report = if safe::needs_escaped_report(format) {
        escaped = safe::escaped_report(report);
        &escaped
    } else {
        report
    };
    let document = match format {
        Format::Text => text::render(report, options),
        Format::Json => json::render(report, options),
        Format::Sarif => sarif::render(report, options),
        Format::Junit => junit::render(report, options),
        Format::Gitlab => gitlab::render(report, options),
        Format::Github => github::render(report, options),
        Format::Markdown => markdown::render(report, options),
    };
    safe::finish(format, document, options)
}

/// The Markdown the `github` format adds to `$GITHUB_STEP_SUMMARY`: every annotation level's
/// count, how many GitHub shows ([`GITHUB_ANNOTATIONS_PER_LEVEL`]) and the verdict. Writing
/// it is the CLI's job, as for every document.
pub fn render_github_step_summary(report: &ScanReport, options: &RenderOptions) -> String {
    safe::finish(Format::Markdown, github::step_summary(report, options), options)
}

/// The outcome a report implies, with the words every format uses for it.
pub(crate) struct Verdict {
    pub status: ExitStatus,
    /// `pass`, `fail` or `incomplete`.
    pub word: &'static str,
    /// `exit 1: unsuppressed findings at or above error`.
    pub explanation: String,
}

pub(crate) fn verdict(report: &ScanReport, fail_on: Severity) -> Verdict {
    let status = report.exit_status(fail_on);
    let unreadable = report
        .findings
        .iter()
        .filter(|f| f.suppressed.is_none() && f.rule.is_incomplete_scan())
        .count();
    let allowed_gap = if report.incomplete() && report.allow_incomplete {
        format!(
            "; incomplete: {} allowed by --allow-incomplete",
            plural(unreadable, "unreadable file")
        )
    } else {
        String::new()
    };
    let gated = report
        .findings
        .iter()
        .filter(|f| f.suppressed.is_none() && f.severity >= fail_on)
        .count();
    let (word, explanation) = match status {
        ExitStatus::Clean if report.report_only && gated > 0 => (
            "pass",
            format!(
                "exit 0: report only (--fail-on never), {} not gated{allowed_gap}",
                plural(gated, "finding")
            ),
        ),
        ExitStatus::Clean => (
            "pass",
            format!("exit 0: no unsuppressed findings at or above {fail_on}{allowed_gap}"),
        ),
        ExitStatus::Findings => (
            "fail",
            format!("exit 1: unsuppressed findings at or above {fail_on}{allowed_gap}"),
        ),
        ExitStatus::Incomplete => (
            "incomplete",
            format!(
                "exit 3: the scan is incomplete, {} could not be read or parsed",
                plural(unreadable, "file")
            ),
        ),
        ExitStatus::Usage => ("usage-error", "exit 2: usage or configuration error".to_string()),
    };
    Verdict {
        status,
        word,
        explanation,
    }
}

/// `1 error`, `2 errors`.
pub(crate) fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("{count} {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// The root a finding's path is relative to, if the report has it.
pub(crate) fn root_of<'a>(report: &'a ScanReport, finding: &Finding) -> Option<&'a RootReport> {
    report.roots.get(finding.location.root)
}

/// A root as given, `/`-separated, without `./` prefixes or a trailing `/`; empty for `.`.
/// A Windows verbatim path is read as the path it names: `\\?\C:\x` as `C:/x`, and
/// `\\?\UNC\server\share` as the UNC path `//server/share`.
pub(crate) fn normalise_root(root: &str) -> String {
    let mut path = root.replace('\\', "/");
    for verbatim in ["//?/", "//./"] {
        if let Some(rest) = path.strip_prefix(verbatim) {
            path = match rest.get(..4) {
                Some(unc) if unc.eq_ignore_ascii_case("UNC/") => format!("//{}", &rest[4..]),
                _ => rest.to_string(),
            };
        }
    }
    while let Some(rest) = path.strip_prefix("./") {
        path = rest.to_string();
    }
    while path.len() > 1 && path.ends_with('/') && !is_drive_root(&path) {
        path.pop();
    }
    if path == "." { String::new() } else { path }
}

fn is_drive_root(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.len() == 3 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' && bytes[2] == b'/'
}

/// True for `/x`, `//server/share`, `C:/x` (after [`normalise_root`]).
pub(crate) fn is_absolute(path: &str) -> bool {
    let bytes = path.as_bytes();
    path.starts_with('/') || (bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':')
}

/// Joins a normalised root and a root-relative path.
pub(crate) fn join_root(root: &str, relative: &str) -> String {
    if root.is_empty() {
        relative.to_string()
    } else if relative.is_empty() {
        root.to_string()
    } else if root.ends_with('/') {
        format!("{root}{relative}")
    } else {
        format!("{root}/{relative}")
    }
}

/// The path CI systems and people use to open the finding's file: the root joined with the
/// root-relative path (`/`-separated), or the root itself when the root is a single file.
pub(crate) fn file_location(report: &ScanReport, finding: &Finding) -> String {
    match root_of(report, finding) {
        Some(root) if root.container.is_some() => root
            .container
            .as_ref()
            .map(|image| image.locate(&normalise_root(&root.path), &finding.path().display))
            .unwrap_or_default(),
        Some(root) if root.is_file && !root.path.is_empty() => normalise_root(&root.path),
        Some(root) => join_root(&normalise_root(&root.path), &finding.path().display),
        None => finding.path().display.clone(),
    }
}

/// `path:line:col`, `path:line` or `path`.
pub(crate) fn position_suffix(finding: &Finding) -> String {
    match (finding.line(), finding.column()) {
        (Some(line), Some(column)) => format!(":{line}:{column}"),
        (Some(line), None) => format!(":{line}"),
        _ => String::new(),
    }
}

pub(crate) use makguard_core::hex::encode as hex;

/// Where in the XML a finding sits: `specialize / Microsoft-Windows-Shell-Setup (amd64) /
/// ProductKey`, with `(in a comment)` when it is.
pub(crate) fn describe_xml(xml: &makguard_core::XmlContext) -> String {
    let mut parts = Vec::new();
    if let Some(pass) = &xml.pass {
        parts.push(pass.clone());
    }
    match (&xml.component, &xml.architecture) {
        (Some(component), Some(arch)) => parts.push(format!("{component} ({arch})")),
        (Some(component), None) => parts.push(component.clone()),
        (None, Some(arch)) => parts.push(format!("({arch})")),
        (None, None) => {}
    }
    if !xml.element_path.is_empty() {
        parts.push(xml.element_path.clone());
    }
    let mut out = parts.join(" / ");
    if xml.in_comment {
        out.push_str(" (in a comment)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_by_name_in_any_case() {
        for format in Format::ALL {
            assert_eq!(format.as_str().parse::<Format>(), Ok(format));
            assert_eq!(format.as_str().to_ascii_uppercase().parse::<Format>(), Ok(format));
        }
        assert!("xml".parse::<Format>().is_err());
    }

    #[test]
    fn roots_normalise_and_join() {
        assert_eq!(normalise_root("./images/"), "images");
        assert_eq!(normalise_root("."), "");
        assert_eq!(normalise_root("C:\\mount\\"), "C:/mount");
        assert_eq!(normalise_root("C:\\"), "C:/");
        assert_eq!(normalise_root("/"), "/");
        assert_eq!(join_root("/", "Windows/x"), "/Windows/x");
        assert_eq!(join_root("C:/", "Windows/x"), "C:/Windows/x");
        assert_eq!(join_root("", "a.xml"), "a.xml");
        assert_eq!(join_root("img", "a.xml"), "img/a.xml");
        assert!(is_absolute("/mnt") && is_absolute("C:/x") && !is_absolute("img/x"));
    }

    #[test]
    fn windows_verbatim_and_unc_roots_normalise_to_the_paths_they_name() {
        assert_eq!(normalise_root(r"\\?\C:\Mount\Win 11\"), "C:/Mount/Win 11");
        assert_eq!(normalise_root(r"\\?\C:\"), "C:/");
        assert_eq!(normalise_root(r"\\?\UNC\server\share\img"), "//server/share/img");
        assert_eq!(normalise_root(r"\\?\unc\server\share"), "//server/share");
        assert_eq!(normalise_root(r"\\.\D:\img"), "D:/img");
        assert_eq!(normalise_root(r"\\server\share\img\"), "//server/share/img");
        assert!(is_absolute(&normalise_root(r"\\?\UNC\server\share")));
    }
}
