//! The command line as users and CI systems see it: exit codes, formats, keys never printed
//! in full, the `key`, `rules` and `explain` commands, and `fix`.

mod common;

use common::*;
use std::fmt::Write as _;

#[test]
fn clean_answer_file_exits_0() {
    let out = run(&["scan", &fixture("clean")]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        !out.stdout.contains("MG100") && out.stdout.contains("1 note (shown with -v)"),
        "the GVLK note is counted, not listed:\n{}",
        out.stdout
    );
    let out = run(&["scan", "-v", &fixture("clean")]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains("MG100"),
        "with -v the GVLK is reported as a note:\n{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(ENTERPRISE_GVLK),
        "GVLKs are public and print in full"
    );
}

#[test]
fn mak_exits_1_and_is_masked_in_text() {
    let out = run(&["scan", &fixture("mak")]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stdout.contains("MG101"), "{}", out.stdout);
    assert!(out.stdout.contains("*****-*****-*****-*****-3PPQC"), "{}", out.stdout);
    assert!(!out.all().contains(SYNTHETIC_MAK), "the MAK must never print in full");
    let finding_lines: Vec<&str> = out.stdout.lines().filter(|l| l.contains(": MG")).collect();
    assert_eq!(finding_lines.len(), 1, "one line per finding:\n{}", out.stdout);
    assert!(
        finding_lines[0].contains("unattend.xml:6:19: MG101 [error] "),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("sha256:"),
        "the fingerprint is detail:\n{}",
        out.stdout
    );
    let full = run(&["scan", "-v", &fixture("mak")]);
    assert!(full.stdout.contains(&fingerprint(SYNTHETIC_MAK)), "{}", full.stdout);
    assert!(full.stdout.contains("    at specialize / "), "{}", full.stdout);
    assert!(!full.all().contains(SYNTHETIC_MAK), "the MAK must never print in full");
    let detail = run(&["scan", "--detail", "full", &fixture("mak")]);
    assert!(detail.stdout.contains(&fingerprint(SYNTHETIC_MAK)), "{}", detail.stdout);
}

#[test]
fn mak_in_json_format() {
    let out = run(&["scan", "--format", "json", &fixture("mak")]);
    assert_eq!(out.code, 1, "{}", out.all());
    let report = out.json();
    let findings = findings(&report);
    assert_eq!(findings.len(), 1, "{report:#}");
    let finding = &findings[0];
    assert_eq!(finding["code"], "MG101");
    assert_eq!(finding["rule"], "unattend-non-kms-key");
    assert_eq!(finding["severity"], "error");
    assert_eq!(finding["path"], "unattend.xml");
    assert_eq!(finding["line"], 6);
    assert_eq!(finding["key"]["masked"], "*****-*****-*****-*****-3PPQC");
    assert_eq!(finding["key"]["fingerprint"], fingerprint(SYNTHETIC_MAK));
    assert_eq!(finding["key"]["class"], "non-kms");
    assert_eq!(report["summary"]["errors"], 1);
    assert!(!out.all().contains(SYNTHETIC_MAK));
}

#[test]
fn a_key_in_a_binary_file_has_its_byte_range_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = vec![0x4D, 0x5A, 0x90, 0x00, 0xFF, 0x01];
    let start = bytes.len();
    bytes.extend(SYNTHETIC_MAK.encode_utf16().flat_map(u16::to_le_bytes));
    bytes.extend([0x00, 0x00, 0xC3, 0x90]);
    std::fs::write(dir.path().join("setup.dll"), &bytes).unwrap();
    let out = run(&["scan", "--deep", "--format", "json", dir.path().to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}", out.all());
    let report = out.json();
    let findings = findings(&report);
    assert_eq!(findings.len(), 1, "{report:#}");
    assert_eq!(findings[0]["code"], "MG251");
    assert_eq!(
        findings[0]["range"],
        serde_json::Value::Null,
        "a binary file has no text position"
    );
    // UTF-16LE: from the first character's byte to just past the last character's byte.
    let last_char_end = start + 2 * (SYNTHETIC_MAK.len() - 1) + 1;
    assert_eq!(findings[0]["byte_range"]["start"], start);
    assert_eq!(findings[0]["byte_range"]["end"], last_char_end);
    assert!(!out.all().contains(SYNTHETIC_MAK));
}

