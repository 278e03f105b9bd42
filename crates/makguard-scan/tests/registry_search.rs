//! Every place in the registry that can hold or run a key: `RunOnceEx` and the 32-bit view, the
//! Default user's hive, `DigitalProductId` copies, any string value of SOFTWARE, SYSTEM and the
//! Default NTUSER.DAT, and what `DigitalProductId4` claims. Hives are written by hivex
//! (`hivexregedit --merge`) and value paths cross-checked with `reglookup`.

mod common_hive;

use std::path::{Path, PathBuf};
use std::process::Command;

use common_hive::{digital_product_id, digital_product_id4, enterprise_identity_values, reg_hex};
use makguard_core::key::{compose_pkey2009, with_valid_checksum};
use makguard_core::{ClassSource, Finding, FindingPath, KeyClass, KeyConfigIndex, ProductKey, Severity};
use makguard_hive::Hive;
use makguard_scan::testing::{HiveScope, ReportedValues};
use makguard_scan::testing::{ImageScan, scan_image_root};
use makguard_scan::testing::{SearchContext, search_hive};

const SOFTWARE_PATH: &str = "Windows/System32/config/SOFTWARE";
const SW: &str = r"HKEY_LOCAL_MACHINE\SOFTWARE";
const CV: &str = r"[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion]";

// Synthetic keys (../shared/reference/synthetic-keys.tsv): MAK groups 990001/990002, retail 990101.
const MAK: &str = "6QWQ4-8NRCW-KHGHV-CR226-3PPQC";
const MAK_2: &str = "NMVQ8-C6P9M-GWX2J-9G4QJ-H82QC";
const MAK_3: &str = "7N3Q7-T3FJC-Y4CMG-YH7G8-H82QC";
const MAK_4: &str = "N626J-X9XJH-63FFJ-PM9DV-W8QKP";
const MAK_5: &str = "9GNTF-JW8PJ-FYX6B-3D7CM-JFRG2";
const RETAIL: &str = "9G4BR-NKWJV-XC3WT-FMHYF-FYHFV";
const BAD_CHECKSUM: &str = "FRYPW-J6N9G-4BHXK-4BMQ3-3GXXP";
const LEGACY: &str = "Y7BYD-BQG8X-7THCD-3XHD2-JGBRF";
const ENTERPRISE_GVLK: &str = "NPPR9-FWDCX-D2C8J-H872K-2YT43";

fn key(text: &str) -> ProductKey {
    ProductKey::parse(text).unwrap()
}

fn hivex() -> bool {
    common_hive::require_tool("hivexregedit")
}

/// Writes a hive at `target` from `.reg` sections under `HKEY_LOCAL_MACHINE\SOFTWARE` (the
/// prefix is stripped, so `…\SOFTWARE\Software\X` becomes `Software\X` in any hive).
fn build_hive(target: &Path, reg_text: &str) {
    let work = tempfile::tempdir().unwrap();
    let built = common_hive::build_software_hive(work.path(), reg_text);
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::copy(built, target).unwrap();
}

fn identity_section() -> String {
    format!("{CV}\n{}\n", enterprise_identity_values())
}

/// An image root with a SOFTWARE hive (the Enterprise identity plus `extra`) and the synthetic
/// key configuration.
fn image_with_software(extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    common_hive::build_image_root(dir.path(), &format!("{}\n{extra}", identity_section()), true);
    dir
}

fn codes(scan: &ImageScan) -> Vec<&'static str> {
    let mut codes: Vec<&'static str> = scan.findings.iter().map(|f| f.rule.code).collect();
    codes.sort_unstable();
    codes
}

fn with_code<'a>(scan: &'a ImageScan, code: &str) -> Vec<&'a Finding> {
    scan.findings.iter().filter(|f| f.rule.code == code).collect()
}

/// The one finding whose message names `needle`.
fn naming<'a>(scan: &'a ImageScan, needle: &str) -> &'a Finding {
    let found: Vec<&Finding> = scan.findings.iter().filter(|f| f.message.contains(needle)).collect();
    assert_eq!(
        found.len(),
        1,
        "expected one finding naming {needle}: {:#?}",
        scan.findings
    );
    found[0]
}

fn assert_masked(scan: &ImageScan) {
    for finding in &scan.findings {
        makguard_testkit::assert_no_synthetic_key(&finding.message, "a finding's message");
        if let Some(remediation) = finding.remediation() {
            makguard_testkit::assert_no_synthetic_key(remediation, "a finding's remediation");
        }
    }
}

