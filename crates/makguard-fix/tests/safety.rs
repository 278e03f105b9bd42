//! Write safety: permissions kept, links and paths outside the root refused, stale findings
//! skipped, backups, single-file roots, and leftover temporary files cleaned up.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use makguard_core::text;
use makguard_core::{RootReport, ScanReport, rules};
use makguard_fix::{ApplyOptions, FileStatus, KeyChoice, apply, cleanup_stale_temp_files, plan};

fn answer_file() -> String {
    format!("<?xml version=\"1.0\"?>\n<unattend>\n  <Key>{MAK_A}</Key>\n</unattend>\n")
}

/// Writes `relative` under `root` and returns a planned report for `report_root`.
fn planned_report(report_root: &Path, relative: &str, bytes: &[u8]) -> ScanReport {
    let findings = findings_for(relative, bytes, &rules::UNATTEND_NON_KMS_KEY, &Hints::default());
    assert!(!findings.is_empty());
    let mut report = report(report_root, Some(enterprise_image("img")), findings);
    // The user names the key: these tests are about where fix may write, and some of their
    // paths lie outside the image's installation, which the image's edition does not judge.
    let choice = KeyChoice::new(None, Some(ENTERPRISE_GVLK), false).unwrap();
    assert!(plan(&mut report, &choice).is_empty());
    report
}

fn status_of(report: &ScanReport, options: &ApplyOptions) -> FileStatus {
    let log = apply(report, options).unwrap();
    assert_eq!(log.files.len(), 1);
    log.files[0].status.clone()
}

#[cfg(unix)]
#[test]
fn permissions_are_kept() {
    use std::os::unix::fs::PermissionsExt;
    for mode in [0o640, 0o444, 0o755] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("unattend.xml");
        let bytes = Variant::Utf8.encode(&answer_file());
        fs::write(&path, &bytes).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        let report = planned_report(dir.path(), "unattend.xml", &bytes);
        assert_eq!(
            status_of(&report, &ApplyOptions::default()),
            FileStatus::Written,
            "mode {mode:o}"
        );
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o7777, mode);
        assert!(fs::read_to_string(&path).unwrap().contains(ENTERPRISE_GVLK));
    }
}

#[cfg(unix)]
#[test]
fn owner_and_group_are_kept_where_the_process_may_set_them() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("unattend.xml");
    let bytes = Variant::Utf8.encode(&answer_file());
    fs::write(&path, &bytes).unwrap();
    // Only root may give a file away; anyone else keeps files they own, which is all they can fix.
    if std::os::unix::fs::chown(&path, Some(65534), Some(65534)).is_err() {
        println!("skipped: giving a file to another owner needs root");
        return;
    }
    let report = planned_report(dir.path(), "unattend.xml", &bytes);
    assert_eq!(status_of(&report, &ApplyOptions::default()), FileStatus::Written);
    let meta = fs::metadata(&path).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (65534, 65534));
    assert!(fs::read_to_string(&path).unwrap().contains(ENTERPRISE_GVLK));
}

#[cfg(unix)]
#[test]
fn symlinks_are_never_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("real.xml");
    let bytes = Variant::Utf8.encode(&answer_file());
    fs::write(&target, &bytes).unwrap();
    std::os::unix::fs::symlink(&target, dir.path().join("unattend.xml")).unwrap();
    let report = planned_report(dir.path(), "unattend.xml", &bytes);
    let status = status_of(&report, &ApplyOptions::default());
    assert!(
        matches!(&status, FileStatus::Skipped(r) if r.contains("symbolic link")),
        "{status:?}"
    );
    assert_eq!(fs::read(&target).unwrap(), bytes);
    assert!(
        fs::symlink_metadata(dir.path().join("unattend.xml"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[cfg(unix)]
#[test]
fn directories_linked_outside_the_root_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let bytes = Variant::Utf8.encode(&answer_file());
    fs::write(outside.path().join("unattend.xml"), &bytes).unwrap();
    std::os::unix::fs::symlink(outside.path(), root.path().join("linked")).unwrap();
    let report = planned_report(root.path(), "linked/unattend.xml", &bytes);
    let status = status_of(&report, &ApplyOptions::default());
    assert!(
        matches!(&status, FileStatus::Skipped(r) if r.contains("outside the root")),
        "{status:?}"
    );
    assert_eq!(fs::read(outside.path().join("unattend.xml")).unwrap(), bytes);
}

#[test]
fn dot_dot_paths_are_refused() {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("root");
    fs::create_dir(&root).unwrap();
    let bytes = Variant::Utf8.encode(&answer_file());
    fs::write(base.path().join("unattend.xml"), &bytes).unwrap();
    let report = planned_report(&root, "../unattend.xml", &bytes);
    let status = status_of(&report, &ApplyOptions::default());
    assert!(
        matches!(&status, FileStatus::Skipped(r) if r.contains("leaves its root")),
        "{status:?}"
    );
    assert_eq!(fs::read(base.path().join("unattend.xml")).unwrap(), bytes);
}

#[test]
fn a_file_changed_since_the_scan_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("unattend.xml");
    let bytes = Variant::Utf16LeBom.encode(&answer_file());
    fs::write(&path, &bytes).unwrap();
    let report = planned_report(dir.path(), "unattend.xml", &bytes);
    // Someone inserts a line above the key after the scan.
    let moved = Variant::Utf16LeBom.encode(&answer_file().replace("<unattend>", "<unattend>\n  <!-- x -->"));
    fs::write(&path, &moved).unwrap();
    let status = status_of(&report, &ApplyOptions::default());
    assert!(
        matches!(&status, FileStatus::Skipped(r) if r.contains("changed since the scan")),
        "{status:?}"
    );
    assert_eq!(fs::read(&path).unwrap(), moved);
}

#[test]
fn text_that_does_not_decode_losslessly_is_not_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("unattend.xml");
    let mut bytes = Variant::Utf16LeBom.encode(&answer_file());
    bytes.extend_from_slice(&[0x00, 0xD8]); // an unpaired high surrogate
    fs::write(&path, &bytes).unwrap();
    let report = planned_report(dir.path(), "unattend.xml", &bytes);
    let status = status_of(&report, &ApplyOptions::default());
    assert!(
        matches!(&status, FileStatus::Skipped(r) if r.contains("losslessly")),
        "{status:?}"
    );
    assert_eq!(fs::read(&path).unwrap(), bytes);
}

