//! GitHub Actions workflow commands: one `::error`, `::warning` or `::notice` annotation per
//! finding, on the file as the workflow sees it (the root joined with the path), escaped as
//! GitHub's toolkit escapes them.

use std::fmt::Write as _;

use makguard_core::{ScanReport, Severity};

use crate::{RenderOptions, TOOL_NAME, file_location, plural, verdict};

/// Escapes a workflow command's message: `%`, carriage return and line feed.
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escapes a workflow command property value: as [`escape_data`], plus `:` and `,`, which
/// separate properties.
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

pub(crate) fn render(report: &ScanReport, options: &RenderOptions) -> String {
    let mut out = String::new();
    for finding in &report.findings {
        let command = match (finding.suppressed.is_some(), finding.severity) {
            (true, _) | (false, Severity::Note) => "notice",
            (false, Severity::Warning) => "warning",
            (false, Severity::Error) => "error",
        };
        let mut properties = vec![format!("file={}", escape_property(&file_location(report, finding)))];
        if let Some(line) = finding.line {
            properties.push(format!("line={line}"));
            if let Some(column) = finding.column {
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
        if let Some(remediation) = &finding.remediation {
            let _ = write!(message, "\n{remediation}");
        }
        if let Some(suppression) = &finding.suppressed {
            let _ = write!(
                message,
                "\nsuppressed by {}: {}",
                suppression.origin, suppression.justification
            );
        }
        let _ = writeln!(out, "::{command} {}::{}", properties.join(","), escape_data(&message));
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
