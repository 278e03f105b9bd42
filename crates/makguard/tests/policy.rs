//! The policy file makguard.toml and `makguard allow`: justified exceptions suppress exactly
//! their finding and stay visible, expired ones fail the gate, unused ones warn, and
//! configuration errors exit 2 naming line and column.

mod common;

use std::path::Path;

use common::*;

const TODAY: (&str, &str) = ("MAKGUARD_TODAY", "2026-11-29");

fn scan_json(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> (i32, serde_json::Value, Output) {
    let mut args = vec!["scan", "--format", "json"];
    args.extend(extra);
    args.push(".");
    let out = run_in(dir, &args, "", env);
    let json = if out.stdout.trim().is_empty() {
        serde_json::Value::Null
    } else {
        out.json()
    };
    (out.code, json, out)
}

fn write_policy(dir: &Path, text: &str) {
    std::fs::write(dir.join("makguard.toml"), text).unwrap();
}

#[test]
fn both_keys_fail_without_a_policy() {
    let tree = two_key_tree();
    let (code, report, out) = scan_json(tree.path(), &[], &[TODAY]);
    assert_eq!(code, 1, "{}", out.all());
    let mak_findings = findings(&report).into_iter().filter(|f| f["code"] == "MG101").count();
    assert_eq!(mak_findings, 2, "{report:#}");
}

#[test]
fn allow_entry_suppresses_exactly_its_finding() {
    let tree = two_key_tree();
    write_policy(
        tree.path(),
        &format!(
            "# approved exceptions\n[[allow]]\nfingerprint = \"{}\"\njustification = \"Server lab cannot reach KMS; CHG-42\"\nexpires = 2027-06-30\n",
            fingerprint(SYNTHETIC_MAK)
        ),
    );
    let (code, report, out) = scan_json(tree.path(), &[], &[TODAY]);
    assert_eq!(code, 1, "the other MAK still fails the gate:\n{}", out.all());
    let all = findings(&report);
    let suppressed: Vec<_> = all.iter().filter(|f| !f["suppressed"].is_null()).collect();
    assert_eq!(suppressed.len(), 1, "{report:#}");
    assert_eq!(suppressed[0]["key"]["fingerprint"], fingerprint(SYNTHETIC_MAK));
    assert_eq!(
        suppressed[0]["suppressed"]["justification"],
        "Server lab cannot reach KMS; CHG-42"
    );
    assert_eq!(suppressed[0]["suppressed"]["origin"], "makguard.toml:2");
    let active: Vec<_> = all
        .iter()
        .filter(|f| f["suppressed"].is_null() && f["code"] == "MG101")
        .collect();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0]["key"]["fingerprint"], fingerprint(SECOND_SYNTHETIC_MAK));

    // The text report shows the suppressed finding with where it was allowed; -v adds why.
    let text = run_in(tree.path(), &["scan", "."], "", &[TODAY]);
    assert!(
        text.stdout.contains("(suppressed by makguard.toml:2)"),
        "{}",
        text.stdout
    );
    let text = run_in(tree.path(), &["scan", "-v", "."], "", &[TODAY]);
    assert!(text.stdout.contains("CHG-42"), "{}", text.stdout);
}

#[test]
fn allowing_every_key_passes_the_gate() {
    let tree = two_key_tree();
    write_policy(
        tree.path(),
        "[[allow]]\npath = \"autounattend.xml\"\nrule = \"unattend-non-kms-key\"\njustification = \"lab image, never shipped\"\n",
    );
    let (code, report, out) = scan_json(tree.path(), &[], &[TODAY]);
    assert_eq!(code, 0, "{}", out.all());
    assert_eq!(report["summary"]["suppressed"], 2, "{report:#}");
}

