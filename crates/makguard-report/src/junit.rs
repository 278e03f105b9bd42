//! JUnit XML for test dashboards (GitLab, Azure DevOps, Jenkins): one `testsuite` per scanned
//! root, one `testcase` per candidate file searched, a `failure` per unsuppressed error
//! finding, and warnings, notes and suppressed findings as `system-out`.

use std::collections::HashSet;
use std::fmt::Write as _;

use makguard_core::{Finding, ScanReport, Severity};

use crate::{RenderOptions, TOOL_NAME, describe_xml, file_location, position_suffix};

/// Escapes text for XML content and attribute values, dropping characters XML 1.0 cannot hold
/// even as references (control characters other than tab, newline and carriage return).
pub(crate) fn escape_xml(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\'' if attribute => out.push_str("&apos;"),
            // Attribute-value normalisation would turn these into spaces.
            '\n' if attribute => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

struct Case<'a> {
    name: String,
    file: String,
    findings: Vec<&'a Finding>,
}

struct Suite<'a> {
    name: String,
    image: Option<String>,
    cases: Vec<Case<'a>>,
}

impl Suite<'_> {
    fn failures(&self) -> usize {
        self.cases
            .iter()
            .map(|c| c.findings.iter().filter(|f| is_failure(f)).count())
            .sum()
    }
}

fn is_failure(finding: &Finding) -> bool {
    finding.suppressed.is_none() && finding.severity == Severity::Error
}

fn suites(report: &ScanReport) -> Vec<Suite<'_>> {
    let mut suites: Vec<Suite> = report
        .roots
        .iter()
        .map(|root| {
            let mut seen = HashSet::new();
            let cases = root
                .searched
                .iter()
                .filter(|name| seen.insert(name.as_str()))
                .map(|name| Case {
                    name: name.clone(),
                    file: String::new(),
                    findings: Vec::new(),
                })
                .collect();
            Suite {
                name: root.path.clone(),
                image: root.image.as_ref().map(|i| i.describe()),
                cases,
            }
        })
        .collect();
    // Findings whose root is unknown still need a home, or a failure would vanish.
    let orphan_suite = suites.len();
    for finding in &report.findings {
        let suite_index = if finding.root < orphan_suite {
            finding.root
        } else {
            if suites.len() == orphan_suite {
                suites.push(Suite {
                    name: TOOL_NAME.to_string(),
                    image: None,
                    cases: Vec::new(),
                });
            }
            orphan_suite
        };
        let file = file_location(report, finding);
        let cases = &mut suites[suite_index].cases;
        let case = match cases.iter().position(|c| c.name == finding.path.display) {
            Some(position) => &mut cases[position],
            None => {
                cases.push(Case {
                    name: finding.path.display.clone(),
                    file: String::new(),
                    findings: Vec::new(),
                });
                let last = cases.len() - 1;
                &mut cases[last]
            }
        };
        case.file = file;
        case.findings.push(finding);
    }
    suites
}

fn finding_text(finding: &Finding, location: &str) -> String {
    let mut text = format!(
        "{location}{} {} {} [{}] {}",
        position_suffix(finding),
        finding.rule.code,
        finding.rule.name,
        finding.severity,
        finding.message
    );
    if let Some(xml) = &finding.xml {
        let _ = write!(text, "\nat {}", describe_xml(xml));
    }
    if let Some(info) = &finding.key {
        let _ = write!(
            text,
            "\nkey {} {} ({})",
            info.key.display_form(),
            info.key.fingerprint(),
            info.class()
        );
    }
    if let Some(fix) = &finding.fix {
        let _ = write!(
            text,
            "\nfix ({}): write {} (chosen by {})",
            fix.applicability.as_str(),
            fix.new_key.display_form(),
            fix.chosen_by
        );
    }
    if let Some(remediation) = &finding.remediation {
        let _ = write!(text, "\nremediation: {remediation}");
    }
    if let Some(suppression) = &finding.suppressed {
        let _ = write!(
            text,
            "\nsuppressed by {}: {}",
            suppression.origin, suppression.justification
        );
    }
    text
}

pub(crate) fn render(report: &ScanReport, _options: &RenderOptions) -> String {
    let suites = suites(report);
    let total_tests: usize = suites.iter().map(|s| s.cases.len()).sum();
    let total_failures: usize = suites.iter().map(Suite::failures).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{TOOL_NAME}\" tests=\"{total_tests}\" failures=\"{total_failures}\" errors=\"0\" skipped=\"0\">"
    );
    for suite in &suites {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\">",
            escape_xml(&suite.name, true),
            suite.cases.len(),
            suite.failures()
        );
        if let Some(image) = &suite.image {
            let _ = writeln!(
                out,
                "    <properties>\n      <property name=\"image\" value=\"{}\"/>\n    </properties>",
                escape_xml(image, true)
            );
        }
        for case in &suite.cases {
            let file = if case.file.is_empty() {
                String::new()
            } else {
                format!(" file=\"{}\"", escape_xml(&case.file, true))
            };
            let _ = write!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\"{file}",
                escape_xml(&case.name, true),
                escape_xml(&suite.name, true)
            );
            if case.findings.is_empty() {
                out.push_str("/>\n");
                continue;
            }
            out.push_str(">\n");
            let location = &case.file;
            let mut other = Vec::new();
            for finding in &case.findings {
                if is_failure(finding) {
                    let _ = writeln!(
                        out,
                        "      <failure message=\"{}\" type=\"{}\">{}</failure>",
                        escape_xml(
                            &format!("{} {}: {}", finding.rule.code, finding.rule.name, finding.message),
                            true
                        ),
                        escape_xml(finding.rule.code, true),
                        escape_xml(&finding_text(finding, location), false)
                    );
                } else {
                    let label = if finding.suppressed.is_some() {
                        "suppressed"
                    } else {
                        finding.severity.as_str()
                    };
                    other.push(format!("{label}: {}", finding_text(finding, location)));
                }
            }
            if !other.is_empty() {
                let _ = writeln!(
                    out,
                    "      <system-out>{}</system-out>",
                    escape_xml(&other.join("\n"), false)
                );
            }
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escaping() {
        assert_eq!(escape_xml("a<b>&\"'", true), "a&lt;b&gt;&amp;&quot;&apos;");
        assert_eq!(escape_xml("a<b>&\"'", false), "a&lt;b&gt;&amp;\"'");
        assert_eq!(escape_xml("l1\nl2\r", true), "l1&#10;l2&#13;");
        assert_eq!(escape_xml("l1\nl2", false), "l1\nl2");
        assert_eq!(escape_xml("bell\u{7}", false), "bell\u{FFFD}");
    }
}
