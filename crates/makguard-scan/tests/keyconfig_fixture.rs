//! The pkeyconfig parser against the synthetic fixture (tests/fixtures/pkeyconfig), whose
//! base64 was written by coreutils `base64`, and against damaged and reordered variants.

use std::path::Path;
use std::process::Command;

use makguard_core::{ClassSource, KeyClass, ProductKey, classify_key};
use makguard_scan::testing::scan_image_root;
use makguard_scan::testing::{decode_base64, find_key_config_files, parse_key_config};
use makguard_scan::{KeyConfigError, load_key_config_file};

const FIXTURE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pkeyconfig");

fn fixture() -> Vec<u8> {
    std::fs::read(Path::new(FIXTURE_DIR).join("pkeyconfig.xrm-ms")).unwrap()
}

fn payload_xml() -> String {
    std::fs::read_to_string(Path::new(FIXTURE_DIR).join("payload.xml")).unwrap()
}

/// A licence around `base64` built like the fixture (prefix `tm`, the real `XrML` namespaces).
fn licence(base64: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><rg:licenseGroup xmlns:rg="urn:mpeg:mpeg21:2003:01-REL-R-NS:licenseGroup"><r:license xmlns:r="urn:mpeg:mpeg21:2003:01-REL-R-NS"><r:otherInfo><tm:infoTables xmlns:tm="http://www.microsoft.com/DRM/XrML2/TM/v2"><tm:infoList tag="&#35;global"><tm:infoBin name="somethingElse">AAAA</tm:infoBin></tm:infoList><tm:infoList tag="&#35;pkeyConfigData"><tm:infoBin name="pkeyConfigData">{base64}</tm:infoBin></tm:infoList></tm:infoTables></r:otherInfo></r:license></rg:licenseGroup>"#
    )
}