fn assert_key(finding: &Finding, text: &str) {
    let info = finding.key.as_ref().expect("finding carries the key");
    assert_eq!(info.key, key(text), "{}", finding.message);
    assert!(finding.message.contains(&key(text).masked()), "{}", finding.message);
}

fn utf16z(text: &str) -> Vec<u8> {
    text.encode_utf16().chain([0]).flat_map(u16::to_le_bytes).collect()
}

#[test]
fn run_once_ex_subkeys_and_the_32_bit_view_install_keys() {
    if !hivex() {
        return;
    }
    let extra = format!(
        r#"[{SW}\Microsoft\Windows\CurrentVersion\RunOnceEx\0001]
"1"="cscript //nologo %windir%\\system32\\slmgr.vbs /ipk {MAK}"

[{SW}\Microsoft\Windows\CurrentVersion\RunOnceEx\0001\Depend]
"1"="cscript ospp.vbs /inpkey:{MAK_2}"

[{SW}\WOW6432Node\Microsoft\Windows\CurrentVersion\Run]
"Edition"="changepk.exe /ProductKey {MAK_3}"

[{SW}\WOW6432Node\Microsoft\Windows\CurrentVersion\RunOnce]
"Dism"="DISM /Online /Set-Edition:Enterprise /ProductKey:{MAK_4} /AcceptEula"

[{SW}\WOW6432Node\Microsoft\Windows\CurrentVersion\RunOnceEx\0002]
"3"="slmgr.vbs -ipk {RETAIL}"
"Kms"="slmgr.vbs /ipk {ENTERPRISE_GVLK}"
"#
    );
    let dir = image_with_software(&extra);
    let scan = scan_image_root(dir.path(), "img", &[]);
    assert_eq!(codes(&scan), ["MG306"; 5], "{:#?}", scan.findings);
    for (path, text, command) in [
        (
            r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\RunOnceEx\0001\1`",
            MAK,
            "slmgr /ipk",
        ),
        (
            r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\RunOnceEx\0001\Depend\1`",
            MAK_2,
            "ospp.vbs /inpkey",
        ),
        (
            r"HKLM\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Run\Edition`",
            MAK_3,
            "changepk.exe /ProductKey",
        ),
        (
            r"HKLM\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\RunOnce\Dism`",
            MAK_4,
            "DISM /Set-ProductKey",
        ),
        (
            r"HKLM\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\RunOnceEx\0002\3`",
            RETAIL,
            "slmgr /ipk",
        ),
    ] {
        let finding = naming(&scan, path);
        assert_key(finding, text);
        assert!(finding.message.contains(command), "{}", finding.message);
        assert_eq!(finding.path().display, SOFTWARE_PATH);
        let remediation = finding.remediation().unwrap();
        assert!(remediation.contains("reg delete"), "{remediation}");
        assert!(remediation.contains(&format!("/Set-ProductKey:{ENTERPRISE_GVLK}")));
    }
    assert_masked(&scan);
}

#[test]
fn the_default_user_hive_is_read_whatever_its_letter_case() {
    if !hivex() {
        return;
    }
    let dir = image_with_software("");
    let user_reg = format!(
        r#"[{SW}\Software\Microsoft\Windows\CurrentVersion\RunOnce]
"Activate"="cscript //b C:\\Windows\\System32\\slmgr.vbs /ipk {MAK}"

[{SW}\Software\Microsoft\Windows\CurrentVersion\Run]
"Agent"="C:\\Tools\\agent.exe --license {MAK_2}"
"Plain"="C:\\Tools\\agent.exe"

[{SW}\Software\Contoso\Setup]
"LastKey"="{MAK_3}"
"#
    );
    build_hive(&dir.path().join("users/default/ntuser.dat"), &user_reg);
    let scan = scan_image_root(dir.path(), "img", &[]);
    assert_eq!(codes(&scan), ["MG306", "MG311", "MG311"], "{:#?}", scan.findings);
    assert!(scan.files_read.contains(&"users/default/ntuser.dat".to_string()));

    let run_once = &with_code(&scan, "MG306")[0];
    assert_eq!(run_once.path().display, "users/default/ntuser.dat");
    assert_key(run_once, MAK);
    assert!(
        run_once
            .message
            .contains(r"HKU\DefaultUser\Software\Microsoft\Windows\CurrentVersion\RunOnce\Activate"),
        "{}",
        run_once.message
    );
    assert!(run_once.message.contains("every new user"), "{}", run_once.message);
    let remediation = run_once.remediation().unwrap();
    assert!(
        remediation.contains(r"reg load HKU\DefaultUser <mount>\Users\Default\NTUSER.DAT"),
        "{remediation}"
    );
    assert!(remediation.contains(&format!("/Set-ProductKey:{ENTERPRISE_GVLK}")));

    let literal = naming(&scan, r"CurrentVersion\Run\Agent`");
    assert_eq!(literal.rule.code, "MG311");
    assert_key(literal, MAK_2);
    let stored = naming(&scan, r"HKU\DefaultUser\Software\Contoso\Setup\LastKey`");
    assert_key(stored, MAK_3);
    assert_eq!(
        stored.key.as_ref().unwrap().classification.source,
        ClassSource::ImageKeyConfiguration
    );
    assert_masked(&scan);
}

