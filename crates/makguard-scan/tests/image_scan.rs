//! Scans of the test image (tests/common): every planted key with its exact location, the
//! walk's safety (FIFO never opened, link never followed), `--deep`, and exit statuses.

mod common;

use std::path::PathBuf;

use common::*;
use makguard_core::{ExitStatus, ScanReport, Severity};
use makguard_scan::{ScanOptions, scan_paths};

fn scan(root: &std::path::Path, options: &ScanOptions) -> ScanReport {
    scan_paths(&[root.to_path_buf()], options)
}

fn deep() -> ScanOptions {
    ScanOptions {
        deep: true,
        ..ScanOptions::default()
    }
}

#[test]
fn default_scan_finds_every_planted_key_at_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let Some(image) = build(dir.path()) else {
        return;
    };
    let report = scan(&image.root, &ScanOptions::default());
    assert_eq!(rows(&report), expected_default_rows(), "\n{}", render(&report));
    // The FIFO at an answer-file path (MG906) makes the scan incomplete.
    assert_eq!(report.exit_status(Severity::Error), ExitStatus::Incomplete);
    assert_eq!(report.roots.len(), 1);
    let root = &report.roots[0];
    assert!(!root.is_file);
    let image_info = root.image.as_ref().expect("WINDOWS/system32 makes an image root");
    assert_eq!(image_info.root, image.root.to_string_lossy());
}

#[test]
fn deep_scan_adds_the_binary_keys_and_only_those() {
    let dir = tempfile::tempdir().unwrap();
    let Some(image) = build(dir.path()) else {
        return;
    };
    let report = scan(&image.root, &deep());
    let mut expected = expected_default_rows();
    expected.extend(expected_deep_extra_rows());
    expected.sort_by(|a, b| (&a.1, a.2.unwrap_or(0), &a.0).cmp(&(&b.1, b.2.unwrap_or(0), &b.0)));
    assert_eq!(rows(&report), expected, "\n{}", render(&report));
    let binary = report
        .findings
        .iter()
        .find(|f| f.path().display == "WINDOWS/system32/Licensing.dat")
        .unwrap();
    assert!(
        binary
            .message
            .contains(&format!("UTF-16 at byte offset {BINARY_KEY_OFFSET})")),
        "{}",
        binary.message
    );
    assert_eq!((binary.line(), binary.column(), binary.range()), (None, None, None));
    let split = report
        .findings
        .iter()
        .find(|f| f.path().display == "WINDOWS/system32/split.bin")
        .unwrap();
    assert!(
        split
            .message
            .contains(&format!("ASCII at byte offset {SPLIT_KEY_OFFSET})")),
        "{}",
        split.message
    );
}

#[test]
fn the_walk_never_follows_links_or_opens_special_files() {
    let dir = tempfile::tempdir().unwrap();
    let Some(image) = build(dir.path()) else {
        return;
    };
    // Reaching the end proves the FIFO was not opened: opening it for reading would block.
    let report = scan(&image.root, &deep());
    let outside = fingerprint(K_OUTSIDE);
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.key.as_ref().is_none_or(|k| k.key.fingerprint() != outside)),
        "a key behind the link was found"
    );
    let link = report.findings.iter().find(|f| f.rule.code == "MG261").unwrap();
    assert_eq!(link.severity, Severity::Note);
    assert!(link.message.contains("../../outside"), "{}", link.message);
    let skipped = &report.summary.skipped;
    assert_eq!(skipped.get("special-file"), Some(&1), "{skipped:?}");
    assert_eq!(skipped.get("symlink"), Some(&2), "{skipped:?}");
    assert!(
        !report.roots[0]
            .searched
            .iter()
            .any(|p| p.contains("Unattend/unattend.xml"))
    );
    assert!(
        report
            .findings
            .iter()
            .all(|f| !f.path().display.contains("OutsideLink/"))
    );
}

