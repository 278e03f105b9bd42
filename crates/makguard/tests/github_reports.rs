//! What a GitHub workflow gets from `makguard scan`: SARIF that records the process's exit code
//! and the files it could not read, and the annotation counts appended to the step summary.

mod common;

use std::path::Path;

use common::*;

fn sarif_and_summary(fixture_name: &str) -> (Output, serde_json::Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let sarif = dir.path().join("out.sarif");
    let annotations = dir.path().join("out.github");
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "# earlier step output\n").unwrap();
    let out = run_in(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &[
            "scan",
            "--format",
            &format!("sarif={}", sarif.display()),
            "--format",
            &format!("github={}", annotations.display()),
            &fixture(fixture_name),
        ],
        "",
        &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())],
    );
    let log = serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    (out, log, std::fs::read_to_string(&summary).unwrap())
}

#[test]
fn sarif_records_the_exit_code_and_every_unreadable_file() {
    let (out, log, _) = sarif_and_summary("malformed");
    assert_eq!(out.code, 3, "{}", out.all());
    let invocation = &log["runs"][0]["invocations"][0];
    assert_eq!(invocation["exitCode"], 3);
    assert_eq!(invocation["executionSuccessful"], false);
    let notifications = invocation["toolExecutionNotifications"].as_array().unwrap();
    assert!(!notifications.is_empty());
    assert!(notifications.iter().all(|n| {
        n["level"] == "error"
            && n["associatedRule"]["id"]
                .as_str()
                .is_some_and(|id| id.starts_with("MG9"))
    }));

    let (out, log, _) = sarif_and_summary("mak");
    assert_eq!(out.code, 1, "{}", out.all());
    assert_eq!(log["runs"][0]["invocations"][0]["exitCode"], 1);
    assert_eq!(log["runs"][0]["invocations"][0]["executionSuccessful"], true);
    assert!(!out.all().contains(SYNTHETIC_MAK));
}

#[test]
fn a_correct_gvlk_is_not_a_code_scanning_result() {
    let (out, log, _) = sarif_and_summary("clean");
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(log["runs"][0]["results"].as_array().unwrap().len(), 0, "{log:#}");
    assert!(log["runs"][0]["properties"]["omitted"]["notes"].as_u64().unwrap() >= 1);
}

#[test]
fn the_github_format_appends_its_counts_to_the_step_summary() {
    let (_, _, summary) = sarif_and_summary("mak");
    assert!(
        summary.starts_with("# earlier step output\n"),
        "appended, not replaced:\n{summary}"
    );
    assert!(summary.contains("### makguard annotations"), "{summary}");
    assert!(summary.contains("| error | 1 | 1 | 0 |"), "{summary}");
    assert!(!summary.contains(SYNTHETIC_MAK));
}
