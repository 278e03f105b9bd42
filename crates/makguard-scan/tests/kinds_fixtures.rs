//! Each non-registry file kind on its fixture (tests/fixtures/{scripts,office,ini,text}):
//! the kind detected from path and content, and the exact findings `scan_file_bytes` gives
//! (rule, line, column, key fingerprint, fix hints). All keys are synthetic or public GVLKs.

use makguard_core::text::decode;
use makguard_core::{Finding, FindingPath, ProductKey};
use makguard_scan::{FileContext, FileKind, candidate_by_name, detect_kind, scan_file_bytes};

const KEY_A: &str = "6QWQ4-8NRCW-KHGHV-CR226-3PPQC";
const KEY_B: &str = "NMVQ8-C6P9M-GWX2J-9G4QJ-H82QC";
const KEY_C: &str = "7N3Q7-T3FJC-Y4CMG-YH7G8-H82QC";
const KEY_D: &str = "N626J-X9XJH-63FFJ-PM9DV-W8QKP";
const KEY_E: &str = "9GNTF-JW8PJ-FYX6B-3D7CM-JFRG2";
const KEY_F: &str = "FKV9N-PQMDY-2VWBR-MMT4X-GCYT2";
const KEY_G: &str = "YNTHT-YF2BV-TTMDY-RHH7J-VCPQD";
const RETAIL: &str = "9G4BR-NKWJV-XC3WT-FMHYF-FYHFV";
const CSVLK: &str = "NCV9B-6GGCB-W848Q-QTQJW-BP992";
const BAD_CHECKSUM: &str = "FRYPW-J6N9G-4BHXK-4BMQ3-3GXXP";
const LEGACY: &str = "Y7BYD-BQG8X-7THCD-3XHD2-JGBRF";
const LEGACY_2: &str = "88H3M-G9QW9-DDTJC-PCKYD-8QPWD";

