//! The text format for people: findings grouped by file, `path:line:col CODE [severity]
//! message` lines with the masked key, fix and remediation beneath, then the summary and the
//! verdict. ANSI colour only when asked for.

use std::fmt::Write as _;

use makguard_core::{ExitStatus, Finding, ScanReport, Severity};

use crate::{RenderOptions, describe_xml, group_by_file, hex, plural, position_suffix, verdict};

/// ANSI styles, empty when colour is off.
struct Style {
    on: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }

    fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }

    fn severity(&self, severity: Severity, text: &str) -> String {
        match severity {
            Severity::Error => self.paint("1;31", text),
            Severity::Warning => self.paint("1;33", text),
            Severity::Note => self.paint("1;36", text),
        }
    }
}

pub(crate) fn render(report: &ScanReport, options: &RenderOptions) -> String {
    let style = Style { on: options.color };
    let mut out = String::new();

    for root in &report.roots {
        if let Some(image) = &root.image {
            let place = match &root.container {
                Some(container) => match container.disagreement(image) {
                    Some(note) => format!("{}; {note}", container.describe_in(&root.path)),
                    None => container.describe_in(&root.path),
                },
                None => root.path.clone(),
            };
            let _ = writeln!(out, "{} {} ({place})", style.bold("image"), image.describe());
            if !image.key_configuration_files.is_empty() {
                let _ = writeln!(out, "  key configuration: {}", image.key_configuration_files.join(", "));
            }
        }
    }
    if report.roots.iter().any(|r| r.image.is_some()) {
        out.push('\n');
    }

    for (location, findings) in group_by_file(report) {
        let _ = writeln!(
            out,
            "{}",
            style.bold(&format!("{location} ({})", plural(findings.len(), "finding")))
        );
        for finding in findings {
            write_finding(&mut out, &style, options, &location, finding);
        }
        out.push('\n');
    }

    write_summary(&mut out, &style, report, options);
    out
}

fn write_finding(out: &mut String, style: &Style, options: &RenderOptions, location: &str, finding: &Finding) {
    let severity = format!("[{}]", finding.severity);
    let head = format!("{location}{} {}", position_suffix(finding), finding.rule.code);
    if let Some(suppression) = &finding.suppressed {
        let _ = writeln!(
            out,
            "{}",
            style.dim(&format!("{head} {severity} (suppressed) {}", finding.message))
        );
        let _ = writeln!(
            out,
            "    suppressed by {}: {}",
            suppression.origin, suppression.justification
        );
    } else {
        let _ = writeln!(
            out,
            "{head} {} {}",
            style.severity(finding.severity, &severity),
            finding.message
        );
    }
    if let Some(bytes) = &finding.path.raw_bytes {
        let _ = writeln!(out, "    path bytes (not UTF-8): {}", hex(bytes));
    }
    if let Some(xml) = &finding.xml {
        let _ = writeln!(out, "    at {}", describe_xml(xml));
    }
    if let Some(info) = &finding.key {
        let shown = if options.show_keys {
            info.key.reveal_unmasked().to_string()
        } else {
            info.key.display_form()
        };
        let _ = writeln!(
            out,
            "    key {shown} {} ({}, checksum {})",
            info.key.fingerprint(),
            info.classification.describe(),
            info.classification.checksum.as_str()
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
    if let Some(remediation) = &finding.remediation {
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

fn write_summary(out: &mut String, style: &Style, report: &ScanReport, options: &RenderOptions) {
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
    let _ = writeln!(
        out,
        "{}, {}, {}, {} suppressed",
        plural(report.count(Severity::Error), "error"),
        plural(report.count(Severity::Warning), "warning"),
        plural(report.count(Severity::Note), "note"),
        report.suppressed_count()
    );
    if let Some(line) = policy_line(report) {
        let _ = writeln!(out, "{line}");
    }
    let verdict = verdict(report, options.fail_on);
    let word = verdict.word.to_ascii_uppercase();
    let word = match verdict.status {
        ExitStatus::Clean => style.paint("1;32", &word),
        ExitStatus::Findings | ExitStatus::Usage => style.paint("1;31", &word),
        ExitStatus::Incomplete => style.paint("1;35", &word),
    };
    let _ = writeln!(out, "{word} ({})", verdict.explanation);
}
