//! Fix safety at apply time: a fix below the run's applicability is never applied, whatever
//! planned it, and a fix that overlaps one made before it is left out while the rest are made.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use makguard_core::{Applicability, Edit, Finding, ScanReport, TextRange, rules};
use makguard_fix::{ApplyOptions, ChangeLog, FileStatus, apply};
use serde_json::Value;

fn two_keys() -> String {
    format!("<unattend>\n  <Key>{MAK_A}</Key>\n  <Key>{MAK_B}</Key>\n</unattend>\n")
}

/// `unattend.xml` under `dir` holding `text`, and its findings with a fix of `applicability`
/// to `gvlk` for each key, attached by hand (no chooser involved).
fn report_with_fixes(dir: &Path, text: &str, fixes: &[(Applicability, &str)]) -> ScanReport {
    fs::write(dir.join("unattend.xml"), text).unwrap();
    let mut findings = findings_for(
        "unattend.xml",
        text.as_bytes(),
        &rules::UNATTEND_NON_KMS_KEY,
        &Hints::default(),
    );
    assert_eq!(findings.len(), fixes.len());
    for (finding, (applicability, gvlk)) in findings.iter_mut().zip(fixes) {
        attach_fix(finding, *applicability, finding.range().unwrap(), gvlk);
    }
    report(dir, None, findings)
}

fn attach_fix(finding: &mut Finding, applicability: Applicability, range: TextRange, gvlk: &str) {
    finding.fix = Some(makguard_core::Fix {
        applicability,
        edits: vec![Edit {
            range,
            replacement: gvlk.to_string(),
        }],
        new_key: key(gvlk),
        chosen_by: "attached by the test".to_string(),
    });
}

fn options(unsafe_fixes: bool) -> ApplyOptions {
    ApplyOptions {
        unsafe_fixes,
        ..ApplyOptions::default()
    }
}

fn change_log_json(log: &ChangeLog) -> Value {
    serde_json::from_str(&log.to_json()).unwrap()
}

#[test]
fn applicability_is_ordered_as_ruff_orders_it() {
    assert!(Applicability::DisplayOnly < Applicability::Unsafe);
    assert!(Applicability::Unsafe < Applicability::Safe);
    assert_eq!(options(false).required_applicability(), Applicability::Safe);
    assert_eq!(options(true).required_applicability(), Applicability::Unsafe);
}

#[test]
fn an_unsafe_fix_is_refused_without_unsafe_fixes_and_applied_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let one_key = format!("<unattend>\n  <Key>{MAK_A}</Key>\n</unattend>\n");
    let report = report_with_fixes(dir.path(), &one_key, &[(Applicability::Unsafe, ENTERPRISE_GVLK)]);

    let log = apply(&report, &options(false)).unwrap();
    let change = &log.files[0];
    assert!(
        matches!(&change.status, FileStatus::Skipped(r) if r.contains("--unsafe-fixes")),
        "{:?}",
        change.status
    );
    assert_eq!(fs::read_to_string(dir.path().join("unattend.xml")).unwrap(), one_key);
    let json = change_log_json(&log);
    assert_eq!(json["summary"]["keys_replaced"], 0);
    assert!(
        json["files"][0]["edits"][0]["not_applied"]
            .as_str()
            .unwrap()
            .contains("unsafe fix")
    );

    let log = apply(&report, &options(true)).unwrap();
    assert_eq!(log.files[0].status, FileStatus::Written);
    assert_eq!(
        fs::read_to_string(dir.path().join("unattend.xml")).unwrap(),
        one_key.replace(MAK_A, ENTERPRISE_GVLK)
    );
}

#[test]
fn a_display_only_fix_is_never_applied() {
    let dir = tempfile::tempdir().unwrap();
    let one_key = format!("<unattend>\n  <Key>{MAK_A}</Key>\n</unattend>\n");
    let report = report_with_fixes(dir.path(), &one_key, &[(Applicability::DisplayOnly, ENTERPRISE_GVLK)]);
    let log = apply(&report, &options(true)).unwrap();
    assert!(
        matches!(&log.files[0].status, FileStatus::Skipped(r) if r.contains("display-only")),
        "{:?}",
        log.files[0].status
    );
    assert_eq!(fs::read_to_string(dir.path().join("unattend.xml")).unwrap(), one_key);
}

#[test]
fn in_one_file_the_safe_fix_is_applied_and_the_unsafe_one_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let report = report_with_fixes(
        dir.path(),
        &two_keys(),
        &[
            (Applicability::Safe, ENTERPRISE_GVLK),
            (Applicability::Unsafe, PRO_GVLK),
        ],
    );
    let log = apply(&report, &options(false)).unwrap();
    let change = &log.files[0];
    assert_eq!(change.status, FileStatus::Written);
    assert_eq!(
        fs::read_to_string(dir.path().join("unattend.xml")).unwrap(),
        two_keys().replace(MAK_A, ENTERPRISE_GVLK)
    );
    assert_eq!(change.applied_edits().count(), 1);
    assert_eq!(change.changed_byte_ranges().len(), 1);
    let json = change_log_json(&log);
    assert_eq!(json["summary"]["keys_replaced"], 1);
    let edits = json["files"][0]["edits"].as_array().unwrap();
    assert!(edits[0]["not_applied"].is_null() && edits[0]["byte_range"].is_object());
    assert!(edits[1]["not_applied"].as_str().unwrap().contains("--unsafe-fixes"));
    assert!(edits[1]["byte_range"].is_null());
}

#[test]
fn a_fix_overlapping_an_earlier_one_is_skipped_and_the_others_are_made() {
    let dir = tempfile::tempdir().unwrap();
    let mut report = report_with_fixes(
        dir.path(),
        &two_keys(),
        &[
            (Applicability::Safe, ENTERPRISE_GVLK),
            (Applicability::Safe, ENTERPRISE_GVLK),
        ],
    );
    // A second finding on the first key wants another GVLK there: it overlaps the first fix.
    let mut conflicting = report.findings[0].clone();
    conflicting.rule = &rules::UNATTEND_KEY_IN_COMMENT;
    let range = conflicting.range().unwrap();
    attach_fix(&mut conflicting, Applicability::Safe, range, PRO_GVLK);
    report.findings.push(conflicting);

    let log = apply(&report, &options(false)).unwrap();
    let change = &log.files[0];
    assert_eq!(change.status, FileStatus::Written, "{:?}", change.status);
    assert_eq!(
        fs::read_to_string(dir.path().join("unattend.xml")).unwrap(),
        two_keys()
            .replace(MAK_A, ENTERPRISE_GVLK)
            .replace(MAK_B, ENTERPRISE_GVLK)
    );
    assert_eq!(change.applied_edits().count(), 2);
    let left_out: Vec<_> = change.edits.iter().filter(|e| e.not_applied.is_some()).collect();
    assert_eq!(left_out.len(), 1);
    assert_eq!(left_out[0].rule.code, rules::UNATTEND_KEY_IN_COMMENT.code);
    assert!(left_out[0].not_applied.as_deref().unwrap().contains("overlaps"));
    let json = change_log_json(&log);
    assert_eq!(json["summary"]["keys_replaced"], 2);
    assert_eq!(json["files"][0]["changed_byte_ranges"].as_array().unwrap().len(), 2);
}
