//! JUnit XML read back by a real consumer, Python's `junitparser` (`pip install junitparser`).

mod common;

use std::process::Command;

use common::*;
use makguard_core::ScanReport;
use makguard_report::{Format, render};
use serde_json::Value;

/// Loads the XML with junitparser and prints, per suite: its name, its declared counts, the
/// counts junitparser recomputes from the cases, and each case with its results.
const READER: &str = r#"
import json, sys
from junitparser import JUnitXml, Failure, Error, Skipped
xml = JUnitXml.fromfile(sys.argv[1])
suites = []
for suite in xml:
    declared = {"tests": suite.tests, "failures": suite.failures, "errors": suite.errors}
    cases = []
    for case in suite:
        results = case.result
        cases.append({
            "name": case.name,
            "classname": case.classname,
            "failures": [r.message for r in results if isinstance(r, Failure)],
            "failure_types": [r.type for r in results if isinstance(r, Failure)],
            "errors": sum(isinstance(r, Error) for r in results),
            "system_out": case.system_out or "",
        })
    suite.update_statistics()
    recomputed = {"tests": suite.tests, "failures": suite.failures, "errors": suite.errors}
    suites.append({"name": suite.name, "declared": declared, "recomputed": recomputed, "cases": cases})
print(json.dumps(suites))
"#;

fn python_has_junitparser() -> bool {
    runs("python3", &["-c", "import junitparser"])
}

fn read_with_junitparser(xml: &str) -> Option<Value> {
    if !python_has_junitparser() {
        let reason = "python3 with junitparser not found; install it with: pip install junitparser";
        if skipping_missing_tools() {
            println!("skipped: {reason}");
            return None;
        }
        panic!("{reason} (install it with bash ci/install-test-tools.sh)");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("makguard.xml");
    std::fs::write(&path, xml).unwrap();
    let output = Command::new("python3")
        .arg("-c")
        .arg(READER)
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "junitparser could not read the report:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(serde_json::from_slice(&output.stdout).unwrap())
}

#[test]
fn junitparser_reads_the_sample_report() {
    let report = sample_report("build/mount");
    let xml = render(Format::Junit, &report, &options());
    assert_no_secret_key(&xml, "junit");
    let Some(suites) = read_with_junitparser(&xml) else {
        return;
    };
    let suites = suites.as_array().unwrap();
    assert_eq!(suites.len(), 2, "one suite per root");

    let image = &suites[0];
    assert_eq!(image["name"], "build/mount");
    // Five searched candidates plus the registry hive, which has a finding but is no candidate.
    assert_eq!(image["declared"]["tests"], 6);
    assert_eq!(image["declared"]["failures"], 4);
    assert_eq!(
        image["declared"], image["recomputed"],
        "declared counts match the cases"
    );
    let cases = image["cases"].as_array().unwrap();
    let names: Vec<&str> = cases.iter().map(|c| c["name"].as_str().unwrap()).collect();
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "case names are unique: {names:?}");
    assert!(cases.iter().all(|c| c["classname"] == "build/mount"));

    let case = |name: &str| {
        cases
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no case {name}"))
    };
    let unattend = case("Windows/Panther/unattend.xml");
    assert_eq!(
        unattend["failures"].as_array().unwrap().len(),
        1,
        "only the error fails"
    );
    assert_eq!(unattend["failure_types"][0], "MG101");
    assert!(
        unattend["failures"][0]
            .as_str()
            .unwrap()
            .starts_with("MG101 unattend-non-kms-key: ")
    );
    let out = unattend["system_out"].as_str().unwrap();
    assert!(
        out.contains("MG100") && out.contains("MG105"),
        "notes and warnings go to system-out: {out}"
    );
    assert!(
        out.contains("A <Key> holds four groups"),
        "escaped text reads back intact"
    );

    let suppressed = case("Windows/Setup/Scripts/SetupComplete.cmd");
    assert!(
        suppressed["failures"].as_array().unwrap().is_empty(),
        "a suppressed error does not fail"
    );
    assert!(suppressed["system_out"].as_str().unwrap().contains("CHG-1234"));

    assert_eq!(case("Windows/System32/config/SOFTWARE")["failure_types"][0], "MG301");
    assert_eq!(
        case("Windows/Panther/Unattend/unattend.xml")["failure_types"][0],
        "MG901"
    );
    assert!(
        case("Windows/System32/sysprep/unattend.xml")["failures"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(case("Users/caf\u{FFFD}/notes, 50%.txt")["failure_types"][0], "MG241");

    let answer_file = &suites[1];
    assert_eq!(answer_file["name"], "answer-files/autounattend.xml");
    assert_eq!(answer_file["declared"]["tests"], 1);
    assert_eq!(answer_file["cases"][0]["failure_types"][0], "MG902");
}

#[test]
fn junitparser_reads_clean_and_empty_reports() {
    let xml = render(Format::Junit, &clean_report(), &options());
    let Some(suites) = read_with_junitparser(&xml) else {
        return;
    };
    assert_eq!(suites[0]["declared"]["tests"], 1);
    assert_eq!(suites[0]["declared"]["failures"], 0);
    assert_eq!(suites[0]["declared"], suites[0]["recomputed"]);

    let Some(empty) = read_with_junitparser(&render(Format::Junit, &ScanReport::default(), &options())) else {
        return;
    };
    assert_eq!(empty.as_array().unwrap().len(), 0);
}

#[test]
fn findings_of_an_unknown_root_still_fail() {
    let mut report = clean_report();
    let mut stray = report.findings[0].clone();
    stray.rule = &makguard_core::rules::FILE_UNREADABLE;
    stray.severity = makguard_core::Severity::Error;
    stray.root = 7;
    report.findings.push(stray);
    let xml = render(Format::Junit, &report, &options());
    let Some(suites) = read_with_junitparser(&xml) else {
        return;
    };
    let suites = suites.as_array().unwrap();
    assert_eq!(suites.len(), 2);
    assert_eq!(suites[1]["name"], "makguard");
    assert_eq!(suites[1]["declared"]["failures"], 1);
}
