//! Files that cannot be read become `MG901` findings (exit 3) and the scan goes on.
// Two of the three cases need Unix or Linux; elsewhere their imports go unused.
#![cfg_attr(not(target_os = "linux"), allow(unused_imports))]

mod common;

use std::io::{self, Read};

use common::*;
use makguard_core::{ExitStatus, FindingPath, Severity};
use makguard_scan::testing::{BINARY_CHUNK_SIZE, scan_binary};
use makguard_scan::{FileContext, ScanOptions, scan_paths};

#[cfg(unix)]
#[test]
fn a_chmod_000_candidate_is_mg901_and_the_scan_goes_on() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let Some(image) = build(dir.path()) else {
        return;
    };
    let locked = image.root.join("WINDOWS/Setup/Scripts/SetupComplete.CMD");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::File::open(&locked).is_ok() {
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o644)).unwrap();
        println!("skipped: running as root, which reads a chmod 000 file anyway (see the /proc/self/mem test)");
        return;
    }
    let report = scan_paths(std::slice::from_ref(&image.root), &ScanOptions::default());
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o644)).unwrap();
    let unreadable: Vec<_> = report.findings.iter().filter(|f| f.rule.code == "MG901").collect();
    assert_eq!(unreadable.len(), 1);
    assert_eq!(unreadable[0].path().display, "WINDOWS/Setup/Scripts/SetupComplete.CMD");
    assert!(
        report.findings.iter().any(|f| f.rule.code == "MG211"),
        "the scan went on"
    );
    assert_eq!(report.exit_status(Severity::Error), ExitStatus::Incomplete);
}

/// `/proc/self/mem` is a regular file that any process may open but whose first page cannot be
/// read (address 0 is never mapped): a real read error that also happens as root.
#[cfg(target_os = "linux")]
#[test]
fn a_read_error_is_mg901_and_exit_three() {
    let mem = std::path::PathBuf::from("/proc/self/mem");
    for deep in [false, true] {
        let options = ScanOptions {
            deep,
            ..ScanOptions::default()
        };
        let report = scan_paths(std::slice::from_ref(&mem), &options);
        let codes: Vec<_> = report
            .findings
            .iter()
            .map(|f| (f.rule.code, f.path().display.as_str()))
            .collect();
        assert_eq!(codes, vec![("MG901", "mem")], "deep={deep}");
        assert_eq!(report.exit_status(Severity::Error), ExitStatus::Incomplete);
        let allowed = ScanOptions {
            allow_incomplete: true,
            ..options
        };
        let report = scan_paths(std::slice::from_ref(&mem), &allowed);
        assert!(report.allow_incomplete);
        assert_ne!(report.exit_status(Severity::Error), ExitStatus::Incomplete);
    }
}

/// A reader that yields `data` and then fails, like a disk error in the middle of a file.
struct FailingReader {
    data: io::Cursor<Vec<u8>>,
}

impl Read for FailingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.data.read(buf)? {
            0 => Err(io::Error::other("simulated media error")),
            n => Ok(n),
        }
    }
}

#[test]
fn a_failure_mid_file_keeps_the_keys_read_before_it() {
    let mut data = vec![0x01u8; 3 * BINARY_CHUNK_SIZE];
    data[BINARY_CHUNK_SIZE + 7..BINARY_CHUNK_SIZE + 7 + K_BINARY.len()].copy_from_slice(K_BINARY.as_bytes());
    let path = FindingPath::new("big.bin");
    let ctx = FileContext {
        path: &path,
        key_config: None,
    };
    let mut findings = Vec::new();
    let result = scan_binary(
        FailingReader {
            data: io::Cursor::new(data),
        },
        &ctx,
        &mut findings,
    );
    assert!(result.is_err());
    assert_eq!(findings.len(), 1);
    assert_eq!(
        findings[0].key.as_ref().unwrap().key.fingerprint(),
        fingerprint(K_BINARY)
    );
}
