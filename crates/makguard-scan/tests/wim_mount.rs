//! A real mount point: the test image captured into a WIM by `wimlib-imagex capture` and
//! mounted read-only by `wimlib-imagex mount` (FUSE). The scan of the mount must give the same
//! findings as the scan of the directory it was captured from.

mod common;

use std::path::Path;

use common::*;
use makguard_core::{ExitStatus, Severity};
use makguard_scan::{ScanOptions, scan_paths};
use makguard_testkit::{WimMount, fuse_available, wim_capture};

fn capture_and_mount(image: &Path, dir: &Path) -> WimMount {
    let wim = dir.join("test.wim");
    let mount = dir.join("mnt");
    std::fs::create_dir_all(&mount).unwrap();
    // --unix-data keeps the FIFO and the link as they are on disk.
    wim_capture(image, &wim, "makguard-test", &["--unix-data"]);
    WimMount::new(&wim, &mount, false, &["--unix-data"])
}

#[test]
fn a_wimlib_mount_gives_the_same_findings_as_its_source_tree() {
    if !require_tool("wimlib-imagex", "the WIM mount test captures and mounts a WIM") {
        return;
    }
    if !fuse_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(image) = build(dir.path()) else {
        return;
    };
    // A WIM stores names as UTF-16: wimlib refuses a name that is not valid UTF-8.
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        std::fs::remove_file(image.root.join(std::ffi::OsStr::from_bytes(NON_UTF8_NAME))).unwrap();
    }
    let mounted = capture_and_mount(&image.root, dir.path());

    for options in [
        ScanOptions::default(),
        ScanOptions {
            deep: true,
            ..ScanOptions::default()
        },
    ] {
        let from_tree = scan_paths(std::slice::from_ref(&image.root), &options);
        let from_mount = scan_paths(&[mounted.dir().to_path_buf()], &options);
        assert_eq!(
            rows(&from_mount),
            rows(&from_tree),
            "deep={}\n{}",
            options.deep,
            render(&from_mount)
        );
        assert_eq!(render(&from_mount), render(&from_tree));
        assert_eq!(from_mount.summary, from_tree.summary);
        // The FIFO at an answer-file path (MG906), kept by --unix-data, makes both incomplete.
        assert_eq!(from_mount.exit_status(Severity::Error), ExitStatus::Incomplete);
    }

    let report = scan_paths(&[mounted.dir().to_path_buf()], &ScanOptions::default());
    let mut expected = expected_default_rows();
    let non_utf8 = String::from_utf8_lossy(NON_UTF8_NAME).into_owned();
    expected.retain(|row| row.1 != non_utf8);
    assert_eq!(rows(&report), expected, "\n{}", render(&report));
    assert_eq!(
        report.summary.skipped.get("special-file"),
        Some(&1),
        "the FIFO survives the WIM"
    );
    assert!(
        report.findings.iter().any(|f| f.rule.code == "MG261"),
        "the link survives the WIM"
    );
    let info = report.image().expect("the mount is an image root");
    assert_eq!(info.edition_id.as_deref(), Some("Enterprise"));
}
