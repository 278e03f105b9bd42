//! `--format gitlab`, GitLab's Code Quality report, checked against the Code Quality schema in
//! `tests/data/gitlab-codequality.schema.json` (GitLab's parser schema plus its documented
//! required fields; sources in the file) by Python's `jsonschema`, a validator no one here
//! wrote, installed in the test virtual environment by `ci/install-test-tools.sh`.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use common::*;
use makguard_core::{LineColumn, Span};
use makguard_core::{ScanReport, Severity};
use makguard_report::{Format, RenderOptions, render};
use serde_json::{Value, json};

const SCHEMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/gitlab-codequality.schema.json");

/// Validates the document against the schema (Draft 7) and prints every error's message.
const VALIDATOR: &str = r"
import json, sys
from jsonschema import Draft7Validator
schema = json.load(open(sys.argv[1]))
Draft7Validator.check_schema(schema)
document = json.load(open(sys.argv[2]))
errors = [e.message for e in Draft7Validator(schema).iter_errors(document)]
print(json.dumps(errors))
";

/// The schema's complaints about `document`, or `None` when jsonschema is missing outside CI.
fn schema_errors(document: &str) -> Option<Vec<String>> {
    if !runs("python3", &["-c", "import jsonschema"]) {
        let reason = "python3 with jsonschema not found (PATH lacks target/test-venv/bin?)";
        if skipping_missing_tools() {
            println!("skipped: {reason}");
            return None;
        }
        panic!("{reason}; install it with bash ci/install-test-tools.sh");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gl-code-quality-report.json");
    std::fs::write(&path, document).unwrap();
    let output = Command::new("python3")
        .arg("-c")
        .arg(VALIDATOR)
        .arg(Path::new(SCHEMA))
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "jsonschema failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(serde_json::from_slice(&output.stdout).unwrap())
}

fn issues(report: &ScanReport, options: &RenderOptions) -> Vec<Value> {
    let document = render(Format::Gitlab, report, options);
    serde_json::from_str::<Value>(&document)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn the_report_is_valid_code_quality() {
    let document = render(Format::Gitlab, &sample_report("build/mount"), &options());
    assert_no_secret_key(&document, "gitlab");
    let Some(errors) = schema_errors(&document) else {
        return;
    };
    assert!(errors.is_empty(), "schema errors: {errors:#?}");
    let with_notes = RenderOptions {
        fail_on: Severity::Note,
        ..options()
    };
    let errors = schema_errors(&render(Format::Gitlab, &sample_report("build/mount"), &with_notes)).unwrap();
    assert!(errors.is_empty(), "schema errors with notes: {errors:#?}");
    let errors = schema_errors(&render(Format::Gitlab, &ScanReport::default(), &options())).unwrap();
    assert!(errors.is_empty(), "an empty report is an empty array: {errors:#?}");
}

#[test]
fn the_schema_rejects_what_gitlab_rejects() {
    let good = json!({
        "description": "d", "check_name": "MG101", "fingerprint": "f", "severity": "critical",
        "location": {"path": "a.xml", "lines": {"begin": 1}}
    });
    let Some(errors) = schema_errors(&json!([good]).to_string()) else {
        return;
    };
    assert!(errors.is_empty(), "{errors:?}");
    let mut bad = Vec::new();
    for field in ["description", "check_name", "fingerprint", "severity", "location"] {
        let mut issue = good.clone();
        issue.as_object_mut().unwrap().remove(field);
        bad.push((format!("without {field}"), issue));
    }
    let mut issue = good.clone();
    issue["severity"] = json!("error");
    bad.push(("severity error".into(), issue));
    let mut issue = good.clone();
    issue["location"]["lines"]["begin"] = json!("1");
    bad.push(("a string line".into(), issue));
    let mut issue = good.clone();
    issue["location"]["path"] = json!("/builds/proj/a.xml");
    bad.push(("an absolute path".into(), issue));
    for (what, issue) in bad {
        let errors = schema_errors(&json!([issue]).to_string()).unwrap();
        assert!(!errors.is_empty(), "the schema accepts an issue {what}");
    }
}

#[test]
fn one_issue_per_reported_finding_with_unique_stable_fingerprints() {
    let report = sample_report("build/mount");
    let issues = issues(&report, &options());
    let codes: Vec<&str> = issues.iter().map(|i| i["check_name"].as_str().unwrap()).collect();
    // Seven findings: the suppressed MG201 and the MG100 note are left out.
    assert_eq!(codes.len(), 6, "{codes:?}");
    for left_out in ["MG100", "MG201"] {
        assert!(!codes.contains(&left_out), "{left_out} is in the Code Quality report");
    }
    let fingerprints: HashSet<&str> = issues.iter().map(|i| i["fingerprint"].as_str().unwrap()).collect();
    assert_eq!(fingerprints.len(), issues.len(), "fingerprints are unique");
    assert_eq!(
        issues,
        self::issues(&sample_report("build/mount"), &options()),
        "a second run gives the same report"
    );

    let by_code = |code: &str| issues.iter().find(|i| i["check_name"] == code).unwrap();
    let mak = by_code("MG101");
    assert_eq!(mak["severity"], "critical");
    assert_eq!(mak["location"]["path"], "build/mount/Windows/Panther/unattend.xml");
    assert_eq!(mak["location"]["lines"]["begin"], 41);
    assert!(
        mak["description"]
            .as_str()
            .unwrap()
            .starts_with("MG101 unattend-non-kms-key: ")
    );
    assert!(
        mak["description"].as_str().unwrap().contains("sha256:"),
        "the key's fingerprint"
    );
    assert_eq!(by_code("MG105")["severity"], "minor");
    assert_eq!(by_code("MG901")["severity"], "blocker", "an unreadable file blocks");
    assert_eq!(by_code("MG902")["location"]["path"], "answer-files/autounattend.xml");
    let hive = by_code("MG301");
    assert_eq!(
        hive["location"]["lines"]["begin"], 1,
        "a registry value has no line: line 1"
    );

    let with_notes = RenderOptions {
        fail_on: Severity::Note,
        ..options()
    };
    let notes = self::issues(&report, &with_notes);
    let note = notes
        .iter()
        .find(|i| i["check_name"] == "MG100")
        .expect("MG100 with --fail-on note");
    assert_eq!(note["severity"], "info");
}

#[test]
fn fingerprints_tell_findings_apart_and_never_hash_the_key_alone() {
    let mut report = clean_report();
    let twin = report.findings[0].clone();
    report.findings.push(twin);
    let with_notes = RenderOptions {
        fail_on: Severity::Note,
        ..options()
    };
    let issues = issues(&report, &with_notes);
    assert_eq!(issues.len(), 2);
    assert_ne!(
        issues[0]["fingerprint"], issues[1]["fingerprint"],
        "two identical findings are two issues, not one"
    );
    let mut moved = clean_report();
    moved.findings[0].location.span = Span::Point(LineColumn { line: 13, column: 1 });
    let moved = self::issues(&moved, &with_notes);
    assert_ne!(
        issues[0]["fingerprint"], moved[0]["fingerprint"],
        "the line is part of the identity"
    );
    for issue in &issues {
        let fingerprint = issue["fingerprint"].as_str().unwrap();
        assert_eq!(fingerprint.len(), 64);
        assert!(!fingerprint.to_ascii_uppercase().contains("2YT43"));
    }
}