#[test]
fn a_damaged_default_user_hive_is_mg903_and_a_missing_one_is_fine() {
    if !hivex() {
        return;
    }
    let dir = image_with_software("");
    let profile = dir.path().join("Users/Default");
    std::fs::create_dir_all(&profile).unwrap();
    let clean = scan_image_root(dir.path(), "img", &[]);
    assert!(clean.findings.is_empty(), "{:#?}", clean.findings);

    std::fs::write(profile.join("NTUSER.DAT"), b"regf and then nothing a hive needs").unwrap();
    let scan = scan_image_root(dir.path(), "img", &[]);
    assert_eq!(codes(&scan), ["MG903"], "{:#?}", scan.findings);
    assert_eq!(scan.findings[0].path().display, "Users/Default/NTUSER.DAT");
    assert!(
        scan.findings[0].message.contains("Default user"),
        "{}",
        scan.findings[0].message
    );
}

#[test]
fn digital_product_id_copies_outside_current_version_are_decoded() {
    if !hivex() {
        return;
    }
    let dpid = |text: &str| reg_hex("hex", &digital_product_id(key(text).decode().unwrap().value, true));
    let extra = format!(
        r#"[{CV_PATH}]
"DigitalProductId"={installed}

[{SW}\Microsoft\Internet Explorer\Registration]
"DigitalProductId"={installed}

[{SW}\Microsoft\Office\14.0\Registration\{{90140000-0011-0000-0000-0000000FF1CE}}]
"DigitalProductId"={office}

[{SW}\Contoso\Registration]
"DigitalProductId"={gvlk}
"DigitalProductId4"={dpid4_mak}
"#,
        CV_PATH = &CV[1..CV.len() - 1],
        installed = dpid(MAK),
        office = dpid(MAK_5),
        gvlk = dpid(ENTERPRISE_GVLK),
        dpid4_mak = reg_hex("hex", &digital_product_id4("Enterprise", "Volume:MAK")),
    );
    let dir = image_with_software(&extra);
    let scan = scan_image_root(dir.path(), "img", &[]);
    // The installed MAK once (MG301), not again for its IE copy; the Office copy of another
    // key; a GVLK copy is fine; a DigitalProductId4 saying Volume:MAK beside an installed MAK
    // repeats MG301 and is not reported again.
    assert_eq!(codes(&scan), ["MG301", "MG310"], "{:#?}", scan.findings);
    let office = &with_code(&scan, "MG310")[0];
    assert_key(office, MAK_5);
    assert!(
        office.message.contains(
            r"HKLM\SOFTWARE\Microsoft\Office\14.0\Registration\{90140000-0011-0000-0000-0000000FF1CE}\DigitalProductId`"
        ),
        "{}",
        office.message
    );
    assert_eq!(office.key.as_ref().unwrap().class(), KeyClass::Mak);

    // Without an installed MAK the Volume:MAK copy is news.
    let extra = format!(
        "[{SW}\\Contoso\\Registration]\n\"DigitalProductId4\"={}\n",
        reg_hex("hex", &digital_product_id4("Enterprise", "Volume:MAK"))
    );
    let dir = image_with_software(&extra);
    let scan = scan_image_root(dir.path(), "img", &[]);
    assert_eq!(codes(&scan), ["MG310"], "{:#?}", scan.findings);
    assert!(
        scan.findings[0].message.contains("Volume:MAK"),
        "{}",
        scan.findings[0].message
    );
}