type Row = (&'static str, Option<u32>, Option<String>);

fn fixture(rel: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

// why: a row's fingerprint is an `Option` (`None` for a finding without a key); returning one
// keeps each expected row a plain tuple.
#[allow(clippy::unnecessary_wraps)]
fn fp(key: &str) -> Option<String> {
    Some(ProductKey::parse(key).unwrap().fingerprint())
}

/// Detects the kind of the fixture as if it lay at `image_path`, scans it, checks the kind.
fn scan(fixture_path: &str, image_path: &str, expected_kind: FileKind) -> Vec<Finding> {
    let bytes = fixture(fixture_path);
    assert_eq!(detect_kind(image_path, &bytes), Some(expected_kind), "{image_path}");
    let path = FindingPath::new(image_path);
    let ctx = FileContext {
        path: &path,
        key_config: None,
    };
    scan_file_bytes(expected_kind, &bytes, &ctx)
}

fn rows(findings: &[Finding]) -> Vec<Row> {
    findings
        .iter()
        .map(|f| (f.rule.code, f.line(), f.key.as_ref().map(|k| k.key.fingerprint())))
        .collect()
}

/// The decoded text a finding's range covers: the key itself, for a fixer to replace.
fn covered(fixture_path: &str, finding: &Finding) -> String {
    let text = decode(&fixture(fixture_path)).text;
    let range = finding.range().expect("text findings have a range");
    text[range.start..range.end].to_string()
}

#[test]
fn office_activation_script() {
    let found = scan(
        "scripts/office-activate.vbs",
        "Deploy/office-activate.vbs",
        FileKind::Script,
    );
    assert_eq!(rows(&found), vec![("MG201", Some(3), fp(KEY_A))]);
    assert!(found[0].message.contains("ospp.vbs /inpkey"));
}

#[test]
fn every_edition_command_spelling() {
    let found = scan(
        "scripts/edition.cmd",
        "Windows/Setup/Scripts/edition.cmd",
        FileKind::Script,
    );
    assert_eq!(
        rows(&found),
        vec![
            ("MG201", Some(2), fp(KEY_B)),
            ("MG201", Some(3), fp(KEY_C)),
            ("MG201", Some(4), fp(KEY_D)),
        ]
    );
    let described: Vec<bool> = ["DISM /Set-ProductKey", "changepk.exe /ProductKey", "setup.exe /pkey"]
        .iter()
        .zip(&found)
        .map(|(command, f)| f.message.contains(command))
        .collect();
    assert_eq!(described, vec![true, true, true]);
}

#[test]
fn cim_install_and_a_literal() {
    let found = scan("scripts/cim.ps1", "scripts/cim.ps1", FileKind::Script);
    assert_eq!(
        rows(&found),
        vec![("MG201", Some(2), fp(KEY_E)), ("MG202", Some(3), fp(LEGACY))]
    );
}

#[test]
fn single_byte_code_page_script_keeps_columns() {
    let found = scan("scripts/cp1252.bat", "x/cp1252.BAT", FileKind::Script);
    assert_eq!(rows(&found), vec![("MG201", Some(2), fp(KEY_F))]);
    assert_eq!(found[0].column(), Some(16));
    assert_eq!(covered("scripts/cp1252.bat", &found[0]), KEY_F);
}

#[test]
fn utf16_big_endian_script() {
    let found = scan("scripts/utf16be.wsf", "x/utf16be.wsf", FileKind::Script);
    assert_eq!(rows(&found), vec![("MG202", Some(2), fp(KEY_G))]);
    assert_eq!(covered("scripts/utf16be.wsf", &found[0]), KEY_G);
}

#[test]
fn click_to_run_configuration() {
    let found = scan("office/odt-2024.xml", "Office/odt-2024.xml", FileKind::OfficeClickToRun);
    assert_eq!(
        rows(&found),
        vec![("MG211", Some(6), fp(RETAIL)), ("MG211", Some(10), fp(CSVLK))]
    );
    assert_eq!(found[0].detail.click_to_run_product_id(), Some("VisioPro2024Volume"));
    assert_eq!(found[1].detail.click_to_run_product_id(), None);
    assert!(found[1].message.contains("comment"));
    assert_eq!(covered("office/odt-2024.xml", &found[0]), RETAIL);
}

#[test]
fn msi_configuration() {
    let found = scan("office/msi-config.xml", "ProPlus.WW/config.xml", FileKind::OfficeMsi);
    assert_eq!(
        rows(&found),
        vec![("MG212", Some(3), fp(KEY_A)), ("MG212", Some(4), fp(LEGACY))]
    );
    assert!(!found[0].spelling().bare, "this one is written with dashes");
    assert!(found[1].spelling().bare);
    assert_eq!(found[1].detail.msi_product(), None);
    assert_eq!(covered("office/msi-config.xml", &found[1]), LEGACY.replace('-', ""));
}

#[test]
fn malformed_office_xml_is_mg902_and_keys_before_the_error_count() {
    let found = scan("office/malformed.xml", "configuration.xml", FileKind::OfficeClickToRun);
    assert_eq!(
        rows(&found),
        vec![("MG211", Some(3), fp(KEY_B)), ("MG902", Some(4), None)]
    );
}

#[test]
fn mdt_custom_settings() {
    let found = scan(
        "ini/CustomSettings.ini",
        "Control/CustomSettings.ini",
        FileKind::DeploymentIni,
    );
    // The commented-out key still ships with the share: the text rule reports it.
    assert_eq!(
        rows(&found),
        vec![("MG241", Some(8), fp(KEY_C)), ("MG221", Some(10), fp(KEY_D))]
    );
}

#[test]
fn mdt_bootstrap_with_quotes() {
    let found = scan("ini/Bootstrap.ini", "Control/Bootstrap.ini", FileKind::DeploymentIni);
    assert_eq!(rows(&found), vec![("MG221", Some(6), fp(LEGACY_2))]);
    assert_eq!(covered("ini/Bootstrap.ini", &found[0]), LEGACY_2);
}

#[test]
fn install_media_files() {
    let found = scan("ini/pid.txt", "sources/pid.txt", FileKind::PidTxt);
    assert_eq!(rows(&found), vec![("MG231", Some(2), fp(KEY_E))]);
    let found = scan("ini/SetupConfig.ini", "WSUS/SetupConfig.ini", FileKind::SetupConfigIni);
    assert_eq!(rows(&found), vec![("MG231", Some(3), fp(KEY_F))]);
    let found = scan("ini/ei.cfg", "sources/ei.cfg", FileKind::EiCfg);
    assert_eq!(rows(&found), vec![("MG232", Some(3), None)]);
    assert!(
        found[0].message.contains("EditionID Professional, Channel OEM, VL 0"),
        "{}",
        found[0].message
    );
}

#[test]
fn text_files_report_checksum_valid_keys_and_key_words_only() {
    let found = scan("text/notes.txt", "notes.txt", FileKind::Text);
    assert_eq!(
        rows(&found),
        vec![("MG241", Some(3), fp(LEGACY)), ("MG241", Some(4), fp(KEY_G))]
    );
    let found = scan("text/inventory.json", "inventory.json", FileKind::Text);
    assert_eq!(
        rows(&found),
        vec![("MG241", Some(3), fp(LEGACY_2)), ("MG241", Some(3), fp(BAD_CHECKSUM))]
    );
    let found = scan("text/import.reg", "import.reg", FileKind::Text);
    assert_eq!(
        rows(&found),
        vec![("MG241", Some(4), fp(LEGACY)), ("MG241", Some(5), fp(KEY_A))]
    );
}

#[test]
fn no_message_shows_a_key_in_full() {
    let fixtures = [
        ("scripts/edition.cmd", "edition.cmd"),
        ("office/odt-2024.xml", "odt.xml"),
        ("ini/CustomSettings.ini", "CustomSettings.ini"),
        ("text/notes.txt", "notes.txt"),
    ];
    for (fixture_path, name) in fixtures {
        let bytes = fixture(fixture_path);
        let kind = detect_kind(name, &bytes).unwrap();
        let path = FindingPath::new(name);
        let ctx = FileContext {
            path: &path,
            key_config: None,
        };
        for finding in scan_file_bytes(kind, &bytes, &ctx) {
            let key = finding.key.as_ref().unwrap().key.reveal_unmasked().to_string();
            assert!(!finding.message.contains(&key[..23]), "{fixture_path}: key in message");
        }
    }
}

#[test]
fn names_that_are_no_candidates() {
    for name in [
        "Windows/System32/ntdll.dll",
        "Windows/WinSxS/x/y.manifest",
        "a/b.cat",
        "Windows/System32/config/SYSTEM",
    ] {
        assert_eq!(candidate_by_name(name), None, "{name}");
    }
}
