//! `JUnit` XML read back by two consumers no one here wrote: Python's `junitparser` and
//! `junit2html` (the HTML report generator, which shows only the last `failure` of a case: the
//! reason makguard writes one case per finding). Both are installed in the test virtual
//! environment by `ci/install-test-tools.sh`.

mod common;

use std::process::Command;

use common::*;
use makguard_core::{ScanReport, Severity};
use makguard_report::{Format, RenderOptions, render};
use serde_json::Value;

/// Loads the XML with junitparser and prints, per suite: its name, its declared counts, the
/// counts junitparser recomputes from the cases, and each case with its results; and the
/// `<testsuites>` header's declared and recomputed counts.
const JUNITPARSER_READER: &str = r#"
import json, sys
from junitparser import JUnitXml, Failure, Error, Skipped
xml = JUnitXml.fromfile(sys.argv[1])
def counts(node):
    return {"tests": node.tests, "failures": node.failures, "errors": node.errors, "skipped": node.skipped}
suites = []
for suite in xml:
    declared = counts(suite)
    cases = []
    for case in suite:
        results = case.result
        cases.append({
            "name": case.name,
            "classname": case.classname,
            "failures": [r.message for r in results if isinstance(r, Failure)],
            "failure_types": [r.type for r in results if isinstance(r, Failure)],
            "errors": [r.message for r in results if isinstance(r, Error)],
            "error_types": [r.type for r in results if isinstance(r, Error)],
            "skipped": [r.message for r in results if isinstance(r, Skipped)],
            "results": len(results),
            "system_out": case.system_out or "",
        })
    suite.update_statistics()
    suites.append({"name": suite.name, "declared": declared, "recomputed": counts(suite), "cases": cases})
declared = counts(xml)
xml.update_statistics()
print(json.dumps({"suites": suites, "declared": declared, "recomputed": counts(xml)}))
"#;

/// Loads the XML with junit2html's parser, prints per suite the failed (failure or error),
/// skipped and passed case names with the failure text junit2html keeps, and renders the HTML.
const JUNIT2HTML_READER: &str = r#"
import json, sys
from junit2htmlreport import parser
report = parser.Junit(sys.argv[1])
html = report.html()
suites = []
for suite in report.suites:
    suites.append({
        "name": suite.name,
        "failed": {case.name: case.failure for case in suite.failed()},
        "skipped": {case.name: case.skipped_msg for case in suite.skipped()},
        "passed": [case.name for case in suite.passed()],
    })
print(json.dumps({"suites": suites, "html": html}))
"#;

fn read_with(module: &str, reader: &str, xml: &str) -> Option<Value> {
    if !runs("python3", &["-c", &format!("import {module}")]) {
        let reason = format!("python3 with {module} not found (PATH lacks target/test-venv/bin?)");
        if skipping_missing_tools() {
            println!("skipped: {reason}");
            return None;
        }
        panic!("{reason}; install it with bash ci/install-test-tools.sh");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("makguard.xml");
    std::fs::write(&path, xml).unwrap();
    let output = Command::new("python3")
        .arg("-c")
        .arg(reader)
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{module} could not read the report:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(serde_json::from_slice(&output.stdout).unwrap())
}

fn read_with_junitparser(xml: &str) -> Option<Value> {
    read_with("junitparser", JUNITPARSER_READER, xml)
}

fn read_with_junit2html(xml: &str) -> Option<Value> {
    read_with("junit2htmlreport", JUNIT2HTML_READER, xml)
}

fn case<'a>(cases: &'a [Value], name: &str) -> &'a Value {
    cases
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no case {name} in {cases:#?}"))
}

