//! GitHub Actions workflow commands: one `::error`, `::warning` or `::notice` annotation per
//! finding, on the file as the workflow sees it (the root joined with the path), escaped as
//! GitHub's toolkit escapes them; and the step summary that counts them.
//!
//! GitHub shows at most [`ANNOTATIONS_PER_LEVEL`] annotations of each level per step and drops
//! the rest silently, so the most important come first and no more than that are written:
//! errors, then warnings, then notices (suppressed findings and notes); within a level, findings
//! that made the scan incomplete (`MG9xx`), then findings holding a key that is not a GVLK (a MAK
//! or another non-KMS key), then the rest, each group in the report's order. The last annotation
//! of a level that overflows says how many more there are, and [`step_summary`] has every count.

use std::fmt::Write as _;

use crate::{RenderOptions, TOOL_NAME, file_location, plural, position_suffix, verdict};
use makguard_core::{Finding, KeyClass, ScanReport, Severity};

/// Escapes a workflow command's message: `%`, carriage return and line feed.
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escapes a workflow command property value: as [`escape_data`], plus `:` and `,`, which
/// separate properties.
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// How many annotations of one level GitHub shows for a step.
pub const ANNOTATIONS_PER_LEVEL: usize = 10;

/// The workflow commands, most important first.
const LEVELS: [&str; 3] = ["error", "warning", "notice"];

fn command_of(finding: &Finding) -> &'static str {
    match (finding.suppressed.is_some(), finding.severity) {
        (true, _) | (false, Severity::Note) => "notice",
        (false, Severity::Warning) => "warning",
        (false, Severity::Error) => "error",
    }
}

/// Within a level: incomplete scans, then keys that are not GVLKs, then the rest.
fn importance(finding: &Finding) -> u8 {
    if finding.rule.is_incomplete_scan() {
        0
    } else if finding.key.as_ref().is_some_and(|info| info.class() != KeyClass::Gvlk) {
        1
    } else {
        2
    }
}

/// The findings of one annotation level, most important first.
fn level_findings<'a>(report: &'a ScanReport, command: &str) -> Vec<&'a Finding> {
    let mut findings: Vec<&Finding> = report.findings.iter().filter(|f| command_of(f) == command).collect();
    // A stable sort keeps the report's order within each group.
    findings.sort_by_key(|f| importance(f));
    findings
}

fn annotation(report: &ScanReport, finding: &Finding, more: usize, command: &str) -> String {
    let mut properties = vec![format!("file={}", escape_property(&file_location(report, finding)))];
    if let Some(line) = finding.line() {
        properties.push(format!("line={line}"));
        if let Some(column) = finding.column() {
            properties.push(format!("col={column}"));
        }
    }
    let suppressed = if finding.suppressed.is_some() {
        " (suppressed)"
    } else {
        ""
    };
    properties.push(format!(
        "title={}",
        escape_property(&format!("{} {}{suppressed}", finding.rule.code, finding.rule.name))
    ));
    let mut message = finding.message.clone();
    if let Some(info) = &finding.key {
        let _ = write!(message, "\nkey {} {}", info.key.display_form(), info.key.fingerprint());
    }
    if let Some(fix) = &finding.fix {
        let _ = write!(
            message,
            "\nfix ({}): write {} (makguard fix)",
            fix.applicability.as_str(),
            fix.new_key.display_form()
        );
    }
    if let Some(remediation) = finding.remediation() {
        let _ = write!(message, "\n{remediation}");
    }
    if let Some(suppression) = &finding.suppressed {
        let _ = write!(
            message,
            "\nsuppressed by {}: {}",
            suppression.origin, suppression.justification
        );
    }
    if more > 0 {
        let _ = write!(
            message,
            "\n... and {} not shown here: GitHub shows {ANNOTATIONS_PER_LEVEL} {command} annotations per step (every finding is in the job log, the job summary and the SARIF report)",
            plural(more, &format!("more {command}"))
        );
    }
    format!("::{command} {}::{}", properties.join(","), escape_data(&message))
}

pub(crate) fn render(report: &ScanReport, options: &RenderOptions) -> String {
    let mut out = String::new();
    for command in LEVELS {
        let findings = level_findings(report, command);
        let shown = findings.len().min(ANNOTATIONS_PER_LEVEL);
        for (n, finding) in findings[..shown].iter().enumerate() {
            let more = if n + 1 == shown { findings.len() - shown } else { 0 };
            let _ = writeln!(out, "{}", annotation(report, finding, more, command));
        }
    }
    // Findings past the limit as plain log lines: nothing is lost from the job log.
    for command in LEVELS {
        for finding in level_findings(report, command).iter().skip(ANNOTATIONS_PER_LEVEL) {
            let _ = writeln!(
                out,
                "{TOOL_NAME}: {command} (not annotated): {}{}: {} {}: {}",
                file_location(report, finding),
                position_suffix(finding),
                finding.rule.code,
                finding.rule.name,
                escape_data(&finding.message)
            );
        }
    }
    // Plain log lines: the image's identity and the verdict belong in the job log, not in an
    // annotation on a file.
    for root in &report.roots {
        if let Some(image) = &root.image {
            let _ = writeln!(out, "{TOOL_NAME}: image {}: {}", root.path, image.describe());
        }
    }
    let verdict = verdict(report, options.fail_on);
    let _ = writeln!(
        out,
        "{TOOL_NAME}: {}, {}, {}, {} suppressed; {} ({})",
        plural(report.count(Severity::Error), "error"),
        plural(report.count(Severity::Warning), "warning"),
        plural(report.count(Severity::Note), "note"),
        report.suppressed_count(),
        verdict.word,
        verdict.explanation
    );
    out
}

/// Markdown for `$GITHUB_STEP_SUMMARY`: how many findings of each annotation level there are,
/// how many were annotated, and the verdict. The CLI appends it to the file named by
/// `GITHUB_STEP_SUMMARY` when it writes the `github` format.
pub(crate) fn step_summary(report: &ScanReport, options: &RenderOptions) -> String {
    let mut out = format!(
        "### {TOOL_NAME} annotations\n\n| level | findings | annotated | not annotated |\n| --- | ---: | ---: | ---: |\n"
    );
    let mut hidden = Vec::new();
    for command in LEVELS {
        let total = level_findings(report, command).len();
        let shown = total.min(ANNOTATIONS_PER_LEVEL);
        let _ = writeln!(out, "| {command} | {total} | {shown} | {} |", total - shown);
        if total > shown {
            hidden.push(plural(total - shown, command));
        }
    }
    if !hidden.is_empty() {
        let _ = write!(
            out,
            "\nGitHub shows at most {ANNOTATIONS_PER_LEVEL} annotations of each level per step: {} not annotated (they are in the job log and the SARIF report).\n",
            hidden.join(", ")
        );
    }
    let verdict = verdict(report, options.fail_on);
    let _ = writeln!(out, "\n**{}** ({})", verdict.word, verdict.explanation);
    out
}
