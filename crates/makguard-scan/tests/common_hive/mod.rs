//! Test helpers for registry hives and image roots, shared by the registry, image-identity and
//! end-to-end tests. Hives are written by hivex (`hivexregedit --merge`), never by makguard.
//!
//! Use from a makguard-scan test with `mod common_hive;`, or from another crate's tests with
//! `#[path = "../../makguard-scan/tests/common_hive/mod.rs"] mod common_hive;` (paths inside
//! resolve from any crate under `crates/`). Functions that run hivexregedit expect the caller
//! to have checked [`require_tool`] first.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The hand-made minimal hive from hivex (root key only), read by path, never copied into the repo.
pub(crate) const MINIMAL_HIVE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpus/hives/libguestfs__hivex__images__minimal"
);

/// The synthetic `pkeyconfig.xrm-ms` (see tests/fixtures/pkeyconfig/make-fixture.sh). Named
/// through `../makguard-scan` so the path holds from any crate that includes this module.
pub(crate) const PKEYCONFIG_FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../makguard-scan/tests/fixtures/pkeyconfig/pkeyconfig.xrm-ms"
);

/// The prefix every `.reg` section passed to [`build_software_hive`] starts with.
pub(crate) const SOFTWARE_PREFIX: &str = r"HKEY_LOCAL_MACHINE\SOFTWARE";

/// True when `tool` is on PATH; otherwise fails in CI, or prints `skipped:` elsewhere.
#[allow(unused_imports)]
pub(crate) use makguard_testkit::require_tool;

/// Writes a SOFTWARE hive at `dir/SOFTWARE`: hivex's minimal hive with `reg_text` merged in by
/// `hivexregedit --merge --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE'`. `reg_text` holds `.reg`
/// sections (`[HKEY_LOCAL_MACHINE\SOFTWARE\…]` and values, with or without the
/// `Windows Registry Editor Version 5.00` header); missing parent keys are added, since
/// hivexregedit creates only the last key of a section. Panics with hivexregedit's stderr if
/// the merge fails.
pub(crate) fn build_software_hive(dir: &Path, reg_text: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("create hive directory");
    let hive = dir.join("SOFTWARE");
    std::fs::copy(MINIMAL_HIVE, &hive).expect("copy hivex's minimal hive (is ../shared/corpus present?)");
    let reg_file = dir.join("makguard-test-merge.reg");
    std::fs::write(&reg_file, with_parent_sections(reg_text)).expect("write .reg file");
    let output = Command::new("hivexregedit")
        .arg("--merge")
        .arg("--prefix")
        .arg(SOFTWARE_PREFIX)
        .arg(&hive)
        .arg(&reg_file)
        .output()
        .expect("run hivexregedit");
    std::fs::remove_file(&reg_file).ok();
    assert!(
        output.status.success(),
        "hivexregedit --merge failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    hive
}

/// Lays out a minimal image root at `root`: `Windows/System32/config/SOFTWARE` built from
/// `reg_text` and, when `with_pkeyconfig`, the synthetic key configuration at
/// `Windows/System32/spp/tokens/pkeyconfig/pkeyconfig.xrm-ms`. Returns the hive's path.
pub(crate) fn build_image_root(root: &Path, reg_text: &str, with_pkeyconfig: bool) -> PathBuf {
    let hive = build_software_hive(&root.join("Windows/System32/config"), reg_text);
    if with_pkeyconfig {
        let dir = root.join("Windows/System32/spp/tokens/pkeyconfig");
        std::fs::create_dir_all(&dir).expect("create pkeyconfig directory");
        std::fs::copy(PKEYCONFIG_FIXTURE, dir.join("pkeyconfig.xrm-ms")).expect("copy pkeyconfig fixture");
    }
    hive
}

/// Adds an empty section before each section whose parent keys have not appeared yet.
fn with_parent_sections(reg_text: &str) -> String {
    let mut out = String::from("Windows Registry Editor Version 5.00\n\n");
    let mut seen: Vec<String> = Vec::new();
    for line in reg_text.lines() {
        if line.trim_start().starts_with("Windows Registry Editor") || line.trim_start().starts_with("REGEDIT4") {
            continue;
        }
        let trimmed = line.trim();
        if let Some(section) = trimmed.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            let below_prefix = section
                .strip_prefix(SOFTWARE_PREFIX)
                .and_then(|rest| rest.strip_prefix('\\'))
                .unwrap_or_else(|| panic!("section [{section}] is not under {SOFTWARE_PREFIX}"));
            let parts: Vec<&str> = below_prefix.split('\\').collect();
            for depth in 1..parts.len() {
                let parent = parts[..depth].join("\\");
                if !seen.iter().any(|s| s.eq_ignore_ascii_case(&parent)) {
                    out.push_str(&format!("[{SOFTWARE_PREFIX}\\{parent}]\n\n"));
                    seen.push(parent);
                }
            }
            if !seen.iter().any(|s| s.eq_ignore_ascii_case(below_prefix)) {
                seen.push(below_prefix.to_string());
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out
}

/// `hex:01,02,…` (or `hex(N):…` for other types) as regedit writes binary data.
pub(crate) fn reg_hex(type_prefix: &str, bytes: &[u8]) -> String {
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{type_prefix}:{}", hex.join(","))
}

/// A 164-byte `DigitalProductId` holding the key integer `value` at offsets 52..67 (15 bytes,
/// little-endian), with byte 66 bit 3 set for an N-form key (key-format.md §5.1).
pub(crate) fn digital_product_id(value: u128, n_form: bool) -> Vec<u8> {
    let mut blob = vec![0u8; 164];
    blob[..4].copy_from_slice(&164u32.to_le_bytes());
    blob[4..6].copy_from_slice(&3u16.to_le_bytes());
    blob[52..67].copy_from_slice(&value.to_le_bytes()[..15]);
    if n_form {
        blob[66] |= 0x08;
    }
    blob
}

/// A 1272-byte `DigitalProductId4` with `edition_id` at 0x378 and `key_type` at 0x3F8, both
/// UTF-16LE and NUL-padded (key-format.md §5.2).
pub(crate) fn digital_product_id4(edition_id: &str, key_type: &str) -> Vec<u8> {
    let mut blob = vec![0u8; 1272];
    blob[..4].copy_from_slice(&1272u32.to_le_bytes());
    for (offset, text) in [(0x378usize, edition_id), (0x3F8usize, key_type)] {
        let units: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert!(units.len() < 128, "field too long");
        blob[offset..offset + units.len()].copy_from_slice(&units);
    }
    blob
}

/// The value lines for `Microsoft\Windows NT\CurrentVersion` of a Windows 11 23H2 Enterprise image.
pub(crate) fn enterprise_identity_values() -> String {
    [
        r#""EditionID"="Enterprise""#,
        r#""ProductName"="Windows 10 Enterprise""#,
        r#""CurrentBuild"="22631""#,
        r#""CurrentBuildNumber"="22631""#,
        r#""CurrentMajorVersionNumber"=dword:0000000a"#,
        r#""CurrentMinorVersionNumber"=dword:00000000"#,
        r#""UBR"=dword:00001130"#,
        r#""DisplayVersion"="23H2""#,
        r#""InstallationType"="Client""#,
    ]
    .join("\n")
}
