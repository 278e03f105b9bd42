//! A real mount point: the test image captured into a WIM by `wimlib-imagex capture` and
//! mounted read-only by `wimlib-imagex mount` (FUSE). The scan of the mount must give the same
//! findings as the scan of the directory it was captured from.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use makguard_core::{ExitStatus, Severity};
use makguard_scan::{ScanOptions, scan_paths};

/// Unmounts the WIM when the test ends, also when an assertion fails.
struct Mounted {
    dir: PathBuf,
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let status = Command::new("wimlib-imagex").arg("unmount").arg(&self.dir).status();
        if !status.is_ok_and(|s| s.success()) {
            eprintln!("warning: could not unmount {}", self.dir.display());
        }
    }
}

fn wimlib(args: &[&std::ffi::OsStr]) {
    let output = Command::new("wimlib-imagex")
        .args(args)
        .output()
        .expect("run wimlib-imagex");
    assert!(
        output.status.success(),
        "wimlib-imagex {:?} failed: {}",
        args,
        String::from_utf8_lossy(&output.stderr)
    );
}

fn capture_and_mount(image: &Path, dir: &Path) -> Mounted {
    let wim = dir.join("test.wim");
    let mount = dir.join("mnt");
    std::fs::create_dir_all(&mount).unwrap();
    // --unix-data keeps the FIFO and the link as they are on disk.
    wimlib(&[
        "capture".as_ref(),
        image.as_os_str(),
        wim.as_os_str(),
        "makguard-test".as_ref(),
        "--unix-data".as_ref(),
    ]);
    wimlib(&[
        "mount".as_ref(),
        wim.as_os_str(),
        "1".as_ref(),
        mount.as_os_str(),
        "--unix-data".as_ref(),
    ]);
    Mounted { dir: mount }
}

#[test]
fn a_wimlib_mount_gives_the_same_findings_as_its_source_tree() {
    if !require_tool("wimlib-imagex", "the WIM mount test captures and mounts a WIM") {
        return;
    }
    if !Path::new("/dev/fuse").exists() {
        println!("skipped: /dev/fuse is absent, so a WIM cannot be mounted here");
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
        let from_mount = scan_paths(std::slice::from_ref(&mounted.dir), &options);
        assert_eq!(
            rows(&from_mount),
            rows(&from_tree),
            "deep={}\n{}",
            options.deep,
            render(&from_mount)
        );
        assert_eq!(render(&from_mount), render(&from_tree));
        assert_eq!(from_mount.summary, from_tree.summary);
        assert_eq!(from_mount.exit_status(Severity::Error), ExitStatus::Findings);
    }

    let report = scan_paths(std::slice::from_ref(&mounted.dir), &ScanOptions::default());
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