#[test]
fn any_string_value_of_software_and_system_holding_a_key_is_reported() {
    if !hivex() || !common_hive::require_tool("reglookup") {
        return;
    }
    let expand = reg_hex(
        "hex(2)",
        &utf16z(&format!("%SystemRoot%\\setup.exe /quiet /key {MAK_2}")),
    );
    let multi: Vec<u8> = ["first line".to_string(), format!("mak={MAK_3}")]
        .iter()
        .flat_map(|line| utf16z(line))
        .chain([0, 0])
        .collect();
    let extra = format!(
        r#"[{SW}\Contoso\Build\Step7]
"Note"="activate later with {MAK}"
"Expand"={expand}
"Lines"={multi}
"Checksum"="no key word: {BAD_CHECKSUM}"
"Gvlk"="{ENTERPRISE_GVLK}"

[{SW}\Contoso\Legacy]
"ProductKey"="{LEGACY}"
"#,
        multi = reg_hex("hex(7)", &multi),
    );
    let dir = image_with_software(&extra);
    let system_reg = format!(
        r#"[{SW}\ControlSet001\Services\ContosoAgent\Parameters]
"Args"="--activate {MAK_4}"
"#
    );
    let system = dir.path().join("Windows/System32/config/SYSTEM");
    build_hive(&system, &system_reg);
    let scan = scan_image_root(dir.path(), "img", &[]);
    assert_eq!(codes(&scan), ["MG311"; 5], "{:#?}", scan.findings);
    for (value, text) in [
        (r"HKLM\SOFTWARE\Contoso\Build\Step7\Note`", MAK),
        (r"HKLM\SOFTWARE\Contoso\Build\Step7\Expand`", MAK_2),
        (r"HKLM\SOFTWARE\Contoso\Build\Step7\Lines`", MAK_3),
        (r"HKLM\SOFTWARE\Contoso\Legacy\ProductKey`", LEGACY),
        (
            r"HKLM\SYSTEM\ControlSet001\Services\ContosoAgent\Parameters\Args`",
            MAK_4,
        ),
    ] {
        let finding = naming(&scan, value);
        assert_key(finding, text);
        let remediation = finding.remediation().unwrap();
        assert!(remediation.contains("reg load"), "{remediation}");
    }
    let system_finding = naming(&scan, r"HKLM\SYSTEM\");
    assert_eq!(system_finding.path().display, "Windows/System32/config/SYSTEM");
    assert!(scan.files_read.contains(&"Windows/System32/config/SYSTEM".to_string()));
    assert_masked(&scan);

    // reglookup, an independent reader, finds each reported value at the path named, holding the key.
    let software = dir.path().join(SOFTWARE_PATH);
    for (path, text) in [
        ("/Contoso/Build/Step7/Note", MAK),
        ("/Contoso/Build/Step7/Expand", MAK_2),
        ("/Contoso/Legacy/ProductKey", LEGACY),
    ] {
        assert!(
            reglookup_value(&software, path).contains(text),
            "reglookup disagrees on {path}"
        );
    }
    assert!(reglookup_value(&system, "/ControlSet001/Services/ContosoAgent/Parameters/Args").contains(MAK_4));
}

/// The data reglookup prints for the value at `path` (`/Key/Sub/Value`).
fn reglookup_value(hive: &Path, path: &str) -> String {
    let output = Command::new("reglookup")
        .args(["-H", "-p"])
        .arg(path.rsplit_once('/').unwrap().0)
        .arg(hive)
        .output()
        .expect("run reglookup");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find(|line| line.starts_with(&format!("{path},")))
        .unwrap_or_else(|| panic!("reglookup lists no {path}"))
        .to_string()
}

#[test]
fn a_key_generated_at_run_time_is_found_deep_in_the_hive() {
    if !hivex() {
        return;
    }
    // A fresh checksum-valid key in the synthetic MAK group, planted twelve keys deep.
    let serial = (std::process::id() * 7919) % 999_999;
    let value = with_valid_checksum(compose_pkey2009(990_001, serial, 0x1234_5678_9ABC, false));
    let planted = ProductKey::from_pkey2009_value(value).unwrap();
    let path: Vec<String> = (0..12).map(|level| format!("Level{level}")).collect();
    let extra = format!(
        "[{SW}\\Contoso\\{}]\n\"Data\"=\"{}\"\n",
        path.join("\\"),
        planted.reveal_unmasked()
    );
    let dir = image_with_software(&extra);
    let scan = scan_image_root(dir.path(), "img", &[]);
    assert_eq!(codes(&scan), ["MG311"], "{:#?}", scan.findings);
    let finding = &scan.findings[0];
    assert_eq!(finding.key.as_ref().unwrap().key, planted);
    assert_eq!(finding.key.as_ref().unwrap().class(), KeyClass::Mak);
    assert!(!finding.message.contains(planted.reveal_unmasked()));
    assert!(
        finding.message.contains(r"Level10\Level11\Data`"),
        "{}",
        finding.message
    );
    assert!(scan.registry_keys_searched >= 12, "{}", scan.registry_keys_searched);
}

#[test]
fn digital_product_id4_volume_gvlk_is_only_a_claim() {
    if !hivex() {
        return;
    }
    let dpid = |k: &ProductKey| reg_hex("hex", &digital_product_id(k.decode().unwrap().value, true));
    let claim = reg_hex("hex", &digital_product_id4("Enterprise", "Volume:GVLK"));
    let scan_for = |installed: &ProductKey, with_config: bool| {
        let dir = tempfile::tempdir().unwrap();
        let reg = format!(
            "{CV}\n{}\n\"DigitalProductId\"={}\n\"DigitalProductId4\"={claim}\n",
            enterprise_identity_values(),
            dpid(installed)
        );
        common_hive::build_image_root(dir.path(), &reg, with_config);
        scan_image_root(dir.path(), "img", &[])
    };

    // No source knows the key: a warning, and the key is not called a GVLK.
    let scan = scan_for(&key(MAK), false);
    assert_eq!(codes(&scan), ["MG308"], "{:#?}", scan.findings);
    let unverified = &scan.findings[0];
    assert_eq!(unverified.severity, Severity::Warning);
    assert_eq!(unverified.key.as_ref().unwrap().class(), KeyClass::NonKms);
    assert!(unverified.message.contains("unconfirmed"), "{}", unverified.message);
    assert!(unverified.remediation().is_some());
    assert_masked(&scan);

    // The image's key configuration says MAK group: the MAK error; retail group: MG309, an error.
    let scan = scan_for(&key(MAK), true);
    assert_eq!(codes(&scan), ["MG301"], "{:#?}", scan.findings);
    let scan = scan_for(&key(RETAIL), true);
    assert_eq!(codes(&scan), ["MG309"], "{:#?}", scan.findings);
    assert_eq!(scan.findings[0].severity, Severity::Error);
    assert!(
        scan.findings[0].message.contains("contradicts"),
        "{}",
        scan.findings[0].message
    );

    // A key of the configuration's own GVLK group (3290) and a catalog GVLK stay notes.
    let group_gvlk =
        ProductKey::from_pkey2009_value(with_valid_checksum(compose_pkey2009(3290, 4242, 0x0BAD_CAFE, false))).unwrap();
    let scan = scan_for(&group_gvlk, true);
    assert_eq!(codes(&scan), ["MG300"], "{:#?}", scan.findings);
    let scan = scan_for(&key(ENTERPRISE_GVLK), false);
    assert_eq!(codes(&scan), ["MG300"], "{:#?}", scan.findings);
}

/// Test-side Marvin32 (the hash guarding `HvLE` log entries), as in makguard-hive's tests.
fn marvin32(data: &[u8], seed: u64) -> u64 {
    fn mix(lo: &mut u32, hi: &mut u32) {
        *hi ^= *lo;
        *lo = lo.rotate_left(20).wrapping_add(*hi);
        *hi = hi.rotate_left(9) ^ *lo;
        *lo = lo.rotate_left(27).wrapping_add(*hi);
        *hi = hi.rotate_left(19);
    }
    let (mut lo, mut hi) = (seed as u32, (seed >> 32) as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        lo = lo.wrapping_add(u32::from_le_bytes(c.try_into().unwrap()));
        mix(&mut lo, &mut hi);
    }
    let mut last = [0u8; 4];
    let rem = chunks.remainder();
    last[..rem.len()].copy_from_slice(rem);
    last[rem.len()] = 0x80;
    lo = lo.wrapping_add(u32::from_le_bytes(last));
    mix(&mut lo, &mut hi);
    mix(&mut lo, &mut hi);
    (u64::from(hi) << 32) | u64::from(lo)
}

fn fix_checksum(block: &mut [u8]) {
    let x = block[..508]
        .chunks_exact(4)
        .fold(0u32, |a, c| a ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
    block[508..512].copy_from_slice(&x.to_le_bytes());
}

/// A log base block: the primary's first 512 bytes with file type `file_type`.
fn log_base_block(primary: &[u8], file_type: u32) -> Vec<u8> {
    let mut block = primary[..512].to_vec();
    block[28..32].copy_from_slice(&file_type.to_le_bytes());
    fix_checksum(&mut block);
    block
}

/// A new-format log holding one `HvLE` entry (sequence `seq`) with every 4 KiB page of `fresh`
/// that differs from `primary`.
fn new_format_log(primary: &[u8], fresh: &[u8], seq: u32) -> Vec<u8> {
    const SEED: u64 = 0x82EF_4D88_7A4E_55C5;
    let bins_size = u32::from_le_bytes(primary[40..44].try_into().unwrap());
    let pages: Vec<(u32, &[u8])> = (4096..fresh.len())
        .step_by(4096)
        .filter(|&at| primary[at..at + 4096] != fresh[at..at + 4096])
        .map(|at| ((at - 4096) as u32, &fresh[at..at + 4096]))
        .collect();
    let mut entry = vec![0u8; 40];
    entry[..4].copy_from_slice(b"HvLE");
    entry[12..16].copy_from_slice(&seq.to_le_bytes());
    entry[16..20].copy_from_slice(&bins_size.to_le_bytes());
    entry[20..24].copy_from_slice(&(pages.len() as u32).to_le_bytes());
    for (offset, page) in &pages {
        entry.extend_from_slice(&offset.to_le_bytes());
        entry.extend_from_slice(&(page.len() as u32).to_le_bytes());
    }
    for (_, page) in &pages {
        entry.extend_from_slice(page);
    }
    entry.resize(entry.len().div_ceil(512) * 512, 0);
    let size = entry.len() as u32;
    entry[4..8].copy_from_slice(&size.to_le_bytes());
    let h1 = marvin32(&entry[40..], SEED);
    entry[24..32].copy_from_slice(&h1.to_le_bytes());
    let h2 = marvin32(&entry[..32], SEED);
    entry[32..40].copy_from_slice(&h2.to_le_bytes());
    let mut log = log_base_block(primary, 6);
    log.extend_from_slice(&entry);
    log
}

/// Makes the hive at `hive` dirty (primary sequence number one ahead); returns the new bytes.
fn make_dirty(hive: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(hive).unwrap();
    let primary = u32::from_le_bytes(bytes[4..8].try_into().unwrap());
    bytes[4..8].copy_from_slice(&(primary + 1).to_le_bytes());
    fix_checksum(&mut bytes[..512]);
    std::fs::write(hive, &bytes).unwrap();
    bytes
}

fn software_with_gvlk_backup(dir: &Path) -> PathBuf {
    let reg = format!(
        "{}\n[{SW}\\Microsoft\\Windows NT\\CurrentVersion\\SoftwareProtectionPlatform]\n\"BackupProductKeyDefault\"=\"{ENTERPRISE_GVLK}\"\n",
        identity_section()
    );
    common_hive::build_image_root(dir, &reg, true)
}

#[test]
fn a_dirty_hive_without_a_usable_log_is_mg913_and_its_logs_are_searched() {
    if !hivex() {
        return;
    }
    let mak_utf16: Vec<u8> = MAK.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let cases: Vec<(&str, Option<Vec<u8>>, bool)> = vec![
        ("no log", None, false),
        ("an empty log", Some(Vec::new()), false),
        (
            "a garbage log",
            Some([b"\x01\x02garbage ".as_slice(), &mak_utf16, b" more"].concat()),
            true,
        ),
        ("an old-format log", None, true),
    ];
    for (what, log, holds_key) in cases {
        let dir = tempfile::tempdir().unwrap();
        let hive = software_with_gvlk_backup(dir.path());
        let dirty = make_dirty(&hive);
        let log = log.or_else(|| {
            holds_key.then(|| {
                let mut old = log_base_block(&dirty, 1);
                old.resize(4096, 0);
                old.extend_from_slice(b"DIRT");
                old.extend_from_slice(&mak_utf16);
                old
            })
        });
        if let Some(log) = &log {
            std::fs::write(hive.with_file_name("SOFTWARE.LOG1"), log).unwrap();
        }
        let scan = scan_image_root(dir.path(), "img", &[]);
        let expected: &[&str] = if holds_key { &["MG312", "MG913"] } else { &["MG913"] };
        assert_eq!(codes(&scan), expected, "{what}: {:#?}", scan.findings);
        let unknown = &with_code(&scan, "MG913")[0];
        assert_eq!(unknown.severity, Severity::Error, "{what}");
        assert_eq!(unknown.path().display, SOFTWARE_PATH, "{what}");
        if holds_key {
            let in_log = &with_code(&scan, "MG312")[0];
            assert_eq!(in_log.path().display, "Windows/System32/config/SOFTWARE.LOG1", "{what}");
            assert_key(in_log, MAK);
            assert!(in_log.message.contains("UTF-16"), "{}", in_log.message);
        }
        if log.is_some() {
            assert!(
                scan.logs_searched
                    .contains(&"Windows/System32/config/SOFTWARE.LOG1".to_string())
            );
        }
        assert_masked(&scan);
    }
}

#[test]
fn a_replayed_hive_is_mg307_and_read_in_its_current_state() {
    if !hivex() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let hive = software_with_gvlk_backup(dir.path());
    let clean = std::fs::read(&hive).unwrap();
    // The logged write: the GVLK in BackupProductKeyDefault replaced by a MAK of the same length.
    let utf16 = |text: &str| -> Vec<u8> { text.encode_utf16().flat_map(u16::to_le_bytes).collect() };
    let (from, to) = (utf16(ENTERPRISE_GVLK), utf16(MAK));
    let at = clean.windows(from.len()).position(|w| w == from.as_slice()).unwrap();
    let mut fresh = clean.clone();
    fresh[at..at + to.len()].copy_from_slice(&to);

    let dirty = make_dirty(&hive);
    let seq = u32::from_le_bytes(dirty[4..8].try_into().unwrap());
    std::fs::write(
        hive.with_file_name("software.log1"),
        new_format_log(&dirty, &fresh, seq),
    )
    .unwrap();

    let scan = scan_image_root(dir.path(), "img", &[]);
    assert_eq!(codes(&scan), ["MG305", "MG307", "MG312"], "{:#?}", scan.findings);
    let replayed = &with_code(&scan, "MG307")[0];
    assert_eq!(replayed.severity, Severity::Warning);
    assert!(
        replayed.message.contains("1 transaction log entries were replayed"),
        "{}",
        replayed.message
    );
    // What was read is the hive after the logged write: the MAK, not the GVLK on disk.
    assert_key(with_code(&scan, "MG305")[0], MAK);
    assert_eq!(
        with_code(&scan, "MG312")[0].path().display,
        "Windows/System32/config/software.log1"
    );
    assert_masked(&scan);
}

#[test]
fn the_walk_searches_hive_logs_once_with_or_without_deep() {
    if !hivex() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    software_with_gvlk_backup(dir.path());
    let log = [b"\x00\x01".as_slice(), MAK.as_bytes(), b"\x00"].concat();
    std::fs::write(dir.path().join("Windows/System32/config/SOFTWARE.LOG2"), log).unwrap();
    for deep in [false, true] {
        let options = makguard_scan::ScanOptions {
            deep,
            jobs: Some(1),
            ..makguard_scan::ScanOptions::default()
        };
        let report = makguard_scan::scan_paths(&[dir.path().to_path_buf()], &options);
        let in_log: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.path().display.ends_with("SOFTWARE.LOG2"))
            .collect();
        assert_eq!(in_log.len(), 1, "deep={deep}: {:#?}", report.findings);
        assert_eq!(in_log[0].rule.code, "MG312");
    }
}

#[test]
fn an_exhausted_work_budget_is_mg914_not_silence() {
    let corpus = makguard_testkit::shared_dir().join("corpus/hives/ColinFinck__nt-hive__testdata__testhive");
    let hive = Hive::open(&corpus).unwrap();
    let file = FindingPath::new("Windows/System32/config/SYSTEM");
    let config = KeyConfigIndex::default();
    let scope = HiveScope::system(&file, &config);
    // The budget is shared by every read of one opened hive: search until it runs out.
    for _ in 0..10_000 {
        let mut reported = ReportedValues::default();
        let outcome = search_hive(
            &hive,
            &mut SearchContext {
                scope: &scope,
                reported: &mut reported,
                installed_key_paths: &[],
                installed_classes: &[],
            },
        );
        if outcome.stopped {
            let codes: Vec<&str> = outcome.findings.iter().map(|f| f.rule.code).collect();
            assert_eq!(codes, ["MG914"], "{:#?}", outcome.findings);
            assert!(outcome.findings[0].message.contains("work budget"));
            return;
        }
        assert!(outcome.findings.is_empty(), "{:#?}", outcome.findings);
    }
    panic!("the work budget never ran out");
}

/// The corpus hives, decompressed into `dir` where they are xz files.
fn corpus_hives(dir: &Path) -> Vec<(String, PathBuf)> {
    let corpus = makguard_testkit::shared_dir().join("corpus/hives");
    let mut hives = Vec::new();
    for entry in std::fs::read_dir(&corpus).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".xz") {
            let output = Command::new("xz")
                .arg("-dc")
                .arg(entry.path())
                .output()
                .expect("run xz");
            assert!(output.status.success(), "xz -dc {name}");
            let target = dir.join(stem);
            std::fs::write(&target, output.stdout).unwrap();
            hives.push((stem.to_string(), target));
        } else if name != "MANIFEST.tsv" {
            hives.push((name, entry.path()));
        }
    }
    hives.sort();
    hives
}