#[test]
fn backups_hold_the_original_and_are_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("unattend.xml");
    let bytes = Variant::Utf8Bom.encode(&answer_file());
    fs::write(&path, &bytes).unwrap();
    let report = planned_report(dir.path(), "unattend.xml", &bytes);
    let options = ApplyOptions {
        dry_run: false,
        backup_suffix: Some(".bak".into()),
        ..ApplyOptions::default()
    };
    let log = apply(&report, &options).unwrap();
    assert_eq!(log.files[0].status, FileStatus::Written);
    let backup = dir.path().join("unattend.xml.bak");
    assert_eq!(log.files[0].backup.as_deref(), Some(backup.to_str().unwrap()));
    assert_eq!(fs::read(&backup).unwrap(), bytes);

    // A second fix with the same suffix would overwrite the first backup: refused.
    fs::write(&path, &bytes).unwrap();
    let status = status_of(&report, &options);
    assert!(
        matches!(&status, FileStatus::Skipped(r) if r.contains("backup")),
        "{status:?}"
    );
    assert_eq!(fs::read(&path).unwrap(), bytes);
}

#[test]
fn a_single_file_root_is_fixed_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("autounattend.xml");
    let bytes = Variant::Utf16BeBom.encode(&answer_file());
    fs::write(&path, &bytes).unwrap();
    let report = planned_report(&path, "autounattend.xml", &bytes);
    assert!(report.roots[0].is_file);
    assert_eq!(status_of(&report, &ApplyOptions::default()), FileStatus::Written);
    assert!(text::decode(&fs::read(&path).unwrap()).text.contains(ENTERPRISE_GVLK));
}

#[test]
fn findings_resolve_against_their_own_root() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let bytes = Variant::Utf8.encode(&answer_file());
    for dir in [&first, &second] {
        fs::write(dir.path().join("unattend.xml"), &bytes).unwrap();
    }
    let mut report = planned_report(first.path(), "unattend.xml", &bytes);
    report.roots.push(RootReport {
        path: second.path().to_string_lossy().into_owned(),
        image: Some(enterprise_image("img2")),
        searched: Vec::new(),
        is_file: false,
        container: None,
        policy: None,
    });
    let mut second_finding = report.findings[0].clone();
    second_finding.location.root = 1;
    report.findings.insert(0, second_finding);
    let log = apply(&report, &ApplyOptions::default()).unwrap();
    assert_eq!(log.files.len(), 2);
    assert!(log.files.iter().all(|f| f.status == FileStatus::Written));
    for dir in [&first, &second] {
        assert!(
            fs::read_to_string(dir.path().join("unattend.xml"))
                .unwrap()
                .contains(ENTERPRISE_GVLK)
        );
    }
}

#[test]
fn stale_temporary_files_are_removed_by_name() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("sub")).unwrap();
    // Process ids above the kernel's limit (pid_max is at most 2^22) belong to no process.
    let leftovers = [
        ".unattend.xml.makguard-tmp-999999998-0",
        "sub/.pid.txt.makguard-orig.makguard-tmp-999999999-17",
    ];
    let keep = [
        "unattend.xml",
        ".hidden",
        "sub/.x.makguard-tmp-1",
        "sub/makguard-tmp-1-2",
        // A running process's temporary file may be in use: this test's own process.
        &format!(".unattend.xml.makguard-tmp-{}-0", std::process::id()),
    ];
    for name in leftovers.iter().chain(&keep) {
        fs::write(dir.path().join(name), b"x").unwrap();
    }
    assert_eq!(cleanup_stale_temp_files(dir.path()), 2);
    for name in leftovers {
        assert!(!dir.path().join(name).exists(), "{name}");
    }
    for name in keep {
        assert!(dir.path().join(name).exists(), "{name}");
    }
}

#[test]
fn a_successful_write_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = Variant::Utf8.encode(&answer_file());
    fs::write(dir.path().join("unattend.xml"), &bytes).unwrap();
    let report = planned_report(dir.path(), "unattend.xml", &bytes);
    assert_eq!(status_of(&report, &ApplyOptions::default()), FileStatus::Written);
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["unattend.xml".to_string()]);
}