#[test]
fn summary_counts_walked_searched_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let Some(image) = build(dir.path()) else {
        return;
    };
    let report = scan(&image.root, &ScanOptions::default());
    let summary = &report.summary;
    // 23 regular files, 2 links and a FIFO are planted. The SOFTWARE hive is read by the image
    // scan; kernel32.dll (by its extension) and split.bin (by its control bytes) are binary.
    // Licensing.dat has neither NULs nor control bytes in its first block: it is searched as
    // (single-byte) text.
    assert_eq!(summary.files_walked, 26, "{summary:?}");
    assert_eq!(summary.files_scanned, 21, "{summary:?}");
    assert_eq!(summary.skipped.get("not-a-candidate"), Some(&2), "{summary:?}");
    assert_eq!(summary.skipped.get("symlink"), Some(&2), "{summary:?}");
    assert_eq!(summary.skipped.get("special-file"), Some(&1), "{summary:?}");
    assert_eq!(
        summary.files_walked,
        summary.files_scanned + summary.skipped.values().sum::<u64>()
    );
    let searched = &report.roots[0].searched;
    assert!(searched.contains(&"WINDOWS/Setup/Scripts/Activate.PS1".to_string()));
    assert!(!searched.contains(&"WINDOWS/system32/split.bin".to_string()));
    // Licensing.dat is read whole; of the 2 MiB split.bin only the first block that shows it is
    // binary.
    let licensing = (BINARY_KEY_OFFSET + 4096) as u64;
    assert!(
        summary.bytes_read > licensing && summary.bytes_read < licensing + 64 * 1024,
        "{summary:?}"
    );

    let deep_report = scan(&image.root, &deep());
    assert_eq!(deep_report.summary.files_scanned, 23);
    let deep_summary = &deep_report.summary;
    assert_eq!(
        deep_summary.files_walked,
        deep_summary.files_scanned + deep_summary.skipped.values().sum::<u64>()
    );
    assert!(deep_report.summary.bytes_read > 3 * makguard_scan::testing::BINARY_CHUNK_SIZE as u64);
}

#[test]
fn the_non_utf8_name_is_kept_losslessly() {
    let dir = tempfile::tempdir().unwrap();
    let Some(image) = build(dir.path()) else {
        return;
    };
    let report = scan(&image.root, &ScanOptions::default());
    let finding = report
        .findings
        .iter()
        .find(|f| f.path().raw_bytes.is_some())
        .expect("a finding for the non-UTF-8 name");
    assert_eq!(finding.path().raw_bytes.as_deref(), Some(NON_UTF8_NAME));
    assert!(finding.path().display.contains('\u{FFFD}'));
}

#[test]
fn one_worker_and_many_give_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let Some(image) = build(dir.path()) else {
        return;
    };
    let one = scan(
        &image.root,
        &ScanOptions {
            jobs: Some(1),
            ..deep()
        },
    );
    let many = scan(
        &image.root,
        &ScanOptions {
            jobs: Some(8),
            ..deep()
        },
    );
    assert_eq!(one, many);
}

#[test]
fn a_clean_image_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let Some(clean) = build_clean(dir.path()) else {
        return;
    };
    let report = scan(&clean, &deep());
    assert!(report.findings.is_empty(), "\n{}", render(&report));
    assert_eq!(report.exit_status(Severity::Note), ExitStatus::Clean);
    // With --deep the SOFTWARE hive is searched as bytes too.
    assert_eq!(report.summary.files_scanned, 3);
    assert!(report.roots[0].image.is_some());
}