#[test]
fn show_keys_prints_the_full_key() {
    let out = run(&["scan", "--show-keys", &fixture("mak")]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(
        out.stdout.contains(SYNTHETIC_MAK),
        "--show-keys reveals the key:\n{}",
        out.stdout
    );
}

#[test]
fn fail_on_lowers_the_threshold() {
    assert_eq!(run(&["scan", "--fail-on", "warning", &fixture("clean")]).code, 0);
    let out = run(&["scan", "--fail-on", "note", &fixture("clean")]);
    assert_eq!(out.code, 1, "the GVLK note fails --fail-on note: {}", out.all());
}

#[test]
fn malformed_xml_is_incomplete_exit_3() {
    let out = run(&["scan", "--format", "json", &fixture("malformed")]);
    assert_eq!(out.code, 3, "{}", out.all());
    let report = out.json();
    assert!(codes(&report).contains(&"MG902".to_string()), "{report:#}");
    assert_eq!(report["summary"]["incomplete"], true);
}

#[test]
fn allow_incomplete_turns_3_into_the_findings_verdict() {
    // MG902 is an error: accepted as a gap, it still fails the error gate (1), never passes silently.
    let out = run(&["scan", "--allow-incomplete", &fixture("malformed")]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(
        out.stdout.contains("MG902"),
        "the finding stays visible:\n{}",
        out.stdout
    );
}

#[test]
fn incomplete_wins_over_findings() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("mak/unattend.xml"), dir.path().join("a-unattend.xml")).unwrap();
    std::fs::copy(fixture("malformed/unattend.xml"), dir.path().join("b-unattend.xml")).unwrap();
    let out = run(&["scan", dir.path().to_str().unwrap()]);
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(
        out.stdout.contains("MG101") && out.stdout.contains("MG902"),
        "{}",
        out.stdout
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec!["scan", "--no-such-flag", "."],
        vec!["scan"],
        vec!["scan", "--format", "yaml", "."],
        vec!["scan", "--format", "json=", "."],
        vec!["scan", "--fail-on", "fatal", "."],
        vec!["scan", "--size-cap", "lots", "."],
        vec!["scan", "--jobs", "0", "."],
        vec!["scan", "--color", "purple", "."],
        vec!["scan", "--format", "text", "--format", "json", "."],
        vec!["scan", "/no/such/path/anywhere"],
        vec!["scan", "--config", "/no/such/makguard.toml", "."],
        vec!["scan", "--pkeyconfig", "/no/such/pkeyconfig.xrm-ms", "."],
        vec!["frobnicate"],
        vec![],
        // A key typed where an option belongs is quoted back by the parser: masked.
        vec!["scan", "--6QWQ4-8NRCW-KHGHV-CR226-3PPQC", "."],
    ] {
        let out = run(&args);
        assert_eq!(out.code, 2, "{args:?} should be a usage error:\n{}", out.all());
        assert!(!out.stderr.is_empty(), "{args:?} should say why");
        assert!(!out.all().contains("6QWQ4-8NRCW-KHGHV-CR226-3PPQC"), "{}", out.all());
    }
}

