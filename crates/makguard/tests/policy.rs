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

// Discovery: the nearest makguard.toml walking up from each scanned path, then the working
// directory; MAKGUARD_CONFIG and --config (which wins) name one file for every path.

/// An exception for the first synthetic MAK, and the tree's answer file holds only that key.
fn one_key_tree_under(dir: &Path, relative: &str) -> std::path::PathBuf {
    let file = dir.join(relative);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, answer_file(SYNTHETIC_MAK, SYNTHETIC_MAK)).unwrap();
    file
}

fn allow_first_mak(justification: &str) -> String {
    format!(
        "[[allow]]\nfingerprint = \"{}\"\njustification = \"{justification}\"\n",
        fingerprint(SYNTHETIC_MAK)
    )
}

fn scan_json_of(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, serde_json::Value, Output) {
    let mut all = vec!["scan", "--format", "json"];
    all.extend(args);
    let out = run_in(dir, &all, "", env);
    let json = if out.stdout.trim().is_empty() {
        serde_json::Value::Null
    } else {
        out.json()
    };
    (out.code, json, out)
}

fn root_policies(report: &serde_json::Value) -> Vec<serde_json::Value> {
    report["roots"]
        .as_array()
        .expect("roots")
        .iter()
        .map(|root| root["policy"].clone())
        .collect()
}

#[test]
fn a_repository_root_policy_applies_to_nested_paths_as_the_pre_commit_hook_passes_them() {
    let repo = tempfile::tempdir().unwrap();
    one_key_tree_under(repo.path(), "deploy/sources/autounattend.xml");
    write_policy(repo.path(), &allow_first_mak("repository-wide exception"));
    for path in ["deploy/sources/autounattend.xml", "deploy/sources", "deploy"] {
        let (code, report, out) = scan_json_of(repo.path(), &[path], &[TODAY]);
        assert_eq!(code, 0, "{path}: the repository-root policy applies\n{}", out.all());
        assert_eq!(report["summary"]["suppressed"], 2, "{path}: {report:#}");
        assert_eq!(root_policies(&report), vec![serde_json::json!("makguard.toml")]);
    }
    // The nearest file wins over one further up.
    write_policy(&repo.path().join("deploy"), "[severity]\nMG100 = \"note\"\n");
    let (code, report, out) = scan_json_of(repo.path(), &["deploy/sources/autounattend.xml"], &[TODAY]);
    assert_eq!(code, 1, "deploy/makguard.toml allows nothing\n{}", out.all());
    assert_eq!(root_policies(&report), vec![serde_json::json!("deploy/makguard.toml")]);
}

#[test]
fn a_mounted_tree_takes_the_policy_beside_its_mount_point() {
    let work = tempfile::tempdir().unwrap();
    one_key_tree_under(work.path(), "build/mnt/Windows/Panther/unattend.xml");
    write_policy(&work.path().join("build"), &allow_first_mak("kept out of the image"));
    let (code, report, out) = scan_json_of(work.path(), &["build/mnt"], &[TODAY]);
    assert_eq!(code, 0, "{}", out.all());
    assert_eq!(root_policies(&report), vec![serde_json::json!("build/makguard.toml")]);
    let text = run_in(work.path(), &["scan", "build/mnt"], "", &[TODAY]);
    assert!(
        text.stdout.contains("policy: build/makguard.toml"),
        "the text summary names the policy:\n{}",
        text.stdout
    );
}

#[test]
fn the_working_directory_policy_is_the_fallback() {
    let work = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let file = one_key_tree_under(elsewhere.path(), "autounattend.xml");
    write_policy(work.path(), &allow_first_mak("from the working directory"));
    let (code, report, out) = scan_json_of(work.path(), &[file.to_str().unwrap()], &[TODAY]);
    assert_eq!(code, 0, "{}", out.all());
    assert_eq!(root_policies(&report), vec![serde_json::json!("makguard.toml")]);
}

#[test]
fn makguard_config_names_the_policy_and_config_wins_over_it() {
    let tree = tempfile::tempdir().unwrap();
    one_key_tree_under(tree.path(), "autounattend.xml");
    let policies = tempfile::tempdir().unwrap();
    let allowing = policies.path().join("allowing.toml");
    let strict = policies.path().join("strict.toml");
    std::fs::write(&allowing, allow_first_mak("named by the environment")).unwrap();
    std::fs::write(&strict, "[severity]\nMG100 = \"note\"\n").unwrap();
    let (allowing, strict) = (allowing.to_str().unwrap(), strict.to_str().unwrap());

    let env = [TODAY, ("MAKGUARD_CONFIG", allowing)];
    let (code, report, out) = scan_json_of(tree.path(), &["."], &env);
    assert_eq!(code, 0, "MAKGUARD_CONFIG applies\n{}", out.all());
    assert_eq!(root_policies(&report), vec![serde_json::json!(allowing)]);

    let (code, report, out) = scan_json_of(tree.path(), &["--config", strict, "."], &env);
    assert_eq!(code, 1, "--config wins over MAKGUARD_CONFIG\n{}", out.all());
    assert_eq!(root_policies(&report), vec![serde_json::json!(strict)]);

    let missing = [TODAY, ("MAKGUARD_CONFIG", "/nonexistent/makguard.toml")];
    let out = run_in(tree.path(), &["scan", "."], "", &missing);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("MAKGUARD_CONFIG"), "{}", out.stderr);
}