#[test]
fn exclude_globs_narrow_the_scan_and_include_globs_widen_it() {
    let dir = tempfile::tempdir().unwrap();
    let Some(image) = build(dir.path()) else {
        return;
    };
    let options = ScanOptions {
        exclude_globs: vec!["windows/setup".to_string(), "**/*.log".to_string()],
        ..ScanOptions::default()
    };
    let report = scan(&image.root, &options);
    assert!(
        report
            .findings
            .iter()
            .all(|f| !f.path().display.starts_with("WINDOWS/Setup/"))
    );
    assert!(report.findings.iter().all(|f| {
        std::path::Path::new(&f.path().display)
            .extension()
            .is_none_or(|ext| ext != "LOG")
    }));
    assert_eq!(report.summary.skipped.get("excluded"), Some(&1));

    // A Packer template is no candidate by name, but it is text: the default scan reads it.
    let template = "packer/windows.pkr.hcl";
    std::fs::create_dir_all(image.root.join("packer")).unwrap();
    std::fs::write(
        image.root.join(template),
        "variable \"product_key\" {\n  default = \"YNTHT-YF2BV-TTMDY-RHH7J-VCPQD\"\n}\n",
    )
    .unwrap();
    let in_template = |report: &makguard_core::ScanReport| {
        report
            .findings
            .iter()
            .filter(|f| f.path().display == template)
            .map(|f| (f.rule.code, f.line()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        in_template(&scan(&image.root, &ScanOptions::default())),
        vec![("MG241", Some(2))]
    );
    // An include glob makes a file text whatever its content says.
    let blob = "packer/key.bin";
    let mut bytes = vec![0u8; 64];
    bytes.extend_from_slice(b"\nProductKey=YNTHT-YF2BV-TTMDY-RHH7J-VCPQD\n");
    std::fs::write(image.root.join(blob), bytes).unwrap();
    let in_blob =
        |report: &makguard_core::ScanReport| report.findings.iter().filter(|f| f.path().display == blob).count();
    assert_eq!(in_blob(&scan(&image.root, &ScanOptions::default())), 0);
    let options = ScanOptions {
        include_globs: vec!["**/key.bin".to_string()],
        ..ScanOptions::default()
    };
    let widened = scan(&image.root, &options);
    assert_eq!(in_blob(&widened), 1);
    // Every default candidate is still searched.
    let default_codes = scan(&image.root, &ScanOptions::default()).findings.len();
    assert_eq!(widened.findings.len(), default_codes + 1);
}

#[test]
fn backup_copies_are_searched_like_their_originals() {
    let dir = tempfile::tempdir().unwrap();
    let Some(image) = build(dir.path()) else {
        return;
    };
    let answer = "<?xml version=\"1.0\"?>\n<unattend xmlns=\"urn:schemas-microsoft-com:unattend\">\n  <settings pass=\"specialize\">\n    <component name=\"Microsoft-Windows-Shell-Setup\" processorArchitecture=\"amd64\">\n      <ProductKey>YNTHT-YF2BV-TTMDY-RHH7J-VCPQD</ProductKey>\n    </component>\n  </settings>\n</unattend>\n";
    for backup in [
        "Windows/Panther/unattend.xml.makguard-orig",
        "Windows/Panther/Unattend.XML.bak",
    ] {
        std::fs::create_dir_all(image.root.join("Windows/Panther")).unwrap();
        std::fs::write(image.root.join(backup), answer).unwrap();
    }
    let report = scan(&image.root, &ScanOptions::default());
    for backup in [
        "Windows/Panther/unattend.xml.makguard-orig",
        "Windows/Panther/Unattend.XML.bak",
    ] {
        let codes: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.path().display == backup)
            .map(|f| f.rule.code)
            .collect();
        assert_eq!(codes, vec!["MG101"], "{backup}");
    }
}

#[test]
fn a_single_file_is_reported_by_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let Some(image) = build(dir.path()) else {
        return;
    };
    let file = image.root.join("WINDOWS/Setup/Scripts/SetupComplete.CMD");
    let report = scan(&file, &ScanOptions::default());
    assert!(report.roots[0].is_file);
    let found: Vec<_> = rows(&report);
    assert_eq!(
        found,
        vec![
            row("MG201", "SetupComplete.CMD", Some(2), Some(K_SETUPCOMPLETE)),
            row("MG202", "SetupComplete.CMD", Some(3), Some(LEGACY_SCRIPT)),
        ]
    );
}

#[test]
fn several_roots_keep_their_findings_apart() {
    let dir = tempfile::tempdir().unwrap();
    let Some(image) = build(dir.path()) else {
        return;
    };
    let Some(clean) = build_clean(dir.path()) else {
        return;
    };
    let report = scan_paths(&[clean.clone(), image.root.clone()], &ScanOptions::default());
    assert_eq!(report.roots.len(), 2);
    assert!(report.findings.iter().all(|f| f.location.root == 1));
    assert!(report.roots[0].searched.iter().all(|p| p.starts_with("Windows/")));
}

#[test]
fn a_folder_of_images_finds_each_image_root() {
    let dir = tempfile::tempdir().unwrap();
    let mounts = dir.path().join("mounts");
    std::fs::create_dir_all(&mounts).unwrap();
    let Some(image) = build(&mounts) else {
        return;
    };
    let report = scan(&mounts, &ScanOptions::default());
    assert!(report.roots[0].image.is_some());
    // The link's target folder now lies inside the scanned tree: no MG261.
    let expected: Vec<Row> = expected_default_rows()
        .into_iter()
        .filter(|row| row.0 != "MG261")
        .map(|(code, path, line, key)| (code, format!("image/{path}"), line, key))
        .collect();
    let found: Vec<Row> = rows(&report)
        .into_iter()
        .filter(|r| r.1.starts_with("image/"))
        .collect();
    assert_eq!(found, expected);
    assert!(report.findings.iter().any(|f| f.path().display == "outside/secret.txt"));
    drop(image);
}

#[test]
fn a_missing_path_is_unreadable_and_exit_three() {
    let report = scan(
        &PathBuf::from("/nonexistent/makguard/unattend.xml"),
        &ScanOptions::default(),
    );
    assert_eq!(rows(&report), vec![row("MG901", "unattend.xml", None, None)]);
    assert_eq!(report.exit_status(Severity::Error), ExitStatus::Incomplete);
    let allowed = ScanReport {
        allow_incomplete: true,
        ..report
    };
    // Allowed, the gap is still an error finding, but no longer exit 3.
    assert_eq!(allowed.exit_status(Severity::Error), ExitStatus::Findings);
}

