//! The end-to-end round trip on a real WIM: capture a test image with MAKs in files and an
//! installed MAK in its SOFTWARE hive (written by hivex), `wimlib-imagex mountrw`, fix through
//! the library as `makguard fix` does, `unmount --commit`, mount again and scan: only the
//! registry finding remains, with its remediation, and every other byte is the original.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use common::*;
use makguard_core::{ScanReport, Severity, text};
use makguard_fix::{ApplyOptions, FileStatus, KeyChoice, apply, plan};
use makguard_scan::{ScanOptions, scan_paths};
use makguard_testkit::{WimMount, fuse_available, require_tool, run_tool as run, wim_capture};

const MINIMAL_HIVE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpus/hives/libguestfs__hivex__images__minimal"
);

fn reg_hex(bytes: &[u8]) -> String {
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("hex:{}", hex.join(","))
}

/// A 164-byte `DigitalProductId` holding an N-form key (key-format.md §5.1).
fn digital_product_id(key_text: &str) -> Vec<u8> {
    let value = key(key_text).decode().unwrap().value;
    let mut blob = vec![0u8; 164];
    blob[..4].copy_from_slice(&164u32.to_le_bytes());
    blob[4..6].copy_from_slice(&3u16.to_le_bytes());
    blob[52..67].copy_from_slice(&value.to_le_bytes()[..15]);
    blob[66] |= 0x08;
    blob
}

/// The SOFTWARE hive of a Windows 11 Enterprise 23H2 image with a MAK installed, by hivex.
fn build_software_hive(config_dir: &Path) {
    fs::create_dir_all(config_dir).unwrap();
    let hive = config_dir.join("SOFTWARE");
    fs::copy(MINIMAL_HIVE, &hive).expect("hivex's minimal hive from ../shared/corpus");
    let reg = format!(
        "Windows Registry Editor Version 5.00\n\n\
[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft]\n\n\
[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT]\n\n\
[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion]\n\
\"EditionID\"=\"Enterprise\"\n\"ProductName\"=\"Windows 10 Enterprise\"\n\"CurrentBuild\"=\"22631\"\n\
\"CurrentBuildNumber\"=\"22631\"\n\"InstallationType\"=\"Client\"\n\"DigitalProductId\"={}\n\n",
        reg_hex(&digital_product_id(MAK_A))
    );
    let reg_file = config_dir.parent().unwrap().join("merge.reg");
    fs::write(&reg_file, reg).unwrap();
    run(
        "hivexregedit",
        &[
            "--merge".as_ref(),
            "--prefix".as_ref(),
            "HKEY_LOCAL_MACHINE\\SOFTWARE".as_ref(),
            hive.as_os_str(),
            reg_file.as_os_str(),
        ],
    );
    fs::remove_file(&reg_file).unwrap();
}

/// Lays out the test image and returns every file's bytes by relative path.
fn build_image(root: &Path) -> BTreeMap<String, Vec<u8>> {
    build_software_hive(&root.join("Windows/System32/config"));
    let files: Vec<(&str, Vec<u8>)> = vec![
        (
            "Windows/Panther/unattend.xml",
            Variant::Utf16LeBom.encode(&format!(
                "<?xml version=\"1.0\" encoding=\"utf-16\"?>\n<unattend xmlns=\"urn:schemas-microsoft-com:unattend\">\n  <settings pass=\"specialize\">\n    <component name=\"Microsoft-Windows-Shell-Setup\" processorArchitecture=\"amd64\" publicKeyToken=\"31bf3856ad364e35\" language=\"neutral\" versionScope=\"nonSxS\">\n      <ProductKey>{MAK_B}</ProductKey>\n    </component>\n  </settings>\n</unattend>\n"
            )),
        ),
        (
            "Windows/Setup/Scripts/SetupComplete.cmd",
            Variant::Utf8.encode(&format!(
                "@echo off\ncscript //b %windir%\\system32\\slmgr.vbs /ipk {MAK_C}\ncscript //b %windir%\\system32\\slmgr.vbs /ato\n"
            )),
        ),
        ("Windows/System32/drivers/etc/hosts", Variant::Utf8.encode("127.0.0.1 localhost\n")),
        ("Users/Public/readme.txt", Variant::Utf8Bom.encode("Nothing to see here.\n")),
        ("Windows/System32/tool.bin", (0u8..=255).cycle().take(4096).collect()),
    ];
    for (relative, bytes) in files {
        let path = root.join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }
    read_tree(root)
}