#[test]
fn expired_entry_stops_applying_and_fails_with_mg501() {
    let tree = two_key_tree();
    write_policy(
        tree.path(),
        &format!(
            "[[allow]]\nfingerprint = \"{}\"\njustification = \"temporary\"\nexpires = \"2026-11-28\"\n\n[[allow]]\nfingerprint = \"{}\"\njustification = \"until today\"\nexpires = 2026-11-29\n",
            fingerprint(SYNTHETIC_MAK),
            fingerprint(SECOND_SYNTHETIC_MAK)
        ),
    );
    let (code, report, out) = scan_json(tree.path(), &[], &[TODAY]);
    assert_eq!(code, 1, "{}", out.all());
    let all = findings(&report);
    let expired: Vec<_> = all.iter().filter(|f| f["code"] == "MG501").collect();
    assert_eq!(expired.len(), 1, "{report:#}");
    assert_eq!(expired[0]["severity"], "error");
    assert_eq!(expired[0]["path"], "makguard.toml");
    assert_eq!(expired[0]["line"], 1);
    let unsuppressed_mak = all
        .iter()
        .find(|f| f["code"] == "MG101" && f["suppressed"].is_null())
        .expect("the expired exception no longer applies");
    assert_eq!(unsuppressed_mak["key"]["fingerprint"], fingerprint(SYNTHETIC_MAK));
    // An entry applies through its expiry day.
    assert!(
        all.iter()
            .any(|f| f["key"]["fingerprint"] == fingerprint(SECOND_SYNTHETIC_MAK) && !f["suppressed"].is_null())
    );
    // The day after, both are expired.
    let (code, report, _) = scan_json(tree.path(), &[], &[("MAKGUARD_TODAY", "2026-11-30")]);
    assert_eq!(code, 1);
    assert_eq!(codes(&report).iter().filter(|c| *c == "MG501").count(), 2);
}

#[test]
fn unused_entry_warns_with_mg502() {
    let tree = two_key_tree();
    write_policy(
        tree.path(),
        "[severity]\nunattend-non-kms-key = \"warning\"\n\n[[allow]]\nrule = \"MG102\"\njustification = \"stale\"\n",
    );
    let (code, report, out) = scan_json(tree.path(), &[], &[TODAY]);
    assert_eq!(code, 0, "warnings only:\n{}", out.all());
    let unused: Vec<_> = findings(&report).into_iter().filter(|f| f["code"] == "MG502").collect();
    assert_eq!(unused.len(), 1, "{report:#}");
    assert_eq!(unused[0]["severity"], "warning");
    assert_eq!(unused[0]["line"], 4);
    let (code, _, _) = scan_json(tree.path(), &["--fail-on", "warning"], &[TODAY]);
    assert_eq!(code, 1);
}

#[test]
fn severity_off_drops_a_rule() {
    let tree = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("clean/unattend.xml"), tree.path().join("unattend.xml")).unwrap();
    let (code, report, _) = scan_json(tree.path(), &["--fail-on", "note"], &[TODAY]);
    assert_eq!(code, 1);
    assert!(codes(&report).contains(&"MG100".to_string()));
    write_policy(tree.path(), "[severity]\nMG100 = \"off\"\n");
    let (code, report, out) = scan_json(tree.path(), &["--fail-on", "note"], &[TODAY]);
    assert_eq!(code, 0, "{}", out.all());
    assert!(findings(&report).is_empty(), "{report:#}");
}

#[test]
fn configuration_errors_exit_2_with_line_and_column() {
    let tree = two_key_tree();
    let cases = [
        ("[scan]\ndeep = true\ncolour = \"red\"\n", "makguard.toml:3:1"),
        (
            "[[allow]]\nrule = \"MG101\"\njustification = \"\"\n",
            "makguard.toml:3:17",
        ),
        ("[[allow]]\nrule = \"MG101\"\n", "makguard.toml:1:1"),
        (
            "[[allow]]\nfingerprint = \"sha256:00\"\njustification = \"x\"\n",
            "makguard.toml:2:15",
        ),
        ("\n[severity]\nMG101 = \"loud\"\n", "makguard.toml:3:9"),
        (
            "[editions]\nEnterprise = \"6QWQ4-8NRCW-KHGHV-CR226-3PPQC\"\n",
            "makguard.toml:2:14",
        ),
        (
            "[[allow]]\nrule = \"MG101\"\njustification = \"x\"\nexpires = 2026-02-30\n",
            "makguard.toml:4:",
        ),
        ("not toml at all = = =\n", "makguard.toml:1:"),
        // A key pasted where a name belongs: the parser quotes it, the message must not.
        (
            "[[allow]]\nrule = \"MG101\"\njustification = \"x\"\n6QWQ4-8NRCW-KHGHV-CR226-3PPQC = 1\n",
            "makguard.toml:4:1",
        ),
    ];
    for (policy, location) in cases {
        write_policy(tree.path(), policy);
        let out = run_in(tree.path(), &["scan", "."], "", &[TODAY]);
        assert_eq!(out.code, 2, "{policy}\n{}", out.all());
        assert!(
            out.stderr.contains(location),
            "expected {location} for\n{policy}\ngot: {}",
            out.stderr
        );
        assert!(!out.all().contains(SYNTHETIC_MAK), "{}", out.all());
    }
}

