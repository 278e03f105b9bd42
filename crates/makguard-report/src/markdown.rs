//! Markdown for `$GITHUB_STEP_SUMMARY` and merge-request comments: the image's identity and the
//! verdict, the counts, a table of findings and the suppressed findings with their
//! justifications.

use std::fmt::Write as _;

use makguard_core::{ExitStatus, Finding, ScanReport, Severity};

use crate::{RenderOptions, TOOL_NAME, file_location, position_suffix, rule_help_uri, verdict};

/// Rows per table: GitHub refuses a step summary over 1 MiB, and past a few hundred rows the
/// SARIF, JSON or `JUnit` report is the place to read findings anyway.
pub const MAX_TABLE_ROWS: usize = 500;

/// Escapes text for a GitHub-flavoured Markdown table cell: `|` would end the cell, a line
/// break the row, HTML would render, and emphasis or link syntax would reformat the text.
pub fn escape_cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '|' => out.push_str("\\|"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' | '\n' => out.push_str("<br>"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A masked key in a code span; a masked key holds only `*`, `-` and key symbols.
fn key_cell(finding: &Finding) -> String {
    match &finding.key {
        Some(info) => format!("`{}`", info.key.display_form()),
        None => String::new(),
    }
}

fn location_cell(report: &ScanReport, finding: &Finding) -> String {
    escape_cell(&format!(
        "{}{}",
        file_location(report, finding),
        position_suffix(finding)
    ))
}

fn code_cell(finding: &Finding) -> String {
    format!(
        "[{}]({}) {}",
        finding.rule.code,
        rule_help_uri(finding.rule.code),
        escape_cell(finding.rule.name)
    )
}

fn write_hidden(out: &mut String, hidden: usize) {
    if hidden > 0 {
        let _ = writeln!(
            out,
            "\n…and {hidden} more, not shown here; the text, JSON, SARIF and JUnit reports list them all."
        );
    }
}

pub(crate) fn render(report: &ScanReport, options: &RenderOptions) -> String {
    let mut out = String::new();
    write_verdict(&mut out, report, options);
    write_scanned(&mut out, report);
    write_counts(&mut out, report);
    write_findings(&mut out, report);
    write_suppressed(&mut out, report);
    out
}

fn write_verdict(out: &mut String, report: &ScanReport, options: &RenderOptions) {
    let verdict = verdict(report, options.fail_on);
    let icon = match verdict.status {
        ExitStatus::Clean => "✅",
        ExitStatus::Findings | ExitStatus::Usage | ExitStatus::Incomplete => "❌",
    };
    let _ = writeln!(out, "## {icon} {TOOL_NAME}: {}\n", verdict.word);
    let _ = writeln!(out, "{}.\n", escape_cell(&verdict.explanation));
}

/// The images scanned (or, when there is none, the roots) and the file counts.
fn write_scanned(out: &mut String, report: &ScanReport) {
    let images: Vec<_> = report
        .roots
        .iter()
        .filter_map(|r| r.image.as_ref().map(|i| (r, i)))
        .collect();
    for (root, image) in &images {
        let _ = writeln!(
            out,
            "**Image:** {} at `{}`  ",
            escape_cell(&image.describe()),
            root.path.replace('`', "'")
        );
    }
    if images.is_empty() && !report.roots.is_empty() {
        let roots: Vec<String> = report
            .roots
            .iter()
            .map(|r| format!("`{}`", r.path.replace('`', "'")))
            .collect();
        let _ = writeln!(out, "**Scanned:** {}  ", roots.join(", "));
    }
    let skipped: u64 = report.summary.skipped.values().sum();
    let _ = writeln!(
        out,
        "**Files:** {} walked, {} scanned, {} skipped\n",
        report.summary.files_walked, report.summary.files_scanned, skipped
    );
}

fn write_counts(out: &mut String, report: &ScanReport) {
    let _ = writeln!(out, "| Errors | Warnings | Notes | Suppressed | Incomplete |");
    let _ = writeln!(out, "|---:|---:|---:|---:|:---:|");
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} |\n",
        report.count(Severity::Error),
        report.count(Severity::Warning),
        report.count(Severity::Note),
        report.suppressed_count(),
        if report.incomplete() { "yes" } else { "no" }
    );
}

fn write_findings(out: &mut String, report: &ScanReport) {
    let active: Vec<&Finding> = report.findings.iter().filter(|f| f.suppressed.is_none()).collect();
    if active.is_empty() {
        let _ = writeln!(out, "No findings.\n");
        return;
    }
    let _ = writeln!(out, "### Findings\n");
    let _ = writeln!(out, "| Rule | Severity | Location | Message | Key |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    let hidden = active.len().saturating_sub(MAX_TABLE_ROWS);
    for finding in active.into_iter().take(MAX_TABLE_ROWS) {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            code_cell(finding),
            finding.severity,
            location_cell(report, finding),
            escape_cell(&finding.message),
            key_cell(finding)
        );
    }
    write_hidden(out, hidden);
    out.push('\n');
}

fn write_suppressed(out: &mut String, report: &ScanReport) {
    let suppressed: Vec<&Finding> = report.findings.iter().filter(|f| f.suppressed.is_some()).collect();
    if suppressed.is_empty() {
        return;
    }
    let _ = writeln!(out, "### Suppressed\n");
    let _ = writeln!(out, "| Rule | Location | Key | Justification | Exception |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    let hidden = suppressed.len().saturating_sub(MAX_TABLE_ROWS);
    for finding in suppressed.into_iter().take(MAX_TABLE_ROWS) {
        let (justification, origin) = finding
            .suppressed
            .as_ref()
            .map(|s| (s.justification.as_str(), s.origin.as_str()))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            code_cell(finding),
            location_cell(report, finding),
            key_cell(finding),
            escape_cell(justification),
            escape_cell(origin)
        );
    }
    write_hidden(out, hidden);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_escape_pipes_breaks_and_html() {
        assert_eq!(escape_cell("a|b"), "a\\|b");
        assert_eq!(escape_cell("l1\r\nl2\nl3"), "l1<br>l2<br>l3");
        assert_eq!(escape_cell("<script>&"), "&lt;script&gt;&amp;");
        assert_eq!(escape_cell("*x* _y_ `z` [l](u)"), "\\*x\\* \\_y\\_ \\`z\\` \\[l\\](u)");
    }
}