fn read_tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
                out.insert(relative, fs::read(&path).unwrap());
            }
        }
    }
    out
}

fn error_codes(report: &ScanReport) -> Vec<(String, String)> {
    let mut codes: Vec<(String, String)> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| (f.rule.code.to_string(), f.path().display.clone()))
        .collect();
    codes.sort();
    codes
}

#[test]
fn wim_round_trip_fixes_files_and_leaves_only_the_installed_key() {
    if !require_tool("wimlib-imagex") || !require_tool("hivexregedit") {
        return;
    }
    if !fuse_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("image");
    let original = build_image(&source);
    let wim = work.path().join("test.wim");
    wim_capture(&source, &wim, "makguard-test", &[]);

    // Mount read-write, scan, fix, commit.
    let mount_dir = work.path().join("mnt");
    let mount = WimMount::new(&wim, &mount_dir, true, &[]);
    let mut report = scan_paths(std::slice::from_ref(&mount_dir), &ScanOptions::default());
    let before = error_codes(&report);
    assert!(
        before.iter().any(|(_, p)| p == "Windows/Panther/unattend.xml"),
        "{before:?}"
    );
    assert!(
        before
            .iter()
            .any(|(_, p)| p == "Windows/Setup/Scripts/SetupComplete.cmd"),
        "{before:?}"
    );
    assert_eq!(report.image().and_then(|i| i.edition_id.as_deref()), Some("Enterprise"));
    let unfixable = plan(&mut report, &KeyChoice::default());
    let log = apply(&report, &ApplyOptions::default()).unwrap();
    assert_eq!(log.files.len(), 2, "{}", log.to_json());
    assert!(
        log.files.iter().all(|f| f.status == FileStatus::Written),
        "{}",
        log.to_json()
    );
    // Installed keys are not file edits: plan never attaches a fix to them.
    assert!(
        report
            .findings
            .iter()
            .filter(|f| f.rule.code.starts_with("MG3"))
            .all(|f| f.fix.is_none())
    );
    assert!(unfixable.is_empty(), "{unfixable:?}");
    mount.unmount(true);

    // Mount again: only the installed key remains, with its remediation.
    let check_dir = work.path().join("check");
    let mount = WimMount::new(&wim, &check_dir, false, &[]);
    let mut after = scan_paths(std::slice::from_ref(&check_dir), &ScanOptions::default());
    let remaining = error_codes(&after);
    assert_eq!(remaining.len(), 1, "{remaining:?}");
    assert!(remaining[0].0.starts_with("MG3"), "{remaining:?}");
    let installed = after.findings.iter().find(|f| f.rule.code == remaining[0].0).unwrap();
    let remediation = installed.remediation().unwrap_or_default();
    assert!(remediation.contains(ENTERPRISE_GVLK), "{remediation}");
    // A second run has nothing to fix.
    assert!(plan(&mut after, &KeyChoice::default()).is_empty());
    assert!(after.findings.iter().all(|f| f.fix.is_none()));

    // Every byte is the original except the key spans the change log names.
    let fixed = read_tree(&check_dir);
    assert_eq!(fixed.keys().collect::<Vec<_>>(), original.keys().collect::<Vec<_>>());
    for (relative, old) in &original {
        let new = &fixed[relative];
        match log.files.iter().find(|f| &f.path == relative) {
            None => assert_eq!(new, old, "{relative} changed"),
            Some(change) => {
                assert_eq!(new.len(), old.len());
                let ranges = change.changed_byte_ranges();
                for (i, (a, b)) in old.iter().zip(new).enumerate() {
                    if !ranges.iter().any(|r| r.start <= i && i < r.end) {
                        assert_eq!(a, b, "{relative}: byte {i} outside the key span changed");
                    }
                }
                assert!(text::decode(new).text.contains(ENTERPRISE_GVLK), "{relative}");
            }
        }
    }
    mount.unmount(false);
}