#[test]
fn snapshot_of_the_whole_test_image() {
    let dir = tempfile::tempdir().unwrap();
    let Some(image) = build(dir.path()) else {
        return;
    };
    let report = scan(&image.root, &deep());
    let info = report.image().expect("image root");
    let text = format!(
        "image: {}\nsummary: {:?}\nexit: {:?}\n\n{}",
        info.describe(),
        report.summary,
        report.exit_status(Severity::Error),
        render(&report)
    );
    for key in [K_AUTOUNATTEND, K_C2R, K_BINARY, K_SPLIT, LEGACY_SCRIPT] {
        assert!(!text.contains(key), "a key in full in the snapshot");
    }
    insta::assert_snapshot!("test_image_deep", text);
}

const PKEYCONFIG_FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/pkeyconfig/pkeyconfig.xrm-ms"
);

#[test]
fn pkeyconfig_files_classify_keys_inside_and_outside_image_roots() {
    use makguard_core::KeyClass;

    let dir = tempfile::tempdir().unwrap();
    let Some(image) = build(dir.path()) else {
        return;
    };
    let options = ScanOptions {
        key_config_files: vec![PathBuf::from(PKEYCONFIG_FIXTURE)],
        ..ScanOptions::default()
    };
    let class_of = |report: &ScanReport, path: &str| {
        report
            .findings
            .iter()
            .find(|f| f.path().display == path)
            .and_then(|f| f.key.as_ref())
            .map(makguard_core::KeyInfo::class)
    };
    // Synthetic group 990001 is a MAK in the fixture's key configuration.
    let in_image = scan(&image.root, &options);
    assert_eq!(class_of(&in_image, "AUTOUNATTEND.xml"), Some(KeyClass::Mak));
    let loose = image.root.join("WINDOWS/Setup/Scripts/SetupComplete.CMD");
    let single = scan(&loose, &options);
    assert_eq!(class_of(&single, "SetupComplete.CMD"), Some(KeyClass::Mak));
    let plain_tree = scan(&image.root.join("WINDOWS/Setup"), &options);
    assert_eq!(class_of(&plain_tree, "Scripts/SetupComplete.CMD"), Some(KeyClass::Mak));
    assert_eq!(
        class_of(&scan(&loose, &ScanOptions::default()), "SetupComplete.CMD"),
        Some(KeyClass::NonKms)
    );

    let missing = ScanOptions {
        key_config_files: vec![dir.path().join("missing.xrm-ms")],
        ..ScanOptions::default()
    };
    let report = scan(&loose, &missing);
    let unreadable: Vec<_> = report.findings.iter().filter(|f| f.rule.code == "MG901").collect();
    assert_eq!(unreadable.len(), 1, "\n{}", render(&report));
    assert!(unreadable[0].path().display.ends_with("missing.xrm-ms"));
    assert_eq!(report.exit_status(Severity::Error), ExitStatus::Incomplete);
}

#[test]
fn text_over_the_size_cap_is_still_searched_to_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let Some(image) = build(dir.path()) else {
        return;
    };
    let options = ScanOptions {
        size_cap: 120,
        ..ScanOptions::default()
    };
    let report = scan(&image.root, &options);
    let log_rows = |report: &ScanReport| {
        report
            .findings
            .iter()
            .filter(|f| f.path().display == "WINDOWS/Logs/Deploy.LOG")
            .map(|f| {
                (
                    f.rule.code,
                    f.line(),
                    f.column(),
                    f.range(),
                    f.key.as_ref().map(|k| k.key.fingerprint()),
                )
            })
            .collect::<Vec<_>>()
    };
    // Streamed in bounded memory, other text finds exactly what reading it whole finds.
    let whole = log_rows(&scan(&image.root, &ScanOptions::default()));
    assert_eq!(whole.len(), 2);
    assert_eq!(log_rows(&report), whole);
    assert!(!report.summary.skipped.contains_key("over-size-cap"));
    let script: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.path().display == "WINDOWS/Setup/Scripts/SetupComplete.CMD")
        .map(|f| (f.rule.code, f.line(), f.key.as_ref().map(|k| k.key.fingerprint())))
        .collect();
    // Searched as bytes: the checksum-valid key is found, the legacy literal needs a key word.
    assert_eq!(script, vec![("MG251", None, Some(fingerprint(K_SETUPCOMPLETE)))]);
}
