//! A damaged, dirty, missing, foreign or unreadable SOFTWARE hive is reported (MG903, MG913,
//! MG915, MG901) and never panics or passes as clean.

mod common_hive;

use std::path::Path;

use common_hive::{build_image_root, digital_product_id, enterprise_identity_values, reg_hex};
use makguard_core::ProductKey;
use makguard_scan::testing::{ImageScan, scan_image_root};

const HIVE_PATH: &str = "Windows/System32/config/SOFTWARE";

fn mak_reg() -> String {
    let value = ProductKey::parse("6QWQ4-8NRCW-KHGHV-CR226-3PPQC")
        .unwrap()
        .decode()
        .unwrap()
        .value;
    format!(
        "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion]\n{}\n\"DigitalProductId\"={}\n",
        enterprise_identity_values(),
        reg_hex("hex", &digital_product_id(value, true))
    )
}

fn codes(scan: &ImageScan) -> Vec<&'static str> {
    scan.findings.iter().map(|f| f.rule.code).collect()
}

#[test]
fn truncated_hives_are_mg903_at_every_length() {
    if !common_hive::require_tool("hivexregedit") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let hive = build_image_root(dir.path(), &mak_reg(), false);
    let full = std::fs::read(&hive).unwrap();
    let intact = scan_image_root(dir.path(), "img", &[]);
    assert_eq!(codes(&intact), ["MG304"], "{:#?}", intact.findings);

    let mut lengths: Vec<usize> = (0..full.len()).step_by(509).collect();
    lengths.extend([4095, 4096, 4097, full.len() - 1]);
    for len in lengths {
        std::fs::write(&hive, &full[..len]).unwrap();
        let scan = scan_image_root(dir.path(), "img", &[]);
        let corrupt: Vec<_> = scan.findings.iter().filter(|f| f.rule.code == "MG903").collect();
        assert!(
            !corrupt.is_empty(),
            "a hive cut to {len} of {} bytes was not reported: {:#?}",
            full.len(),
            scan.findings
        );
        assert_eq!(corrupt[0].path().display, HIVE_PATH);
        assert_eq!(corrupt[0].severity, makguard_core::Severity::Error);
        assert!(scan.findings.iter().all(|f| {
            f.key
                .as_ref()
                .is_none_or(|k| !f.message.contains(k.key.reveal_unmasked()))
        }));
    }
}

#[test]
fn garbage_and_empty_hives_are_mg903() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("Windows/System32/config");
    std::fs::create_dir_all(&config).unwrap();
    for bytes in [
        Vec::new(),
        b"regf".to_vec(),
        (0..20_000u32).map(|i| (i * 7919 % 251) as u8).collect(),
    ] {
        std::fs::write(config.join("SOFTWARE"), &bytes).unwrap();
        let scan = scan_image_root(dir.path(), "img", &[]);
        assert_eq!(codes(&scan), ["MG903"], "{:#?}", scan.findings);
        assert!(scan.findings[0].message.contains("SOFTWARE hive could not be read"));
        assert_eq!(scan.info.edition_id, None);
    }
}

#[test]
fn an_unreadable_hive_is_mg901() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the hive file should be: reading it fails at the OS level.
    std::fs::create_dir_all(dir.path().join("Windows/System32/config/SOFTWARE")).unwrap();
    let scan = scan_image_root(dir.path(), "img", &[]);
    assert_eq!(codes(&scan), ["MG901"], "{:#?}", scan.findings);
    assert_eq!(scan.findings[0].path().display, HIVE_PATH);
}

#[test]
fn an_image_without_its_software_hive_is_not_clean() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("Windows/System32/drivers")).unwrap();
    let scan = scan_image_root(dir.path(), "img", &[]);
    assert_eq!(codes(&scan), ["MG901"], "{:#?}", scan.findings);
    assert_eq!(scan.findings[0].path().display, HIVE_PATH);
    assert!(scan.findings[0].message.contains("no config/SOFTWARE hive"));
    assert_eq!(scan.software_hive, None);

    // A tree that is not an image at all has nothing to report.
    let plain = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(plain.path().join("scripts")).unwrap();
    let scan = scan_image_root(plain.path(), "plain", &[]);
    assert!(scan.findings.is_empty(), "{:#?}", scan.findings);
    assert_eq!(scan.info.root, "plain");
}

#[test]
fn a_dirty_hive_without_a_log_is_mg913_and_still_read() {
    if !common_hive::require_tool("hivexregedit") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let hive = build_image_root(dir.path(), &mak_reg(), false);
    let mut bytes = std::fs::read(&hive).unwrap();
    // Primary sequence number (offset 4) ahead of the secondary (offset 8): a write never finished.
    let primary = u32::from_le_bytes(bytes[4..8].try_into().unwrap());
    bytes[4..8].copy_from_slice(&(primary + 1).to_le_bytes());
    std::fs::write(&hive, &bytes).unwrap();
    let scan = scan_image_root(dir.path(), "img", &[]);
    let mut found = codes(&scan);
    found.sort_unstable();
    assert_eq!(found, ["MG304", "MG913"], "{:#?}", scan.findings);
    let dirty = scan.findings.iter().find(|f| f.rule.code == "MG913").unwrap();
    assert_eq!(dirty.severity, makguard_core::Severity::Error);
    assert_eq!(dirty.path().display, HIVE_PATH);
    assert!(dirty.message.contains("no transaction log"), "{}", dirty.message);
    assert_eq!(scan.info.edition_id.as_deref(), Some("Enterprise"));
}

#[test]
fn real_hives_without_current_version_are_mg915() {
    let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus/hives");
    for name in [
        "ColinFinck__nt-hive__testdata__testhive",
        "msuhanov__yarp__hives_for_tests__StringValuesHive",
        "libguestfs__hivex__images__special",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("Windows/System32/config");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::copy(Path::new(corpus).join(name), config.join("SOFTWARE")).unwrap();
        let scan = scan_image_root(dir.path(), "img", &[]);
        // Read cleanly, but another hive in SOFTWARE's place: the installed key was not checked.
        assert_eq!(codes(&scan), ["MG915"], "{name}: {:#?}", scan.findings);
        assert!(scan.findings[0].message.contains("could not be checked"), "{name}");
        assert_eq!(scan.info.edition_id, None, "{name}");
        assert_eq!(scan.software_hive.as_deref(), Some(HIVE_PATH));
        assert!(scan.registry_keys_searched > 0, "{name}");
    }
}