/// What the whole-hive search must find in each corpus hive, whatever role the hive plays:
/// regipy's Windows 10 1709 SYSTEM hive was captured dirty, and Windows keeps the previous OS's
/// `DigitalProductId` in `Setup\Source OS (Updated on …)` after each in-place upgrade (two
/// upgrades there, the same real key twice). Nothing else in 10 real hives holds a key.
fn expected_in_corpus_hive(name: &str) -> &'static [&'static str] {
    if name == "mkorman90__regipy__regipy_tests__data__SYSTEM_WIN_10_1709" {
        &["MG310", "MG310", "MG913"]
    } else {
        &[]
    }
}

#[test]
fn real_corpus_hives_give_no_false_key_findings_in_any_role() {
    if !hivex() || !common_hive::require_tool("xz") {
        return;
    }
    let unpacked = tempfile::tempdir().unwrap();
    let hives = corpus_hives(unpacked.path());
    assert_eq!(hives.len(), 10, "{hives:?}");
    let mut total_keys = 0u64;
    for (name, hive) in &hives {
        for role in [
            SOFTWARE_PATH,
            "Windows/System32/config/SYSTEM",
            "Users/Default/NTUSER.DAT",
        ] {
            let dir = if role == SOFTWARE_PATH {
                let dir = tempfile::tempdir().unwrap();
                std::fs::create_dir_all(dir.path().join("Windows/System32/config")).unwrap();
                dir
            } else {
                image_with_software("")
            };
            let target = dir.path().join(role);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(hive, &target).unwrap();
            let scan = scan_image_root(dir.path(), "img", &[]);
            let mut expected = expected_in_corpus_hive(name).to_vec();
            if role == SOFTWARE_PATH {
                // None of them is a SOFTWARE hive: the installed key cannot be checked.
                expected.push("MG915");
                expected.sort_unstable();
            }
            assert_eq!(codes(&scan), expected, "{name} as {role}: {:#?}", scan.findings);
            assert!(scan.registry_keys_searched > 0, "{name} as {role}");
            total_keys += scan.registry_keys_searched;
            let copies: Vec<&Finding> = with_code(&scan, "MG310");
            for copy in &copies {
                assert!(
                    copy.message.contains(r"\Setup\Source OS (Updated on "),
                    "{}",
                    copy.message
                );
                assert_eq!(copy.key.as_ref().unwrap().class(), KeyClass::NonKms);
                assert_eq!(copy.key, copies[0].key);
                assert!(copy.message.contains(&copy.key.as_ref().unwrap().key.masked()));
                assert!(!copy.message.contains(copy.key.as_ref().unwrap().key.reveal_unmasked()));
            }
        }
    }
    // Every key of every hive, three times over (the SOFTWARE hive beside adds a few each time).
    assert!(total_keys > 240_000, "{total_keys}");
}