#[test]
fn junitparser_reads_one_case_per_finding_with_matching_counts() {
    let report = sample_report("build/mount");
    let xml = render(Format::Junit, &report, &options());
    assert_no_secret_key(&xml, "junit");
    let Some(read) = read_with_junitparser(&xml) else {
        return;
    };
    assert_eq!(
        read["declared"], read["recomputed"],
        "the <testsuites> counts match the body"
    );
    let suites = read["suites"].as_array().unwrap();
    assert_eq!(suites.len(), 2, "one suite per root");

    let image = &suites[0];
    assert_eq!(image["name"], "build/mount");
    assert_eq!(
        image["declared"], image["recomputed"],
        "the <testsuite> counts match its cases"
    );
    // Seven findings, one case each, plus the searched file without findings.
    assert_eq!(image["declared"]["tests"], 8);
    assert_eq!(image["declared"]["failures"], 3, "MG101, MG241, MG301");
    assert_eq!(image["declared"]["errors"], 1, "MG901 is an error, not a failure");
    assert_eq!(image["declared"]["skipped"], 1, "the suppressed MG201");
    let cases = image["cases"].as_array().unwrap();
    assert!(
        cases.iter().all(|c| c["results"].as_u64().unwrap() <= 1),
        "one result per case"
    );
    let mut names: Vec<&str> = cases.iter().map(|c| c["name"].as_str().unwrap()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names are unique");
    assert!(cases.iter().all(|c| c["classname"] == "build/mount"));

    let mak = case(cases, "Windows/Panther/unattend.xml:41:25 MG101 unattend-non-kms-key");
    assert_eq!(mak["failure_types"][0], "MG101");
    assert!(
        mak["failures"][0]
            .as_str()
            .unwrap()
            .starts_with("MG101 unattend-non-kms-key: ")
    );
    let note = case(cases, "Windows/Panther/unattend.xml:12:22 MG100 unattend-gvlk");
    assert_eq!(note["results"], 0, "a GVLK passes");
    assert!(note["system_out"].as_str().unwrap().contains("MG100"));
    let partial = case(cases, "Windows/Panther/unattend.xml:58:9 MG105 unattend-partial-key");
    assert_eq!(partial["results"], 0, "a warning below --fail-on passes");
    assert!(
        partial["system_out"]
            .as_str()
            .unwrap()
            .contains("A <Key> holds four groups"),
        "escaped text reads back intact"
    );

    let suppressed = case(
        cases,
        "Windows/Setup/Scripts/SetupComplete.cmd:3:20 MG201 script-installs-key",
    );
    assert!(suppressed["failures"].as_array().unwrap().is_empty());
    assert!(
        suppressed["skipped"][0].as_str().unwrap().contains("CHG-1234"),
        "skipped with the justification"
    );

    assert_eq!(
        case(cases, "Windows/System32/config/SOFTWARE MG301 mak-installed")["failure_types"][0],
        "MG301"
    );
    let unreadable = case(cases, "Windows/Panther/Unattend/unattend.xml MG901 file-unreadable");
    assert_eq!(unreadable["error_types"][0], "MG901");
    assert!(unreadable["failures"].as_array().unwrap().is_empty());
    assert_eq!(
        case(cases, "Windows/System32/sysprep/unattend.xml")["results"],
        0,
        "a clean file passes"
    );
    assert_eq!(
        case(cases, "Users/caf\u{FFFD}/notes, 50%.txt:2:1 MG241 text-non-kms-key")["failure_types"][0],
        "MG241"
    );

    let answer_file = &suites[1];
    assert_eq!(answer_file["name"], "answer-files/autounattend.xml");
    assert_eq!(answer_file["declared"]["tests"], 1);
    assert_eq!(answer_file["declared"]["errors"], 1);
    assert_eq!(answer_file["cases"][0]["error_types"][0], "MG902");
}

#[test]
fn fail_on_warning_turns_the_warning_into_a_failure() {
    let report = sample_report("build/mount");
    let strict = RenderOptions {
        fail_on: Severity::Warning,
        ..options()
    };
    let Some(read) = read_with_junitparser(&render(Format::Junit, &report, &strict)) else {
        return;
    };
    let image = &read["suites"][0];
    assert_eq!(image["declared"]["failures"], 4);
    assert_eq!(image["declared"], image["recomputed"]);
    let cases = image["cases"].as_array().unwrap();
    let partial = case(cases, "Windows/Panther/unattend.xml:58:9 MG105 unattend-partial-key");
    assert_eq!(partial["failure_types"][0], "MG105");
    let note = case(cases, "Windows/Panther/unattend.xml:12:22 MG100 unattend-gvlk");
    assert_eq!(note["results"], 0, "a note stays below --fail-on warning");
}

#[test]
fn junit2html_shows_every_finding_of_a_file() {
    let report = sample_report("build/mount");
    let xml = render(Format::Junit, &report, &options());
    let Some(read) = read_with_junit2html(&xml) else {
        return;
    };
    let image = &read["suites"][0];
    assert_eq!(image["name"], "build/mount");
    let failed = image["failed"].as_object().unwrap();
    // junit2html folds errors into failures: three failures and the MG901 error.
    let mut codes: Vec<&str> = failed
        .values()
        .map(|text| {
            let text = text.as_str().unwrap();
            text.split_whitespace()
                .find(|word| word.len() == 5 && word.starts_with("MG"))
                .unwrap_or_else(|| panic!("no rule code in {text}"))
        })
        .collect();
    codes.sort();
    assert_eq!(codes, ["MG101", "MG241", "MG301", "MG901"]);
    let skipped = image["skipped"].as_object().unwrap();
    assert_eq!(skipped.len(), 1);
    assert!(skipped.values().next().unwrap().as_str().unwrap().contains("CHG-1234"));
    assert_eq!(
        image["passed"].as_array().unwrap().len(),
        3,
        "MG100, MG105 and the clean file"
    );
    let html = read["html"].as_str().unwrap();
    for code in ["MG101", "MG241", "MG301", "MG901", "MG902", "MG201"] {
        assert!(html.contains(code), "junit2html's page lacks {code}");
    }
    assert_no_secret_key(html, "junit2html page");
    assert_eq!(
        read["suites"][1]["failed"].as_object().unwrap().len(),
        1,
        "the MG902 error"
    );
}

#[test]
fn junitparser_reads_clean_and_empty_reports() {
    let xml = render(Format::Junit, &clean_report(), &options());
    let Some(read) = read_with_junitparser(&xml) else {
        return;
    };
    let suite = &read["suites"][0];
    assert_eq!(suite["declared"]["tests"], 1);
    assert_eq!(suite["declared"]["failures"], 0);
    assert_eq!(suite["declared"], suite["recomputed"]);

    let Some(empty) = read_with_junitparser(&render(Format::Junit, &ScanReport::default(), &options())) else {
        return;
    };
    assert_eq!(empty["suites"].as_array().unwrap().len(), 0);
    assert_eq!(empty["declared"]["tests"], 0);
}

#[test]
fn findings_of_an_unknown_root_still_fail() {
    let mut report = clean_report();
    let mut stray = report.findings[0].clone();
    stray.rule = &makguard_core::rules::ALLOW_UNUSED;
    stray.severity = Severity::Error;
    stray.location.root = 7;
    report.findings.push(stray);
    let xml = render(Format::Junit, &report, &options());
    let Some(read) = read_with_junitparser(&xml) else {
        return;
    };
    let suites = read["suites"].as_array().unwrap();
    assert_eq!(suites.len(), 2);
    assert_eq!(suites[1]["name"], "makguard");
    assert_eq!(suites[1]["declared"]["failures"], 1);
    assert_eq!(read["declared"], read["recomputed"]);
}

#[test]
fn two_findings_at_one_place_are_two_cases() {
    let mut report = clean_report();
    let twin = report.findings[0].clone();
    report.findings.push(twin);
    let Some(read) = read_with_junitparser(&render(Format::Junit, &report, &options())) else {
        return;
    };
    let names: Vec<&str> = read["suites"][0]["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "unattend.xml:12:22 MG100 unattend-gvlk",
            "unattend.xml:12:22 MG100 unattend-gvlk #2"
        ]
    );
}