#[test]
fn two_roots_under_two_policies_are_each_judged_by_their_own() {
    let work = tempfile::tempdir().unwrap();
    one_key_tree_under(work.path(), "lab/autounattend.xml");
    write_policy(&work.path().join("lab"), "[severity]\nMG100 = \"note\"\n");
    // The second root's policy excludes a file makguard cannot parse: without that policy the
    // scan is incomplete (exit 3) instead of failing on the first root's MAK (exit 1).
    let broken = work.path().join("prod/broken/autounattend.xml");
    std::fs::create_dir_all(broken.parent().unwrap()).unwrap();
    std::fs::write(&broken, "<unattend><settings pass=\"specialize\"><ProductKey>").unwrap();
    one_key_tree_under(work.path(), "prod/sources/autounattend.xml");
    write_policy(
        &work.path().join("prod"),
        &format!(
            "[scan]\nexclude = [\"broken/**\"]\n\n{}",
            allow_first_mak("prod exception")
        ),
    );
    let (code, report, out) = scan_json_of(work.path(), &["lab", "prod"], &[TODAY]);
    assert_eq!(code, 1, "{}", out.all());
    assert!(!codes(&report).iter().any(|c| c == "MG902"), "{report:#}");
    assert_eq!(
        root_policies(&report),
        vec![
            serde_json::json!("lab/makguard.toml"),
            serde_json::json!("prod/makguard.toml")
        ]
    );
    // prod's exception covers prod's key only: lab's identical key still fails.
    let suppressed: Vec<_> = findings(&report)
        .into_iter()
        .filter(|f| !f["suppressed"].is_null())
        .collect();
    assert_eq!(suppressed.len(), 2, "{report:#}");
    assert!(suppressed.iter().all(|f| f["root"] == 1), "{report:#}");
    assert!(
        findings(&report)
            .iter()
            .any(|f| f["root"] == 0 && f["code"] == "MG101" && f["suppressed"].is_null())
    );
    // The text report says which policy applied to which root.
    let text = run_in(work.path(), &["scan", "lab", "prod"], "", &[TODAY]);
    assert!(
        text.stdout
            .contains("policies: lab/makguard.toml for lab; prod/makguard.toml for prod"),
        "{}",
        text.stdout
    );
}