/// coreutils `base64 -w0`: an encoder makguard did not write.
fn coreutils_base64(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new("base64")
        .arg("-w0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("coreutils base64");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn fixture_payload_decodes_to_the_committed_xml() {
    let text = String::from_utf8(fixture()).unwrap();
    let start = text.find(r#"name="pkeyConfigData">"#).unwrap() + r#"name="pkeyConfigData">"#.len();
    let end = start + text[start..].find("</tm:infoBin>").unwrap();
    let decoded = decode_base64(&text[start..end]).unwrap();
    assert_eq!(String::from_utf8(decoded).unwrap(), payload_xml());
}

#[test]
fn fixture_groups_have_their_types_and_editions() {
    let index = load_key_config_file(&Path::new(FIXTURE_DIR).join("pkeyconfig.xrm-ms"), "fixture.xrm-ms").unwrap();
    assert_eq!(index.len(), 5);
    for (group, key_type, edition) in [
        (3290, "Volume:GVLK", "Enterprise"),
        (990001, "Volume:MAK", "Enterprise"),
        (990002, "Volume:MAK", "Enterprise"),
        (990101, "Retail", "Professional"),
        (990201, "Volume:CSVLK", "ServerDatacenter"),
    ] {
        let info = index.group(group).unwrap_or_else(|| panic!("group {group} missing"));
        assert_eq!(info.product_key_type, key_type);
        assert_eq!(info.edition_id, edition);
        assert_eq!(info.source_file, "fixture.xrm-ms");
        assert!(info.act_config_id.starts_with('{') && info.act_config_id.ends_with('}'));
    }
    assert_eq!(
        index.group(3290).unwrap().act_config_id,
        "{73111121-5638-40f6-bc11-f1d7b0d64300}"
    );
    assert!(index.group(990003).is_none());
}

#[test]
fn synthetic_keys_classify_through_the_fixture() {
    let index = parse_key_config(&fixture(), "pkeyconfig.xrm-ms").unwrap();
    for (key, class) in [
        ("6QWQ4-8NRCW-KHGHV-CR226-3PPQC", KeyClass::Mak),
        ("YNTHT-YF2BV-TTMDY-RHH7J-VCPQD", KeyClass::Mak),
        ("9G4BR-NKWJV-XC3WT-FMHYF-FYHFV", KeyClass::Retail),
        ("NCV9B-6GGCB-W848Q-QTQJW-BP992", KeyClass::Csvlk),
    ] {
        let key = ProductKey::parse(key).unwrap();
        let c = classify_key(&key, Some(&index));
        assert_eq!(c.class, class, "{key}");
        assert_eq!(c.source, ClassSource::ImageKeyConfiguration);
        assert!(c.describe().contains("image key configuration"));
    }
    // A checksum-failing key never takes a group's class.
    let bad = ProductKey::parse("FRYPW-J6N9G-4BHXK-4BMQ3-3GXXP").unwrap();
    assert_eq!(classify_key(&bad, Some(&index)).class, KeyClass::NonKms);
}

#[test]
fn one_line_payload_with_bom_and_any_prefix_parses() {
    let payload = payload_xml();
    let mut with_bom = b"\xEF\xBB\xBF".to_vec();
    with_bom.extend_from_slice(payload.as_bytes());
    let text = licence(&coreutils_base64(&with_bom))
        .replace("tm:", "x:")
        .replace("xmlns:tm", "xmlns:x");
    let index = parse_key_config(text.as_bytes(), "one-line").unwrap();
    assert_eq!(index.len(), 5);
    // UTF-16LE licence text, as some tools re-save it.
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(
        licence(&coreutils_base64(payload.as_bytes()))
            .encode_utf16()
            .flat_map(u16::to_le_bytes),
    );
    assert_eq!(parse_key_config(&utf16, "utf16").unwrap().len(), 5);
}

#[test]
fn damaged_files_give_typed_errors() {
    let payload = payload_xml();
    let no_payload = licence("AAAA").replace(r#"name="pkeyConfigData""#, r#"name="other""#);
    assert!(matches!(
        parse_key_config(no_payload.as_bytes(), "f"),
        Err(KeyConfigError::NoPayload { .. })
    ));
    assert!(matches!(
        parse_key_config(licence("!!notbase64!!").as_bytes(), "f"),
        Err(KeyConfigError::Base64 { .. })
    ));
    assert!(matches!(
        parse_key_config(licence(&coreutils_base64(&[0xC3, 0x28, 0xFF])).as_bytes(), "f"),
        Err(KeyConfigError::PayloadEncoding { .. })
    ));
    let other_root = coreutils_base64(b"<Something><Configurations/></Something>");
    assert!(matches!(
        parse_key_config(licence(&other_root).as_bytes(), "f"),
        Err(KeyConfigError::NotProductKeyConfiguration { found, .. }) if found == "Something"
    ));
    let truncated = coreutils_base64(&payload.as_bytes()[..payload.len() / 2]);
    assert!(matches!(
        parse_key_config(licence(&truncated).as_bytes(), "f"),
        Err(KeyConfigError::PayloadXml { .. })
    ));
    let bad_group = coreutils_base64(
        payload
            .replacen("<RefGroupId>990002<", "<RefGroupId>99x<", 1)
            .as_bytes(),
    );
    assert!(matches!(
        parse_key_config(licence(&bad_group).as_bytes(), "f"),
        Err(KeyConfigError::BadGroup { index: 3, .. })
    ));
    let empty = coreutils_base64(
        br#"<ProductKeyConfiguration xmlns="http://www.microsoft.com/DRM/PKEY/Configuration/2.0"><Configurations/></ProductKeyConfiguration>"#,
    );
    assert!(matches!(
        parse_key_config(licence(&empty).as_bytes(), "f"),
        Err(KeyConfigError::NoConfigurations { .. })
    ));
    let fixture_text = String::from_utf8(fixture()).unwrap();
    let cut = &fixture_text[..fixture_text.len() - 40];
    assert!(parse_key_config(cut.as_bytes(), "f").is_err());
    let after_payload = &fixture_text[..fixture_text.find("</tm:infoBin>").unwrap() + "</tm:infoBin>".len()];
    assert!(matches!(
        parse_key_config(after_payload.as_bytes(), "f"),
        Err(KeyConfigError::LicenceXml { .. })
    ));
    let missing = load_key_config_file(Path::new("/nonexistent/pkeyconfig.xrm-ms"), "gone.xrm-ms");
    assert!(matches!(missing, Err(KeyConfigError::Io { path, .. }) if path == "gone.xrm-ms"));
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn image_files_are_found_case_insensitively_in_load_order() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let pk = "windows/SYSTEM32/Spp/TOKENS/PKeyConfig";
    write(&root.join(pk).join("PKEYCONFIG-CSVLK.XRM-MS"), b"x");
    write(&root.join(pk).join("pkeyconfig-downlevel.xrm-ms"), b"x");
    write(&root.join(pk).join("PKeyConfig.xrm-ms"), b"x");
    write(&root.join(pk).join("unrelated.xrm-ms"), b"x");
    write(
        &root.join("Program Files/Microsoft Office/root/Licenses16/pkeyconfig-office.xrm-ms"),
        b"x",
    );
    write(
        &root.join("Program Files/Microsoft Office/root/Licenses16/client-issuance-bridge-office.xrm-ms"),
        b"x",
    );
    let found: Vec<String> = find_key_config_files(root).into_iter().map(|f| f.display).collect();
    assert_eq!(
        found,
        [
            format!("{pk}/PKeyConfig.xrm-ms"),
            format!("{pk}/pkeyconfig-downlevel.xrm-ms"),
            format!("{pk}/PKEYCONFIG-CSVLK.XRM-MS"),
            "Program Files/Microsoft Office/root/Licenses16/pkeyconfig-office.xrm-ms".to_string(),
        ]
    );
}

#[test]
fn first_file_to_define_a_group_wins_and_a_broken_file_is_mg904() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let pk = root.join("Windows/System32/spp/tokens/pkeyconfig");
    write(&pk.join("pkeyconfig.xrm-ms"), &fixture());
    // The downlevel file sorts first by name but loads second: its Retail 990001 must lose.
    let downlevel = payload_xml()
        .replace(
            "<ProductKeyType>Volume:MAK</ProductKeyType>",
            "<ProductKeyType>Retail</ProductKeyType>",
        )
        .replace("<RefGroupId>3290</RefGroupId>", "<RefGroupId>777</RefGroupId>");
    write(
        &pk.join("pkeyconfig-downlevel.xrm-ms"),
        licence(&coreutils_base64(downlevel.as_bytes())).as_bytes(),
    );
    write(&pk.join("pkeyconfig-csvlk.xrm-ms"), licence("%%%").as_bytes());

    let scan = scan_image_root(root, "img", &[]);
    assert_eq!(scan.key_config.group(990001).unwrap().product_key_type, "Volume:MAK");
    assert_eq!(
        scan.key_config.group(990001).unwrap().source_file,
        "Windows/System32/spp/tokens/pkeyconfig/pkeyconfig.xrm-ms"
    );
    assert_eq!(scan.key_config.group(777).unwrap().product_key_type, "Volume:GVLK");
    assert_eq!(
        scan.info.key_configuration_files,
        [
            "Windows/System32/spp/tokens/pkeyconfig/pkeyconfig.xrm-ms",
            "Windows/System32/spp/tokens/pkeyconfig/pkeyconfig-downlevel.xrm-ms",
        ]
    );
    let broken: Vec<_> = scan.findings.iter().filter(|f| f.rule.code == "MG904").collect();
    assert_eq!(broken.len(), 1, "{:#?}", scan.findings);
    assert_eq!(
        broken[0].path().display,
        "Windows/System32/spp/tokens/pkeyconfig/pkeyconfig-csvlk.xrm-ms"
    );
    assert!(broken[0].message.contains("base64"), "{}", broken[0].message);
    assert!(scan.files_read.iter().any(|f| f.ends_with("pkeyconfig-csvlk.xrm-ms")));
}

#[test]
fn extra_key_config_files_load_after_the_images_own() {
    let dir = tempfile::tempdir().unwrap();
    let extra = dir.path().join("loose.xrm-ms");
    write(&extra, &fixture());
    let scan = scan_image_root(&dir.path().join("not-an-image"), "x", std::slice::from_ref(&extra));
    assert_eq!(scan.key_config.len(), 5);
    assert_eq!(scan.info.key_configuration_files, [extra.display().to_string()]);
    assert!(scan.findings.is_empty(), "{:#?}", scan.findings);
    assert!(scan.files_read.is_empty(), "{:?}", scan.files_read);
}