#[cfg(unix)]
#[test]
fn a_fifo_log_beside_a_dirty_hive_is_mg906_and_never_opened() {
    if !hivex() || !common_hive::require_tool("mkfifo") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let hive = software_with_gvlk_backup(dir.path());
    make_dirty(&hive);
    let fifo = hive.with_file_name("SOFTWARE.LOG1");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("run mkfifo");
    assert!(made.success());
    // Opening the FIFO for reading would block until a writer comes: the scan must end anyway.
    let scan = scan_image_root(dir.path(), "img", &[]);
    // MG906: a FIFO where makguard must read a file; MG913: with no log, the state is unknown.
    assert_eq!(codes(&scan), ["MG906", "MG913"], "{:#?}", scan.findings);
    assert_eq!(
        with_code(&scan, "MG906")[0].path().display,
        "Windows/System32/config/SOFTWARE.LOG1"
    );
}

#[test]
fn a_key_in_a_key_or_value_name_is_reported_and_masked_in_every_path() {
    if !hivex() {
        return;
    }
    // The value below the key whose name is a key must not print that key in its path either.
    let extra = format!(
        "[{SW}\\Contoso\\Licences\\{MAK}]\n\"Note\"=\"renew with {MAK_4}\"\n\n[{SW}\\Contoso\\Licences]\n\"{MAK_2}\"=\"assigned\"\n\"Current\"=\"{MAK_3}\"\n"
    );
    let dir = image_with_software(&extra);
    let scan = scan_image_root(dir.path(), "img", &[]);
    assert_eq!(codes(&scan), ["MG311"; 4], "{:#?}", scan.findings);
    let in_key_name = naming(&scan, "The name of the key");
    assert_key(in_key_name, MAK);
    let in_value_name = naming(&scan, "The name of the value");
    assert_key(in_value_name, MAK_2);
    let below = naming(&scan, r"\Note`");
    assert_key(below, MAK_4);
    assert!(below.message.contains(&key(MAK).masked()), "{}", below.message);
    assert_key(naming(&scan, r"Licences\Current`"), MAK_3);
    assert_masked(&scan);
}