#[test]
fn explicit_config_is_used_from_anywhere() {
    let tree = two_key_tree();
    let elsewhere = tempfile::tempdir().unwrap();
    let policy = elsewhere.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[[allow]]\nrule = \"MG101\"\njustification = \"lab\"\n[[allow]]\nrule = \"MG103\"\njustification = \"stale\"\n",
    )
    .unwrap();
    let policy_arg = policy.to_str().unwrap();
    let (code, report, out) = scan_json(tree.path(), &["--config", policy_arg], &[TODAY]);
    assert_eq!(code, 0, "{}", out.all());
    let unused = findings(&report)
        .into_iter()
        .find(|f| f["code"] == "MG502")
        .expect("MG502");
    assert_eq!(
        unused["path"], policy_arg,
        "a policy outside the root is named as given"
    );
}

#[test]
fn allow_command_appends_and_keeps_comments() {
    let tree = two_key_tree();
    let original = "# Site policy: keep this comment\n[severity]\nMG105 = \"note\" # truncated keys are noise here\n";
    write_policy(tree.path(), original);
    let fp = fingerprint(SYNTHETIC_MAK);
    let out = run_in(
        tree.path(),
        &[
            "allow",
            &fp,
            "--justification",
            "approved by licensing, CHG-7",
            "--expires",
            "2027-01-31",
            "--path",
            "autounattend.xml",
        ],
        "",
        &[TODAY],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("makguard.toml:"), "{}", out.stdout);
    let updated = std::fs::read_to_string(tree.path().join("makguard.toml")).unwrap();
    assert!(
        updated.starts_with(original),
        "existing text kept byte for byte:\n{updated}"
    );
    assert!(updated.contains("[[allow]]") && updated.contains(&fp) && updated.contains("expires = 2027-01-31"));

    let (code, report, _) = scan_json(tree.path(), &[], &[TODAY]);
    assert_eq!(code, 1, "the second MAK still fails");
    assert_eq!(report["summary"]["suppressed"], 1, "{report:#}");

    // A second entry appends after the first.
    let out = run_in(
        tree.path(),
        &[
            "allow",
            &fingerprint(SECOND_SYNTHETIC_MAK),
            "--justification",
            "also approved",
            "--rule",
            "MG101",
        ],
        "",
        &[TODAY],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    let (code, report, out) = scan_json(tree.path(), &[], &[TODAY]);
    assert_eq!(code, 0, "{}", out.all());
    assert_eq!(report["summary"]["suppressed"], 2);
}

#[test]
fn allow_command_creates_the_file_and_validates_input() {
    let dir = tempfile::tempdir().unwrap();
    let fp = fingerprint(SYNTHETIC_MAK);
    let out = run_in(dir.path(), &["allow", &fp, "--justification", "ok"], "", &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    let text = std::fs::read_to_string(dir.path().join("makguard.toml")).unwrap();
    assert!(text.contains(&fp), "{text}");

    for args in [
        vec!["allow", "sha256:ABC", "--justification", "x"],
        vec!["allow", SYNTHETIC_MAK, "--justification", "x"],
        vec!["allow", &fp, "--justification", "   "],
        vec!["allow", &fp, "--justification", "x", "--expires", "2027-02-29"],
        vec!["allow", &fp, "--justification", "x", "--rule", "MG999"],
        vec!["allow", &fp],
    ] {
        let out = run_in(dir.path(), &args, "", &[]);
        assert_eq!(out.code, 2, "{args:?}\n{}", out.all());
        assert!(
            !out.all().contains(SYNTHETIC_MAK),
            "{args:?} echoed the key: {}",
            out.all()
        );
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("makguard.toml")).unwrap(),
        text,
        "failed calls change nothing"
    );

    std::fs::write(dir.path().join("makguard.toml"), "[scan]\nbogus = 1\n").unwrap();
    let out = run_in(dir.path(), &["allow", &fp, "--justification", "x"], "", &[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("makguard.toml:2:1"), "{}", out.stderr);
}
