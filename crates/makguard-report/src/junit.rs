//! `JUnit` XML for test dashboards (GitLab, Azure DevOps, Jenkins): one `testsuite` per scanned
//! root and, in it, one `testcase` per finding plus one passing `testcase` per searched file
//! without findings. A finding that fails the gate (unsuppressed, at or above `--fail-on`) holds
//! a `failure`; a file makguard could not read or parse (`MG9xx`, [`Rule::is_incomplete_scan`])
//! an `error`; a suppressed finding is `skipped` with its justification; any other finding
//! passes, its text in `system-out`. One case per finding because consumers such as junit2html
//! show only the last `failure` of a case. The `tests`, `failures`, `errors` and `skipped`
//! counts of every header are computed from the cases written beneath it.
//!
//! quick-xml writes the document and escapes every text and attribute; this module only keeps
//! out what XML 1.0 cannot hold at all, and line breaks from attributes, where a reader would
//! turn them into spaces anyway.
//!
//! [`Rule::is_incomplete_scan`]: makguard_core::Rule::is_incomplete_scan

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::io;

use makguard_core::{Finding, ScanReport, Severity};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use crate::{RenderOptions, TOOL_NAME, describe_xml, file_location, position_suffix};

/// What a test case reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Passed,
    Failure,
    Error,
    Skipped,
}

fn outcome(finding: &Finding, fail_on: Severity) -> Outcome {
    if finding.suppressed.is_some() {
        Outcome::Skipped
    } else if finding.rule.is_incomplete_scan() {
        Outcome::Error
    } else if finding.severity >= fail_on {
        Outcome::Failure
    } else {
        Outcome::Passed
    }
}

struct Case<'a> {
    name: String,
    /// The root-relative path, which orders the cases (stably: a file's findings stay in
    /// report order).
    path: String,
    file: Option<String>,
    finding: Option<&'a Finding>,
    outcome: Outcome,
}

struct Suite<'a> {
    name: String,
    image: Option<String>,
    cases: Vec<Case<'a>>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
}

impl Counts {
    fn of<'c>(cases: impl IntoIterator<Item = &'c Case<'c>>) -> Counts {
        let mut counts = Counts::default();
        for case in cases {
            counts.tests += 1;
            match case.outcome {
                Outcome::Passed => {}
                Outcome::Failure => counts.failures += 1,
                Outcome::Error => counts.errors += 1,
                Outcome::Skipped => counts.skipped += 1,
            }
        }
        counts
    }

    fn attributes(self) -> [(&'static str, String); 4] {
        [
            ("tests", self.tests.to_string()),
            ("failures", self.failures.to_string()),
            ("errors", self.errors.to_string()),
            ("skipped", self.skipped.to_string()),
        ]
    }
}

/// `Windows/Panther/unattend.xml:41:25 MG101 unattend-non-kms-key`.
fn case_name(finding: &Finding) -> String {
    format!(
        "{}{} {} {}",
        finding.path().display,
        position_suffix(finding),
        finding.rule.code,
        finding.rule.name
    )
}

/// `name`, or `name #2`, `name #3`… when a suite already has a case of that name: dashboards
/// merge cases by name.
fn unique_name(taken: &mut HashSet<String>, name: String) -> String {
    if taken.insert(name.clone()) {
        return name;
    }
    let mut n = 2;
    loop {
        let candidate = format!("{name} #{n}");
        if taken.insert(candidate.clone()) {
            return candidate;
        }
        n += 1;
    }
}