#[test]
fn size_units_are_accepted() {
    let out = run(&[
        "scan",
        "--size-cap",
        "16MiB",
        "--jobs",
        "2",
        "--no-progress",
        &fixture("clean"),
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
}

#[test]
fn several_formats_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    let sarif = dir.path().join("out.sarif");
    let junit = dir.path().join("out.xml");
    let out = run(&[
        "scan",
        "--format",
        "text",
        "--format",
        &format!("json={}", json.display()),
        "--format",
        &format!("sarif={}", sarif.display()),
        "--format",
        &format!("junit={}", junit.display()),
        &fixture("mak"),
    ]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(
        out.stdout.contains("MG101"),
        "text still goes to stdout:\n{}",
        out.stdout
    );
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(codes(&report), vec!["MG101"]);
    let sarif_text = std::fs::read_to_string(&sarif).unwrap();
    let sarif_json: serde_json::Value = serde_json::from_str(&sarif_text).unwrap();
    assert_eq!(sarif_json["version"], "2.1.0");
    let junit_text = std::fs::read_to_string(&junit).unwrap();
    assert!(junit_text.contains("<testsuite"), "{junit_text}");
    for text in [&sarif_text, &junit_text, &out.stdout] {
        assert!(!text.contains(SYNTHETIC_MAK));
    }
}

#[test]
fn help_documents_exit_codes_and_show_keys() {
    let out = run(&["--help"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("Exit codes"), "{}", out.stdout);
    assert!(out.stdout.contains("incomplete"), "{}", out.stdout);
    let out = run(&["scan", "--help"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("never in CI logs"), "{}", out.stdout);
    assert_eq!(run(&["--version"]).code, 0);
}

#[test]
fn key_classifies_every_catalog_gvlk() {
    let rows = read_tsv("gvlk.tsv");
    assert!(rows.len() >= 170, "gvlk.tsv has {} rows", rows.len());
    let stdin = rows.iter().fold(String::new(), |mut stdin, r| {
        let _ = writeln!(stdin, "{}", r["key"]);
        stdin
    });
    let out = run_in(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
        &["key", "--format", "json"],
        &stdin,
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let list = out.json();
    let list = list.as_array().expect("a JSON list");
    assert_eq!(list.len(), rows.len());
    for (row, entry) in rows.iter().zip(list) {
        assert_eq!(entry["class"], "gvlk", "{} -> {entry}", row["key"]);
        assert_eq!(entry["key"], row["key"].as_str(), "a GVLK is public and shown in full");
        assert_eq!(entry["fingerprint"], fingerprint(&row["key"]));
        assert!(entry["product"].is_string() && entry["edition"].is_string(), "{entry}");
        let expected_checksum = if row["key"].contains('N') {
            "valid"
        } else {
            "not-applicable"
        };
        assert_eq!(entry["checksum"], expected_checksum, "{}", row["key"]);
    }
}

#[test]
fn key_classifies_synthetic_keys_without_revealing_them() {
    let rows = read_tsv("synthetic-keys.tsv");
    assert!(rows.len() >= 20);
    let keys: Vec<&str> = rows.iter().map(|r| r["key"].as_str()).collect();
    let mut args = vec!["key", "--format", "json"];
    args.extend(&keys);
    let out = run(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let list = out.json();
    let list = list.as_array().expect("a JSON list");
    assert_eq!(list.len(), rows.len());
    for (row, entry) in rows.iter().zip(list) {
        let key = &row["key"];
        assert_eq!(entry["class"], "non-kms", "{entry}");
        let expected = match row["checksum_ok"].as_str() {
            "true" => "valid",
            "false" => "invalid",
            _ => "not-applicable",
        };
        assert_eq!(entry["checksum"], expected, "{entry}");
        assert_eq!(entry["masked"], format!("*****-*****-*****-*****-{}", &key[24..]));
        assert_eq!(entry["fingerprint"], fingerprint(key));
        assert!(entry.get("key").is_none(), "no full key for a non-GVLK: {entry}");
        assert!(!out.all().contains(key.as_str()), "{key} printed in full");
        assert!(!out.all().contains(&key.replace('-', "")), "{key} printed in full");
    }
    let text = run(&["key", SYNTHETIC_MAK, ENTERPRISE_GVLK]);
    assert_eq!(text.code, 0);
    assert!(!text.all().contains(SYNTHETIC_MAK), "{}", text.stdout);
    assert!(
        text.stdout.contains("3PPQC") && text.stdout.contains(ENTERPRISE_GVLK),
        "{}",
        text.stdout
    );
}

#[test]
fn key_show_keys_reveals_and_odd_input_is_not_echoed() {
    let out = run(&["key", "--show-keys", "--format", "json", SYNTHETIC_MAK]);
    assert_eq!(out.json()[0]["key"], SYNTHETIC_MAK);

    // The placeholder is built, not written out: the repository holds no key-shaped strings.
    let placeholder = ["XXXXX"; 5].join("-");
    let stdin = format!("not a key at all SECRETWORD\n\n{placeholder}\n6QWQ4-8NRCW-KHGHV-CR226\n");
    let out = run_in(std::path::Path::new("."), &["key", "--format", "json"], &stdin, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let list = out.json();
    let classes: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["class"].as_str().unwrap())
        .collect();
    assert_eq!(classes, ["malformed", "placeholder", "partial"]);
    assert!(
        !out.all().contains("SECRETWORD") && !out.all().contains("6QWQ4"),
        "{}",
        out.all()
    );
}

#[test]
fn rules_lists_every_rule_and_markdown_is_generated() {
    let out = run(&["rules"]);
    assert_eq!(out.code, 0);
    for rule in makguard_core::rules::ALL {
        assert!(
            out.stdout.contains(rule.code) && out.stdout.contains(rule.name),
            "{}",
            rule.code
        );
    }
    let out = run(&["rules", "--markdown"]);
    assert_eq!(out.stdout, makguard_core::rules::reference_markdown());
}

#[test]
fn docs_rules_md_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/rules.md");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == makguard_core::rules::reference_markdown(),
        "docs/rules.md is out of date with crates/makguard-core/src/rules.rs; regenerate it with\n    \
         cargo run -p makguard -- rules --markdown > docs/rules.md"
    );
}

#[test]
fn explain_by_code_or_name() {
    let out = run(&["explain", "MG101"]);
    assert_eq!(out.code, 0);
    assert!(
        out.stdout.contains("unattend-non-kms-key") && out.stdout.contains("activation"),
        "{}",
        out.stdout
    );
    for heading in [
        "\nWhat it does\n",
        "\nWhy is this bad?\n",
        "\nHow to fix\n",
        "\nFix safety\n",
    ] {
        assert!(out.stdout.contains(heading), "{heading:?} in {}", out.stdout);
    }
    assert!(
        out.stdout.contains("category: key in image; product: Windows"),
        "{}",
        out.stdout
    );
    let out = run(&["explain", "mak-installed"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("MG301"), "{}", out.stdout);
    assert!(out.stdout.contains("not fixable by editing files"), "{}", out.stdout);
    let out = run(&["explain", "installed-gvlk"]);
    assert!(
        !out.stdout.contains("\nHow to fix\n"),
        "an informational rule has nothing to fix: {}",
        out.stdout
    );
    let out = run(&["explain", "MG999"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("MG999"), "{}", out.stderr);
}

#[test]
fn fix_dry_run_shows_a_masked_diff_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("unattend.xml");
    std::fs::copy(fixture("mak/unattend.xml"), &file).unwrap();
    let before = std::fs::read(&file).unwrap();
    let out = run(&[
        "fix",
        "--dry-run",
        "--gvlk",
        ENTERPRISE_GVLK,
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.code, 1, "exit from the pre-fix scan:\n{}", out.all());
    assert!(
        out.stdout
            .contains("-      <ProductKey>*****-*****-*****-*****-3PPQC</ProductKey>"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(&format!("+      <ProductKey>{ENTERPRISE_GVLK}</ProductKey>")),
        "{}",
        out.stdout
    );
    assert!(!out.all().contains(SYNTHETIC_MAK));
    assert_eq!(std::fs::read(&file).unwrap(), before, "--dry-run writes nothing");
}

#[test]
fn fix_rewrites_and_exits_from_the_post_fix_scan() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("unattend.xml");
    std::fs::copy(fixture("mak/unattend.xml"), &file).unwrap();
    let log = dir.path().join("changes.json");
    let out = run(&[
        "fix",
        "--gvlk",
        ENTERPRISE_GVLK,
        "--report",
        log.to_str().unwrap(),
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    let after = std::fs::read_to_string(&file).unwrap();
    let before = std::fs::read_to_string(fixture("mak/unattend.xml")).unwrap();
    assert_eq!(
        after,
        before.replace(SYNTHETIC_MAK, ENTERPRISE_GVLK),
        "only the key changes"
    );
    let log_text = std::fs::read_to_string(&log).unwrap();
    let log_json: serde_json::Value = serde_json::from_str(&log_text).unwrap();
    assert_eq!(log_json["summary"]["keys_replaced"], 1, "{log_json:#}");
    assert!(!log_text.contains(SYNTHETIC_MAK));
    assert!(!out.all().contains(SYNTHETIC_MAK));
}

/// Every file and folder under `root`, a file with a hash of its bytes: enough to tell whether
/// a run changed anything, and a failing assertion prints no file's contents (they hold keys).
fn tree_snapshot(root: &std::path::Path) -> Vec<(std::path::PathBuf, Option<u64>)> {
    use std::hash::{DefaultHasher, Hash, Hasher};
    walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .map(|entry| {
            let entry = entry.unwrap();
            let hash = entry.file_type().is_file().then(|| {
                let mut hasher = DefaultHasher::new();
                std::fs::read(entry.path()).unwrap().hash(&mut hasher);
                hasher.finish()
            });
            (entry.path().strip_prefix(root).unwrap().to_path_buf(), hash)
        })
        .collect()
}

#[test]
fn an_unwritable_change_log_is_a_usage_error_before_anything_is_fixed() {
    let image = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("mak/unattend.xml"), image.path().join("unattend.xml")).unwrap();
    // A temporary file an interrupted fix left: removing it is already a change to the tree.
    std::fs::write(image.path().join(".unattend.xml.makguard-tmp-999999999-0"), "old").unwrap();
    let logs = tempfile::tempdir().unwrap();
    let not_a_folder = logs.path().join("plain-file");
    std::fs::write(&not_a_folder, "").unwrap();
    let mut places = vec![
        logs.path().join("no/such/folder/changes.json"),
        not_a_folder.join("changes.json"),
        logs.path().to_path_buf(),
    ];
    if cfg!(target_os = "linux") {
        // Read-only even for root, so the test means the same run as root or not.
        places.push(std::path::PathBuf::from("/proc/makguard-changes.json"));
    }
    let before = tree_snapshot(image.path());
    let image_arg = image.path().to_str().unwrap();
    for place in places {
        let log_arg = place.to_str().unwrap();
        let out = run(&["fix", "--gvlk", ENTERPRISE_GVLK, "--report", log_arg, image_arg]);
        assert_eq!(out.code, 2, "{}: {}", place.display(), out.all());
        assert!(out.stderr.contains("cannot write the change log to"), "{}", out.stderr);
        assert!(out.stdout.is_empty(), "nothing was scanned or printed:\n{}", out.stdout);
        assert_eq!(
            tree_snapshot(image.path()),
            before,
            "{}: the tree is untouched",
            place.display()
        );
    }
    // The same run with a writable change log does change the tree, so the checks above mean
    // something.
    let fine = logs.path().join("changes.json");
    let out = run(&[
        "fix",
        "--gvlk",
        ENTERPRISE_GVLK,
        "--report",
        fine.to_str().unwrap(),
        image_arg,
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(fine.is_file());
    assert_ne!(tree_snapshot(image.path()), before);
}

/// A one-image WIM of a tree holding only the MAK answer file, alone in a new folder with a
/// stale temporary file beside it, so a fix that starts removes that file; `None` when
/// wimlib-imagex is missing and missing tools are skipped.
fn tiny_mak_wim() -> Option<(tempfile::TempDir, std::path::PathBuf)> {
    if !makguard_testkit::require_tool_for("wimlib-imagex", "to capture the WIM to fix") {
        return None;
    }
    let tree = tempfile::tempdir().unwrap();
    let panther = tree.path().join("Windows/Panther");
    std::fs::create_dir_all(&panther).unwrap();
    std::fs::copy(fixture("mak/unattend.xml"), panther.join("unattend.xml")).unwrap();
    let folder = tempfile::tempdir().unwrap();
    let wim = folder.path().join("install.wim");
    makguard_testkit::wim_capture(tree.path(), &wim, "Enterprise test", &[]);
    std::fs::write(folder.path().join(".install.wim.makguard-tmp-999999999-0"), "old").unwrap();
    Some((folder, wim))
}

#[test]
fn an_unwritable_or_self_naming_fix_output_is_a_usage_error_before_anything_is_fixed() {
    let Some((folder, wim)) = tiny_mak_wim() else {
        return;
    };
    let elsewhere = tempfile::tempdir().unwrap();
    let link_to_input = elsewhere.path().join("link.wim");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&wim, &link_to_input).unwrap();
    let unwritable = [
        elsewhere.path().join("no/such/folder/fixed.wim"),
        elsewhere.path().to_path_buf(),
    ];
    let mut the_input = vec![wim.clone(), folder.path().join(".").join("install.wim")];
    let mut not_regular = Vec::new();
    if cfg!(unix) {
        the_input.push(link_to_input);
        // A link to another file would be replaced by the writer's rename, not written through.
        let other = elsewhere.path().join("other.wim");
        std::fs::write(&other, b"not yet a WIM").unwrap();
        let link_to_other = elsewhere.path().join("link-to-other.wim");
        #[cfg(unix)]
        std::os::unix::fs::symlink(&other, &link_to_other).unwrap();
        not_regular.push(link_to_other);
    }
    let before = tree_snapshot(folder.path());
    let original = std::fs::read(&wim).unwrap();
    let wim_arg = wim.to_str().unwrap();
    let cases = unwritable
        .iter()
        .map(|place| (place, "cannot write the fixed WIM to"))
        .chain(the_input.iter().map(|place| (place, "is the input WIM")))
        .chain(not_regular.iter().map(|place| (place, "is not a regular file")));
    for (place, message) in cases {
        for dry_run in [false, true] {
            let mut args = vec!["fix", "--gvlk", ENTERPRISE_GVLK, "--output", place.to_str().unwrap()];
            if dry_run {
                args.push("--dry-run");
            }
            args.push(wim_arg);
            let out = run(&args);
            assert_eq!(out.code, 2, "{} (dry run: {dry_run}): {}", place.display(), out.all());
            assert!(out.stderr.contains(message), "{}", out.stderr);
            assert!(out.stdout.is_empty(), "nothing was scanned or printed:\n{}", out.stdout);
            assert!(
                std::fs::read(&wim).unwrap() == original,
                "{}: the WIM is untouched",
                place.display()
            );
            assert_eq!(
                tree_snapshot(folder.path()),
                before,
                "{}: nothing beside the WIM changed either (the stale temporary file stays)",
                place.display()
            );
        }
    }
    // The same run with a writable output does fix, so the checks above mean something.
    let fixed = elsewhere.path().join("fixed.wim");
    let out = run(&[
        "fix",
        "--gvlk",
        ENTERPRISE_GVLK,
        "--output",
        fixed.to_str().unwrap(),
        wim_arg,
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(fixed.is_file() && std::fs::read(&fixed).unwrap() != original);
    assert!(
        std::fs::read(&wim).unwrap() == original,
        "--output leaves the input alone"
    );
    assert_ne!(
        tree_snapshot(folder.path()),
        before,
        "the stale temporary file is removed"
    );
    assert!(!out.all().contains(SYNTHETIC_MAK));
}

#[test]
fn fix_without_an_edition_leaves_the_key_and_still_fails() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("mak/unattend.xml"), dir.path().join("unattend.xml")).unwrap();
    let out = run(&["fix", dir.path().to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stderr.contains("cannot fix"), "{}", out.stderr);
    let text = std::fs::read_to_string(dir.path().join("unattend.xml")).unwrap();
    assert!(text.contains(SYNTHETIC_MAK), "nothing was guessed");
}

#[test]
fn fix_refuses_a_non_gvlk_replacement_without_echoing_it() {
    let out = run(&["fix", "--gvlk", SECOND_SYNTHETIC_MAK, &fixture("mak")]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(!out.all().contains(SECOND_SYNTHETIC_MAK), "{}", out.all());
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let piped = run(&["scan", &fixture("mak")]);
    assert!(
        !piped.stdout.contains('\u{1b}'),
        "no colour into a pipe:\n{}",
        piped.stdout
    );
    let always = run(&["scan", "--color", "always", &fixture("mak")]);
    assert!(
        always.stdout.contains("\u{1b}["),
        "--color always colours:\n{}",
        always.stdout
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.txt");
    let out = run(&[
        "scan",
        "--color",
        "always",
        "--format",
        &format!("text={}", file.display()),
        &fixture("mak"),
    ]);
    assert_eq!(out.code, 1);
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(
        written.contains("MG101") && !written.contains('\u{1b}'),
        "files are never coloured:\n{written}"
    );
}

#[cfg(unix)]
fn fifo_in(dir: &std::path::Path, name: &str) -> Option<std::path::PathBuf> {
    let fifo = dir.join(name);
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    made.then_some(fifo)
}

#[cfg(unix)]
#[test]
fn a_fifo_is_never_opened_by_scan_or_key() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fifo) = fifo_in(dir.path(), "unattend.xml") else {
        return;
    };
    let fifo = fifo.to_string_lossy().into_owned();
    // Each run returning proves the FIFO was not opened blocking.
    let out = run(&["scan", &fifo]);
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(out.stdout.contains("MG906"), "{}", out.stdout);
    let out = run(&["key", "--pkeyconfig", &fifo, SYNTHETIC_MAK]);
    assert_ne!(out.code, 0, "{}", out.all());
    let out = run(&["scan", "--pkeyconfig", &fifo, &fixture("clean")]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("not a regular file"), "{}", out.stderr);
}

#[test]
fn a_damaged_windows_image_file_is_incomplete_and_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let wim = dir.path().join("install.wim");
    let mut bytes = b"MSWIM\0\0\0".to_vec();
    bytes.resize(4096, 0);
    std::fs::write(&wim, bytes).unwrap();
    let out = run(&["scan", &wim.to_string_lossy()]);
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(
        out.stdout.contains("(what to do about 1 finding: shown with -v)"),
        "{}",
        out.stdout
    );
    let out = run(&["scan", "-v", &wim.to_string_lossy()]);
    assert_eq!(out.code, 3, "{}", out.all());
    // makguard reads WIMs itself: one whose header is damaged is MG920, with what to do.
    assert!(out.stdout.contains("MG920"), "{}", out.stdout);
    assert!(out.stdout.contains("wimlib-imagex verify"), "{}", out.stdout);
}

#[test]
fn quiet_prints_only_the_errors_and_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("mak/unattend.xml"), dir.path().join("a-unattend.xml")).unwrap();
    std::fs::copy(fixture("clean/unattend.xml"), dir.path().join("b-unattend.xml")).unwrap();
    let root = dir.path().to_str().unwrap();
    let out = run(&["scan", "-q", "--fail-on", "note", root]);
    assert_eq!(out.code, 1, "{}", out.all());
    let lines: Vec<&str> = out.stdout.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 2, "one error line and the verdict:\n{}", out.stdout);
    assert!(
        lines[0].contains("MG101 [error]") && lines[1].starts_with("FAIL (exit 1"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    let out = run(&["scan", "--quiet", "--verbose", root]);
    assert_eq!(out.code, 2, "-q and -v conflict:\n{}", out.all());
}

#[test]
fn verbose_lists_each_file_searched_with_its_kind() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("mak/unattend.xml"), dir.path().join("unattend.xml")).unwrap();
    std::fs::write(dir.path().join("SetupComplete.cmd"), "echo hello\r\n").unwrap();
    let out = run(&["scan", "-v", dir.path().to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stderr.contains("SetupComplete.cmd (script)"), "{}", out.stderr);
    assert!(out.stderr.contains("unattend.xml (answer-file)"), "{}", out.stderr);
    let quiet = run(&["scan", dir.path().to_str().unwrap()]);
    assert!(!quiet.stderr.contains("searched"), "{}", quiet.stderr);
}

#[test]
fn fail_on_never_and_exit_zero_report_only_but_keep_exit_2_and_3() {
    for gate in [&["--fail-on", "never"][..], &["--exit-zero"][..]] {
        let mut args = vec!["scan"];
        args.extend(gate);
        let mak = fixture("mak");
        let out = run(&[&args[..], &[mak.as_str()]].concat());
        assert_eq!(out.code, 0, "{gate:?}: findings never make exit 1:\n{}", out.all());
        assert!(
            out.stdout.contains("MG101") && out.stdout.contains("report only"),
            "{}",
            out.stdout
        );
        let malformed = fixture("malformed");
        let out = run(&[&args[..], &[malformed.as_str()]].concat());
        assert_eq!(
            out.code,
            3,
            "{gate:?}: an incomplete scan still exits 3:\n{}",
            out.all()
        );
        let out = run(&[&args[..], &["--config", "/no/such/makguard.toml", mak.as_str()]].concat());
        assert_eq!(
            out.code,
            2,
            "{gate:?}: a configuration error still exits 2:\n{}",
            out.all()
        );
        let json = run(&[&args[..], &["--format", "json", mak.as_str()]].concat());
        assert_eq!(json.json()["summary"]["exit_code"], 0, "{}", json.stdout);
    }
    let out = run(&["scan", "--exit-zero", "--fail-on", "note", &fixture("mak")]);
    assert_eq!(out.code, 2, "--exit-zero and --fail-on conflict:\n{}", out.all());
}

#[test]
fn a_dash_as_report_file_is_standard_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["scan", "--format", "json=-", &fixture("mak")], "", &[]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert_eq!(codes(&out.json()), vec!["MG101"]);
    assert!(!dir.path().join("-").exists(), "no file named `-`");
    let out = run_in(
        dir.path(),
        &["scan", "--format", "json=-", "--format", "text", &fixture("mak")],
        "",
        &[],
    );
    assert_eq!(out.code, 2, "two formats on standard output:\n{}", out.all());
}

#[test]
fn scan_dash_reads_one_file_from_standard_input() {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let answer = std::fs::read_to_string(fixture("mak/unattend.xml")).unwrap();
    let out = run_in(here, &["scan", "-", "--format", "json"], &answer, &[]);
    assert_eq!(out.code, 1, "{}", out.all());
    let report = out.json();
    assert_eq!(codes(&report), vec!["MG101"], "an answer file by its content");
    assert_eq!(report["roots"][0]["path"], "-");
    assert_eq!(findings(&report)[0]["path"], "-");
    assert!(!out.all().contains(SYNTHETIC_MAK));

    // The name picks the kind: the same line is a Setup script's key (MG201), not a text file's.
    let script = format!("slmgr /ipk {SYNTHETIC_MAK}\r\n");
    let as_text = run_in(here, &["scan", "-", "--format", "json"], &script, &[]);
    assert_eq!(codes(&as_text.json()), vec!["MG241"], "{}", as_text.stdout);
    let as_script = run_in(
        here,
        &["scan", "-", "--stdin-filename", "Setup/Scripts/SetupComplete.cmd"],
        &script,
        &[],
    );
    assert_eq!(as_script.code, 1, "{}", as_script.all());
    assert!(
        as_script
            .stdout
            .contains("Setup/Scripts/SetupComplete.cmd:1:12: MG201 [error]"),
        "{}",
        as_script.stdout
    );
    assert!(!as_script.all().contains(SYNTHETIC_MAK));
}

#[test]
fn empty_standard_input_is_incomplete_never_a_pass() {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = run_in(here, &["scan", "-", "--stdin-filename", "unattend.xml"], "", &[]);
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(out.stdout.contains("unattend.xml: MG901 [error]"), "{}", out.stdout);
    assert_eq!(
        run(&["scan", "-", &fixture("mak")]).code,
        2,
        "`-` must be the only PATH"
    );
    assert_eq!(run(&["scan", "--stdin-filename", "x.xml", &fixture("mak")]).code, 2);
    assert_eq!(run(&["fix", "-"]).code, 2, "standard input cannot be fixed");
}

#[test]
fn completions_for_every_shell_know_the_options() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = run(&["completions", shell]);
        assert_eq!(out.code, 0, "{shell}: {}", out.all());
        assert!(out.stdout.contains("stdin-filename"), "{shell}:\n{}", out.stdout);
    }
    assert_eq!(run(&["completions", "tcsh"]).code, 2);
}

#[test]
fn docs_man_pages_are_current() {
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/man");
    let fresh = tempfile::tempdir().unwrap();
    let out = run(&["manpages", fresh.path().to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.all());
    let names = |dir: &std::path::Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    let regenerate = "regenerate them with\n    cargo run -p makguard -- manpages docs/man";
    assert_eq!(
        names(fresh.path()),
        names(&committed),
        "docs/man is out of date; {regenerate}"
    );
    assert!(names(fresh.path()).contains(&"makguard-scan.1".to_string()));
    for name in names(fresh.path()) {
        let want = std::fs::read(fresh.path().join(&name)).unwrap();
        let have = std::fs::read(committed.join(&name)).unwrap_or_default();
        assert!(want == have, "docs/man/{name} is out of date; {regenerate}");
    }
}

#[test]
fn colour_follows_no_color_and_clicolor_force_and_the_flag_wins() {
    let mak = fixture("mak");
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let coloured = |args: &[&str], env: &[(&str, &str)]| {
        let out = run_in(here, args, "", env);
        assert_eq!(out.code, 1, "{}", out.all());
        out.stdout.contains('\u{1b}')
    };
    // NO_COLOR="" is unset as far as the convention goes.
    assert!(coloured(&["scan", &mak], &[("NO_COLOR", ""), ("CLICOLOR_FORCE", "1")]));
    assert!(!coloured(
        &["scan", &mak],
        &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]
    ));
    assert!(
        !coloured(&["scan", &mak], &[("NO_COLOR", "")]),
        "a pipe is not a terminal"
    );
    assert!(!coloured(
        &["scan", "--color", "never", &mak],
        &[("NO_COLOR", ""), ("CLICOLOR_FORCE", "1")]
    ));
    assert!(coloured(&["scan", "--color", "always", &mak], &[("NO_COLOR", "1")]));
}

#[test]
fn an_unwritable_report_file_is_a_usage_error_before_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_folder = dir.path().join("plain-file");
    std::fs::write(&not_a_folder, "").unwrap();
    let mut places = vec![
        dir.path().join("no/such/folder/report.json"),
        not_a_folder.join("report.json"),
        dir.path().to_path_buf(),
    ];
    if cfg!(target_os = "linux") {
        // Read-only even for root, so the test means the same run as root or not.
        places.push(std::path::PathBuf::from("/proc/makguard-report.json"));
    }
    for place in places {
        let spec = format!("json={}", place.display());
        let out = run(&["scan", "--format", "text", "--format", &spec, &fixture("mak")]);
        assert_eq!(out.code, 2, "{}: {}", place.display(), out.all());
        assert!(out.stdout.is_empty(), "nothing was scanned or printed:\n{}", out.stdout);
        assert!(out.stderr.contains("cannot write the json report"), "{}", out.stderr);
    }
    let fine = dir.path().join("report.json");
    let out = run(&["scan", "--format", &format!("json={}", fine.display()), &fixture("mak")]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(fine.is_file());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains("probe"))
        .collect();
    assert!(leftovers.is_empty(), "the write check leaves nothing: {leftovers:?}");
}
