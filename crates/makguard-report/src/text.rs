//! The text format for people, modelled on ruff's concise and full modes.
//!
//! Concise (the default): one line per finding, `path:line:col: CODE [severity] message`, the
//! key shown once (masked unless `--show-keys`), then the summary and the verdict. Full adds,
//! beneath each finding, where it sits in the XML, the key's fingerprint and class, the fix and
//! the remediation. Quiet keeps only the unsuppressed error findings and the verdict.
//! Note-severity findings (a correct GVLK) are shown only when asked for
//! ([`RenderOptions::show_notes`] or `--fail-on note`) and always counted.
//!
//! Colour is ANSI from `anstyle` when [`RenderOptions::color`] is set; the CLI writes through
//! `anstream`, which strips or translates it for the terminal it finds.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use makguard_core::{ExitStatus, Finding, ScanReport, Severity};

use crate::{RenderOptions, TextDetail, describe_xml, file_location, hex, plural, position_suffix, verdict};

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();

/// Paints text with `anstyle` styles, or not at all when colour is off.
struct Painter {
    on: bool,
}

impl Painter {
    fn paint(&self, style: Style, text: &str) -> String {
        if self.on {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }

    fn severity(&self, severity: Severity, text: &str) -> String {
        let color = match severity {
            Severity::Error => AnsiColor::Red,
            Severity::Warning => AnsiColor::Yellow,
            Severity::Note => AnsiColor::Cyan,
        };
        self.paint(BOLD.fg_color(Some(color.into())), text)
    }

    fn status(&self, status: ExitStatus, text: &str) -> String {
        let color = match status {
            ExitStatus::Clean => AnsiColor::Green,
            ExitStatus::Findings | ExitStatus::Usage => AnsiColor::Red,
            ExitStatus::Incomplete => AnsiColor::Magenta,
        };
        self.paint(BOLD.fg_color(Some(color.into())), text)
    }
}

/// True when note-severity findings are listed (they are always counted).
pub(crate) fn notes_shown(options: &RenderOptions) -> bool {
    options.show_notes || options.fail_on == Severity::Note
}

fn is_listed(finding: &Finding, options: &RenderOptions) -> bool {
    match options.detail {
        TextDetail::Quiet => finding.suppressed.is_none() && finding.severity == Severity::Error,
        TextDetail::Concise | TextDetail::Full => finding.severity != Severity::Note || notes_shown(options),
    }
}

pub(crate) fn render(report: &ScanReport, options: &RenderOptions) -> String {
    let painter = Painter { on: options.color };
    let mut out = String::new();
    if options.detail != TextDetail::Quiet {
        write_images(&mut out, &painter, report);
    }
    let listed: Vec<&Finding> = report.findings.iter().filter(|f| is_listed(f, options)).collect();
    for finding in &listed {
        write_finding(&mut out, &painter, options, &file_location(report, finding), finding);
    }
    let with_help = listed
        .iter()
        .filter(|f| f.fix.is_some() || f.remediation().is_some())
        .count();
    if options.detail == TextDetail::Concise && with_help > 0 {
        let _ = writeln!(
            out,
            "{}",
            painter.paint(
                DIM,
                &format!("(what to do about {}: shown with -v)", plural(with_help, "finding"))
            )
        );
    }
    if !listed.is_empty() && options.detail != TextDetail::Full {
        out.push('\n');
    }
    if options.detail != TextDetail::Quiet {
        write_summary(&mut out, report, options);
    }
    write_verdict(&mut out, &painter, report, options);
    out
}

fn write_images(out: &mut String, painter: &Painter, report: &ScanReport) {
    for root in &report.roots {
        if let Some(image) = &root.image {
            let place = match &root.container {
                Some(container) => match container.disagreement(image) {
                    Some(note) => format!("{}; {note}", container.describe_in(&root.path)),
                    None => container.describe_in(&root.path),
                },
                None => root.path.clone(),
            };
            let _ = writeln!(out, "{} {} ({place})", painter.paint(BOLD, "image"), image.describe());
            if !image.key_configuration_files.is_empty() {
                let _ = writeln!(out, "  key configuration: {}", image.key_configuration_files.join(", "));
            }
        }
    }
    if report.roots.iter().any(|r| r.image.is_some()) {
        out.push('\n');
    }
}

/// The key as this report may show it: in full for a GVLK or under `--show-keys`, else masked.
fn shown_key(finding: &Finding, options: &RenderOptions) -> Option<String> {
    let info = finding.key.as_ref()?;
    Some(if options.show_keys {
        info.key.reveal_unmasked().to_string()
    } else {
        info.key.display_form()
    })
}

fn write_finding(out: &mut String, painter: &Painter, options: &RenderOptions, location: &str, finding: &Finding) {
    let head = format!("{location}{}: {}", position_suffix(finding), finding.rule.code);
    let severity = format!("[{}]", finding.severity);
    let mut message = finding.message.clone();
    // The key once: most messages quote it already; the others get it appended.
    if let Some(shown) = shown_key(finding, options)
        && !message.contains(&shown)
    {
        let _ = write!(message, " ({shown})");
    }
    match &finding.suppressed {
        Some(suppression) => {
            let line = format!("{head} {severity} (suppressed by {}) {message}", suppression.origin);
            let _ = writeln!(out, "{}", painter.paint(DIM, &line));
        }
        None => {
            let _ = writeln!(
                out,
                "{} {} {message}",
                painter.paint(BOLD, &head),
                painter.severity(finding.severity, &severity)
            );
        }
    }
    if options.detail == TextDetail::Full {
        write_detail(out, options, finding);
        out.push('\n');
    }
}

/// The full mode's lines beneath a finding: what the concise line leaves out.
fn write_detail(out: &mut String, options: &RenderOptions, finding: &Finding) {
    if let Some(bytes) = &finding.path().raw_bytes {
        let _ = writeln!(out, "    path bytes (not UTF-8): {}", hex(bytes));
    }
    if let Some(suppression) = &finding.suppressed {
        let _ = writeln!(out, "    suppressed: {}", suppression.justification);
    }
    if let Some(xml) = finding.xml() {
        let _ = writeln!(out, "    at {}", describe_xml(xml));
    }
    if let (Some(info), Some(shown)) = (&finding.key, shown_key(finding, options)) {
        let _ = writeln!(
            out,
            "    key {shown} {} ({}, checksum {}, classified by {})",
            info.key.fingerprint(),
            info.classification.class.as_str(),
            info.classification.checksum.as_str(),
            info.classification.source.as_str()
        );
    }
    if let Some(fix) = &finding.fix {
        let _ = writeln!(
            out,
            "    fix ({}): write {} (chosen by {})",
            fix.applicability.as_str(),
            fix.new_key.display_form(),
            fix.chosen_by
        );
    }
    if let Some(remediation) = finding.remediation() {
        for (n, line) in remediation.lines().enumerate() {
            let label = if n == 0 { "remediation: " } else { "             " };
            let _ = writeln!(out, "    {label}{line}");
        }
    }
}

/// `policy: makguard.toml`, or with roots under different policies which applied where.
fn policy_line(report: &ScanReport) -> Option<String> {
    let policies: Vec<&str> = report
        .roots
        .iter()
        .map(|r| r.policy.as_deref().unwrap_or("none"))
        .collect();
    if report.roots.iter().all(|r| r.policy.is_none()) {
        return None;
    }
    if policies.windows(2).all(|pair| pair[0] == pair[1]) {
        return Some(format!("policy: {}", policies[0]));
    }
    let each: Vec<String> = report
        .roots
        .iter()
        .zip(&policies)
        .map(|(root, policy)| format!("{policy} for {}", root.path))
        .collect();
    Some(format!("policies: {}", each.join("; ")))
}

fn write_summary(out: &mut String, report: &ScanReport, options: &RenderOptions) {
    let summary = &report.summary;
    let skipped: u64 = summary.skipped.values().sum();
    let mut files = format!(
        "{} walked, {} scanned, {} skipped",
        plural(summary.files_walked as usize, "file"),
        summary.files_scanned,
        skipped
    );
    if !summary.skipped.is_empty() {
        let reasons: Vec<String> = summary
            .skipped
            .iter()
            .map(|(reason, count)| format!("{count} {reason}"))
            .collect();
        let _ = write!(files, " ({})", reasons.join(", "));
    }
    let _ = writeln!(out, "{files}");
    let notes = report.count(Severity::Note);
    let hidden = if notes > 0 && !notes_shown(options) {
        " (shown with -v)"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "{}, {}, {}{hidden}, {} suppressed",
        plural(report.count(Severity::Error), "error"),
        plural(report.count(Severity::Warning), "warning"),
        plural(notes, "note"),
        report.suppressed_count()
    );
    if let Some(line) = policy_line(report) {
        let _ = writeln!(out, "{line}");
    }
}

fn write_verdict(out: &mut String, painter: &Painter, report: &ScanReport, options: &RenderOptions) {
    let verdict = verdict(report, options.fail_on);
    let word = painter.status(verdict.status, &verdict.word.to_ascii_uppercase());
    let _ = writeln!(out, "{word} ({})", verdict.explanation);
}