fn suites(report: &ScanReport, fail_on: Severity) -> Vec<Suite<'_>> {
    let mut suites: Vec<Suite> = report
        .roots
        .iter()
        .map(|root| Suite {
            name: root.path.clone(),
            image: root.image.as_ref().map(makguard_core::ImageInfo::describe),
            cases: Vec::new(),
        })
        .collect();
    // Findings whose root is unknown (a policy file outside every root) still need a home, or
    // a failure would vanish.
    let known_roots = suites.len();
    if report.findings.iter().any(|f| f.location.root >= known_roots) {
        suites.push(Suite {
            name: TOOL_NAME.to_string(),
            image: None,
            cases: Vec::new(),
        });
    }
    let mut names: Vec<HashSet<String>> = vec![HashSet::new(); suites.len()];
    let mut files_with_findings: Vec<HashSet<&str>> = vec![HashSet::new(); suites.len()];
    for finding in &report.findings {
        let suite = finding.location.root.min(known_roots);
        files_with_findings[suite].insert(finding.path().display.as_str());
        let name = unique_name(&mut names[suite], case_name(finding));
        suites[suite].cases.push(Case {
            name,
            path: finding.path().display.clone(),
            file: Some(file_location(report, finding)),
            finding: Some(finding),
            outcome: outcome(finding, fail_on),
        });
    }
    for (index, root) in report.roots.iter().enumerate() {
        let mut clean: Vec<Case> = Vec::new();
        for searched in &root.searched {
            if files_with_findings[index].contains(searched.as_str()) {
                continue;
            }
            if names[index].insert(searched.clone()) {
                clean.push(Case {
                    name: searched.clone(),
                    path: searched.clone(),
                    file: None,
                    finding: None,
                    outcome: Outcome::Passed,
                });
            }
        }
        let cases = &mut suites[index].cases;
        cases.extend(clean);
        cases.sort_by(|a, b| a.path.cmp(&b.path));
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
    if let Some(xml) = finding.xml() {
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
    if let Some(remediation) = finding.remediation() {
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

/// `text` without the characters XML 1.0 cannot hold even as references (control characters
/// other than tab, line feed and carriage return, U+FFFE, U+FFFF), each replaced by U+FFFD.
pub(crate) fn xml_text(text: &str) -> Cow<'_, str> {
    let forbidden = |c: char| (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{FFFE}' || c == '\u{FFFF}';
    if text.contains(forbidden) {
        Cow::Owned(text.replace(forbidden, "\u{FFFD}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// [`xml_text`] on one line: attribute-value normalisation would turn tabs and line breaks
/// into spaces, so they become spaces here, where it is visible.
pub(crate) fn xml_attribute(text: &str) -> String {
    xml_text(text).replace(['\t', '\n', '\r'], " ")
}

fn write_case<W: io::Write>(writer: &mut Writer<W>, suite: &str, case: &Case) -> io::Result<()> {
    let mut element = writer
        .create_element("testcase")
        .with_attribute(("name", xml_attribute(&case.name).as_str()))
        .with_attribute(("classname", xml_attribute(suite).as_str()));
    if let Some(file) = &case.file {
        element = element.with_attribute(("file", xml_attribute(file).as_str()));
    }
    let Some(finding) = case.finding else {
        element.write_empty()?;
        return Ok(());
    };
    let body = finding_text(finding, case.file.as_deref().unwrap_or_default());
    let body = xml_text(&body);
    let summary = xml_attribute(&format!(
        "{} {}: {}",
        finding.rule.code, finding.rule.name, finding.message
    ));
    element.write_inner_content(|writer| {
        let result = match case.outcome {
            Outcome::Failure => Some(("failure", summary)),
            Outcome::Error => Some(("error", summary)),
            Outcome::Skipped => Some((
                "skipped",
                finding
                    .suppressed
                    .as_ref()
                    .map(|s| xml_attribute(&format!("suppressed by {}: {}", s.origin, s.justification)))
                    .unwrap_or_default(),
            )),
            Outcome::Passed => None,
        };
        match result {
            Some((tag, message)) => {
                let mut result = writer.create_element(tag).with_attribute(("message", message.as_str()));
                if tag != "skipped" {
                    result = result.with_attribute(("type", finding.rule.code));
                }
                result.write_text_content(BytesText::new(&body))?;
            }
            None => {
                writer
                    .create_element("system-out")
                    .write_text_content(BytesText::new(&body))?;
            }
        }
        Ok(())
    })?;
    Ok(())
}

fn write_suite<W: io::Write>(writer: &mut Writer<W>, suite: &Suite) -> io::Result<()> {
    let counts = Counts::of(&suite.cases);
    writer
        .create_element("testsuite")
        .with_attribute(("name", xml_attribute(&suite.name).as_str()))
        .with_attributes(counts.attributes().iter().map(|(k, v)| (*k, v.as_str())))
        .write_inner_content(|writer| {
            if let Some(image) = &suite.image {
                writer.create_element("properties").write_inner_content(|writer| {
                    writer
                        .create_element("property")
                        .with_attribute(("name", "image"))
                        .with_attribute(("value", xml_attribute(image).as_str()))
                        .write_empty()?;
                    Ok(())
                })?;
            }
            for case in &suite.cases {
                write_case(writer, &suite.name, case)?;
            }
            Ok(())
        })?;
    Ok(())
}

fn write_document<W: io::Write>(writer: &mut Writer<W>, suites: &[Suite]) -> io::Result<()> {
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let counts = Counts::of(suites.iter().flat_map(|s| &s.cases));
    let root = writer
        .create_element("testsuites")
        .with_attribute(("name", TOOL_NAME))
        .with_attributes(counts.attributes().iter().map(|(k, v)| (*k, v.as_str())));
    if suites.is_empty() {
        root.write_empty()?;
    } else {
        root.write_inner_content(|writer| {
            for suite in suites {
                write_suite(writer, suite)?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

pub(crate) fn render(report: &ScanReport, options: &RenderOptions) -> String {
    let suites = suites(report, options.fail_on);
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    write_document(&mut writer, &suites).expect("writing to memory cannot fail");
    let mut out = String::from_utf8(writer.into_inner()).expect("quick-xml writes the UTF-8 it is given");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_attributes_keep_out_what_xml_cannot_hold() {
        assert_eq!(xml_text("bell\u{7} tab\t"), "bell\u{FFFD} tab\t");
        assert_eq!(xml_text("l1\nl2\r"), "l1\nl2\r");
        assert_eq!(xml_attribute("l1\nl2\r\tend\u{1b}"), "l1 l2  end\u{FFFD}");
        assert!(matches!(xml_text("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn repeated_case_names_get_a_number() {
        let mut taken = HashSet::new();
        assert_eq!(unique_name(&mut taken, "a".into()), "a");
        assert_eq!(unique_name(&mut taken, "a".into()), "a #2");
        assert_eq!(unique_name(&mut taken, "a".into()), "a #3");
    }
}