#[test]
fn allow_writes_the_file_scan_reads_for_the_same_path() {
    let work = tempfile::tempdir().unwrap();
    one_key_tree_under(work.path(), "mnt/Windows/Panther/unattend.xml");
    let fp = fingerprint(SYNTHETIC_MAK);
    let (code, _, _) = scan_json_of(work.path(), &["mnt"], &[TODAY]);
    assert_eq!(code, 1);
    // No policy anywhere: the new file goes to the working directory, outside the image.
    let out = run_in(
        work.path(),
        &["allow", &fp, "mnt", "--justification", "lab"],
        "",
        &[TODAY],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(work.path().join("makguard.toml").is_file());
    assert!(!work.path().join("mnt/makguard.toml").exists());
    let (code, report, out) = scan_json_of(work.path(), &["mnt"], &[TODAY]);
    assert_eq!(code, 0, "allow then scan agree\n{}", out.all());
    assert_eq!(report["summary"]["suppressed"], 2);

    // With a policy nearer the path, allow edits that one, as scan reads it.
    let second = fingerprint(SECOND_SYNTHETIC_MAK);
    one_key_tree_under(work.path(), "other/mnt/autounattend.xml");
    std::fs::write(
        work.path().join("other/mnt/autounattend.xml"),
        answer_file(SECOND_SYNTHETIC_MAK, SECOND_SYNTHETIC_MAK),
    )
    .unwrap();
    write_policy(&work.path().join("other"), "# other's policy\n");
    let out = run_in(
        work.path(),
        &["allow", &second, "other/mnt", "--justification", "other lab"],
        "",
        &[TODAY],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("other/makguard.toml:"), "{}", out.stdout);
    let (code, report, out) = scan_json_of(work.path(), &["other/mnt"], &[TODAY]);
    assert_eq!(code, 0, "{}", out.all());
    assert_eq!(root_policies(&report), vec![serde_json::json!("other/makguard.toml")]);

    // MAKGUARD_CONFIG names the file for allow as for scan.
    let named = work.path().join("named.toml");
    let env = [TODAY, ("MAKGUARD_CONFIG", named.to_str().unwrap())];
    let out = run_in(work.path(), &["allow", &fp, "--justification", "env"], "", &env);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(std::fs::read_to_string(&named).unwrap().contains(&fp));
}

#[test]
fn backslash_globs_work_and_a_glob_that_matches_nothing_warns() {
    let tree = tempfile::tempdir().unwrap();
    one_key_tree_under(tree.path(), "Windows/WinSxS/amd64_setup/unattend.xml");
    write_policy(
        tree.path(),
        "[scan]\nexclude = ['windows\\WinSxS\\**', 'Windows\\Temp\\**']\n",
    );
    let (code, report, out) = scan_json(tree.path(), &[], &[TODAY]);
    assert_eq!(code, 0, "the backslash exclude skips WinSxS\n{}", out.all());
    assert!(!codes(&report).iter().any(|c| c == "MG101"), "{report:#}");
    let unmatched: Vec<_> = findings(&report).into_iter().filter(|f| f["code"] == "MG503").collect();
    assert_eq!(unmatched.len(), 1, "{report:#}");
    assert_eq!(unmatched[0]["severity"], "warning");
    assert_eq!(unmatched[0]["path"], "makguard.toml");
    assert_eq!(
        (unmatched[0]["line"].clone(), unmatched[0]["column"].clone()),
        (2.into(), 33.into())
    );
    assert!(
        unmatched[0]["message"].as_str().unwrap().contains("Windows\\Temp\\**"),
        "{report:#}"
    );
    let (code, _, _) = scan_json(tree.path(), &["--fail-on", "warning"], &[TODAY]);
    assert_eq!(code, 1);

    // A backslash path in [[allow]] matches as well.
    write_policy(
        tree.path(),
        "[[allow]]\npath = 'Windows\\WinSxS\\*\\unattend.xml'\njustification = 'component store copy'\n",
    );
    let (code, report, out) = scan_json(tree.path(), &[], &[TODAY]);
    assert_eq!(code, 0, "{}", out.all());
    assert_eq!(report["summary"]["suppressed"], 2, "{report:#}");
}

#[test]
fn a_wim_file_takes_the_policy_discovered_for_its_path() {
    if !makguard_testkit::require_tool("wimlib-imagex") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("tree");
    one_key_tree_under(&tree, "Windows/Panther/unattend.xml");
    let wim = work.path().join("build/out/install.wim");
    std::fs::create_dir_all(wim.parent().unwrap()).unwrap();
    makguard_testkit::wim_capture(&tree, &wim, "Test", &[]);
    makguard_testkit::wimlib(&["append".as_ref(), tree.as_os_str(), wim.as_os_str(), "Second".as_ref()]);
    // The policy lives beside the build output, not in the image and not beside the WIM.
    write_policy(&work.path().join("build"), &allow_first_mak("lab WIM"));
    let (code, report, out) = scan_json_of(work.path(), &["build/out/install.wim"], &[TODAY]);
    assert_eq!(code, 0, "{}", out.all());
    assert_eq!(report["roots"].as_array().unwrap().len(), 2, "{report:#}");
    assert_eq!(
        root_policies(&report),
        vec![
            serde_json::json!("build/makguard.toml"),
            serde_json::json!("build/makguard.toml")
        ]
    );
    assert_eq!(report["summary"]["suppressed"], 4, "{report:#}");
}

/// pre-commit itself passes `deploy/...` file names from the repository root: the repository's
/// own makguard.toml applies to them, with no `--config` in the hook.
#[test]
fn pre_commit_applies_the_repository_root_policy() {
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let venv_bin = checkout.join("target/test-venv/bin");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_makguard"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = std::env::join_paths(
        [bin_dir, venv_bin.clone()]
            .into_iter()
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let found = std::env::split_paths(&path).any(|dir| dir.join("pre-commit").is_file());
    if !found && !makguard_testkit::require_tool("pre-commit") {
        return;
    }
    if !makguard_testkit::require_tool("git") {
        return;
    }
    let repo = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(repo.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    };
    git(&["init", "-q"]);
    one_key_tree_under(repo.path(), "deploy/sources/autounattend.xml");
    git(&["add", "."]);
    let run = || {
        let out = std::process::Command::new("pre-commit")
            .args(["try-repo", checkout.to_str().unwrap(), "makguard-system", "--files"])
            .arg("deploy/sources/autounattend.xml")
            .current_dir(repo.path())
            .env("PATH", &path)
            .env("PRE_COMMIT_HOME", repo.path().join(".cache"))
            .env_remove("MAKGUARD_CONFIG")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    let (code, text) = run();
    assert_eq!(code, Some(1), "without a policy the MAK fails the commit:\n{text}");
    write_policy(repo.path(), &allow_first_mak("repository policy"));
    git(&["add", "makguard.toml"]);
    let (code, text) = run();
    assert_eq!(code, Some(0), "the repository-root policy applies:\n{text}");
    assert!(!text.contains(SYNTHETIC_MAK), "{text}");
}
