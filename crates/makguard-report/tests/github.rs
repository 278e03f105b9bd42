//! GitHub annotations: GitHub shows 10 of each level per step, so the most important come
//! first, no more than 10 are written, the last says how many more there are, and the step
//! summary counts them all.

mod common;

use common::*;
use makguard_core::rules;
use makguard_core::{Finding, FindingPath, ScanReport};
use makguard_core::{LineColumn, Span};
use makguard_report::{Format, GITHUB_ANNOTATIONS_PER_LEVEL, render, render_github_step_summary};

/// 25 errors: 20 expired exceptions (MG501, no key) first in the report, then 4 MAKs and one
/// unreadable file; then 3 warnings and 12 notes.
fn report_with_25_errors() -> ScanReport {
    let mut report = clean_report();
    report.findings.clear();
    let mut add = |rule: &'static makguard_core::Rule, line: u32| {
        let mut finding = Finding::new(
            rule,
            FindingPath::new("unattend.xml"),
            format!("finding on line {line}"),
        );
        finding.location.span = Span::Point(LineColumn { line, column: 1 });
        report.findings.push(finding);
    };
    for line in 1..=20 {
        add(&rules::ALLOW_EXPIRED, line);
    }
    for line in 21..=24 {
        add(&rules::UNATTEND_NON_KMS_KEY, line);
    }
    add(&rules::FILE_UNREADABLE, 25);
    for line in 26..=28 {
        add(&rules::UNATTEND_PARTIAL_KEY, line);
    }
    for line in 29..=40 {
        add(&rules::UNATTEND_PLACEHOLDER_KEY, line);
    }
    // The MAKs hold a key that is not a GVLK.
    let keyed = sample_report("build/mount")
        .findings
        .into_iter()
        .find(|f| std::ptr::eq(f.rule, &rules::UNATTEND_NON_KMS_KEY))
        .unwrap()
        .key;
    for finding in report
        .findings
        .iter_mut()
        .filter(|f| std::ptr::eq(f.rule, &rules::UNATTEND_NON_KMS_KEY))
    {
        finding.key.clone_from(&keyed);
    }
    report.sort();
    report
}

fn annotations<'a>(output: &'a str, command: &str) -> Vec<&'a str> {
    let prefix = format!("::{command} ");
    output.lines().filter(|line| line.starts_with(&prefix)).collect()
}

fn line_of(annotation: &str) -> u32 {
    let start = annotation.find(",line=").unwrap() + 6;
    annotation[start..].split([',', ':']).next().unwrap().parse().unwrap()
}

#[test]
fn at_most_ten_annotations_per_level_most_important_first() {
    assert_eq!(GITHUB_ANNOTATIONS_PER_LEVEL, 10);
    let output = render(Format::Github, &report_with_25_errors(), &options());
    assert_no_secret_key(&output, "github annotations");
    let errors = annotations(&output, "error");
    assert_eq!(errors.len(), 10, "{output}");
    // The incomplete scan, then the four MAKs, then the first five policy errors.
    let lines: Vec<u32> = errors.iter().map(|a| line_of(a)).collect();
    assert_eq!(lines, [25, 21, 22, 23, 24, 1, 2, 3, 4, 5]);
    assert!(errors[0].contains("title=MG901"));
    // The tenth says how many more there are; the others do not.
    assert!(
        errors[9].contains("... and 15 more errors not shown here: GitHub shows 10 error annotations per step"),
        "{}",
        errors[9]
    );
    assert!(errors[..9].iter().all(|a| !a.contains("not shown here")));
    // Levels in order: every error before every warning before every notice.
    let first = |command: &str| output.find(&format!("::{command} ")).unwrap();
    let last = |command: &str| output.rfind(&format!("::{command} ")).unwrap();
    assert!(last("error") < first("warning") && last("warning") < first("notice"));
    assert_eq!(annotations(&output, "warning").len(), 3);
    assert!(
        annotations(&output, "warning")
            .iter()
            .all(|a| !a.contains("not shown here"))
    );
    let notices = annotations(&output, "notice");
    assert_eq!(notices.len(), 10);
    assert!(
        notices[9].contains("... and 2 more notices not shown here"),
        "{}",
        notices[9]
    );
    // Nothing is lost from the log: the rest are plain lines.
    let plain: Vec<&str> = output.lines().filter(|l| l.contains("(not annotated)")).collect();
    assert_eq!(plain.len(), 17, "{output}");
    assert!(plain.iter().all(|l| l.starts_with("makguard: ")));
    assert!(plain[0].contains("unattend.xml:6:1: MG501"), "{}", plain[0]);
}

#[test]
fn a_level_within_the_limit_is_written_whole_without_a_remark() {
    let output = render(Format::Github, &sample_report("build/mount"), &options());
    assert_eq!(annotations(&output, "error").len(), 5);
    assert!(!output.contains("not shown here"));
    assert!(!output.contains("(not annotated)"));
    // MG9xx first, then findings with a non-GVLK key.
    let errors = annotations(&output, "error");
    assert!(
        errors[0].contains("title=MG901") && errors[1].contains("title=MG902"),
        "{output}"
    );
}

#[test]
fn the_step_summary_counts_every_level() {
    let summary = render_github_step_summary(&report_with_25_errors(), &options());
    assert!(summary.contains("| error | 25 | 10 | 15 |"), "{summary}");
    assert!(summary.contains("| warning | 3 | 3 | 0 |"), "{summary}");
    assert!(summary.contains("| notice | 12 | 10 | 2 |"), "{summary}");
    assert!(summary.contains("15 errors, 2 notices not annotated"), "{summary}");
    assert!(summary.contains("**incomplete**"), "{summary}");
    let clean = render_github_step_summary(&clean_report(), &options());
    assert!(
        clean.contains("| notice | 1 | 1 | 0 |") && !clean.contains("not annotated ("),
        "{clean}"
    );
    assert!(clean.contains("**pass**"), "{clean}");
}
