//! Installed-key rules over SOFTWARE hives written by hivex (`hivexregedit --merge`), read
//! through `scan_image_root` exactly as the walk calls it.

mod common_hive;

use std::path::Path;

use common_hive::{build_image_root, digital_product_id, digital_product_id4, enterprise_identity_values, reg_hex};
use makguard_core::catalog::windows_gvlk_for;
use makguard_core::{ClassSource, Finding, KeyClass, ProductKey, Severity};
use makguard_scan::testing::{ImageScan, scan_image_root};

const HIVE_PATH: &str = "Windows/System32/config/SOFTWARE";
const CV: &str = r"[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion]";
const SPP: &str = r"[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion\SoftwareProtectionPlatform]";
const RUN: &str = r"[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Run]";
const RUN_ONCE: &str = r"[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\RunOnce]";

const MAK: &str = "6QWQ4-8NRCW-KHGHV-CR226-3PPQC";
const MAK_BACKUP: &str = "NMVQ8-C6P9M-GWX2J-9G4QJ-H82QC";
const MAK_RUNONCE: &str = "YNTHT-YF2BV-TTMDY-RHH7J-VCPQD";
const RETAIL: &str = "9G4BR-NKWJV-XC3WT-FMHYF-FYHFV";
const RETAIL_2: &str = "HBJN8-DQ2DB-VP47J-YMFCH-W8QRV";
const CSVLK: &str = "NCV9B-6GGCB-W848Q-QTQJW-BP992";
const ENTERPRISE_GVLK: &str = "NPPR9-FWDCX-D2C8J-H872K-2YT43";

fn key(text: &str) -> ProductKey {
    ProductKey::parse(text).unwrap()
}

/// `"DigitalProductId"=hex:…` for an N-form key.
fn dpid_line(text: &str) -> String {
    let value = key(text).decode().unwrap().value;
    format!(
        "\"DigitalProductId\"={}",
        reg_hex("hex", &digital_product_id(value, true))
    )
}

fn dpid4_line(edition: &str, key_type: &str) -> String {
    format!(
        "\"DigitalProductId4\"={}",
        reg_hex("hex", &digital_product_id4(edition, key_type))
    )
}

fn identity(edition: &str, build: u32) -> String {
    format!("\"EditionID\"=\"{edition}\"\n\"CurrentBuild\"=\"{build}\"\n\"ProductName\"=\"Test {edition}\"")
}

/// Builds an image root from `.reg` text and scans it; `None` when hivex is missing and skipping is allowed.
fn scan_reg(reg_text: &str, with_pkeyconfig: bool) -> Option<(tempfile::TempDir, ImageScan)> {
    if !common_hive::require_tool("hivexregedit") {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    build_image_root(dir.path(), reg_text, with_pkeyconfig);
    let result = scan_image_root(dir.path(), "image", &[]);
    Some((dir, result))
}

fn codes(scan: &ImageScan) -> Vec<&'static str> {
    scan.findings.iter().map(|f| f.rule.code).collect()
}

fn only<'a>(scan: &'a ImageScan, code: &str) -> &'a Finding {
    let matching: Vec<&Finding> = scan.findings.iter().filter(|f| f.rule.code == code).collect();
    assert_eq!(matching.len(), 1, "expected one {code}: {:#?}", scan.findings);
    matching[0]
}

/// Every installed-key finding's common shape: at the hive, no position, remediation naming `gvlk`.
fn assert_installed(finding: &Finding, gvlk: &str) {
    assert_eq!(finding.path().display, HIVE_PATH);
    assert_eq!((finding.line(), finding.column(), finding.range()), (None, None, None));
    let remediation = finding.remediation().expect("remediation");
    for command in [
        format!("DISM /Image:<mount> /Set-ProductKey:{gvlk}"),
        format!("slmgr /ipk {gvlk}"),
        "slmgr /cpky".to_string(),
    ] {
        assert!(
            remediation.contains(&command),
            "remediation lacks {command}: {remediation}"
        );
        assert!(
            finding.message.contains(&command),
            "message lacks {command}: {}",
            finding.message
        );
    }
}

fn assert_key(finding: &Finding, text: &str, class: KeyClass, source: ClassSource) {
    let info = finding.key.as_ref().expect("finding carries the key");
    assert_eq!(info.key, key(text));
    assert_eq!(info.key.fingerprint(), key(text).fingerprint());
    assert_eq!(info.classification.class, class, "{}", finding.message);
    assert_eq!(info.classification.source, source, "{}", finding.message);
    // The message names the source that classified the key, or says no source knew it.
    let named = if source == ClassSource::Shape {
        "unknown channel"
    } else {
        source.as_str()
    };
    assert!(finding.message.contains(named), "{}", finding.message);
    if !key(text).is_gvlk() {
        assert!(
            !finding.message.contains(text),
            "full key in message: {}",
            finding.message
        );
        assert!(finding.message.contains(&key(text).masked()), "{}", finding.message);
    }
}

fn mak_image_reg() -> String {
    format!(
        "{CV}\n{}\n{}\n{}\n\n{SPP}\n\"BackupProductKeyDefault\"=\"{MAK_BACKUP}\"\n\n{RUN}\n\"SetKms\"=\"cscript //nologo C:\\\\Windows\\\\System32\\\\slmgr.vbs /ipk {ENTERPRISE_GVLK}\"\n\"Other\"=\"C:\\\\Tools\\\\agent.exe\"\n\n{RUN_ONCE}\n\"Activate\"=\"cscript //nologo C:\\\\Windows\\\\System32\\\\slmgr.vbs /ipk {MAK_RUNONCE}\"\n",
        enterprise_identity_values(),
        dpid_line(MAK),
        dpid4_line("Enterprise", "Volume:MAK"),
    )
}

#[test]
fn installed_mak_backup_key_and_runonce_are_reported_with_the_enterprise_gvlk() {
    let Some((_dir, scan)) = scan_reg(&mak_image_reg(), true) else {
        return;
    };
    assert_eq!(scan.info.edition_id.as_deref(), Some("Enterprise"));
    assert_eq!(scan.info.build, Some(22631));
    assert_eq!(scan.info.ubr, Some(0x1130));
    assert_eq!(scan.info.display_version.as_deref(), Some("23H2"));
    assert_eq!(scan.info.installation_type.as_deref(), Some("Client"));
    assert_eq!(scan.info.product_name.as_deref(), Some("Windows 10 Enterprise"));
    assert_eq!(scan.info.root, "image");
    assert_eq!(
        scan.info.key_configuration_files,
        ["Windows/System32/spp/tokens/pkeyconfig/pkeyconfig.xrm-ms"]
    );
    assert_eq!(scan.software_hive.as_deref(), Some(HIVE_PATH));
    assert!(scan.files_read.contains(&HIVE_PATH.to_string()));
    assert_eq!(
        windows_gvlk_for("Enterprise", Some(22631)).unwrap().key,
        key(ENTERPRISE_GVLK)
    );

    let mut found = codes(&scan);
    found.sort_unstable();
    assert_eq!(found, ["MG301", "MG305", "MG306"], "{:#?}", scan.findings);

    let mak = only(&scan, "MG301");
    assert_eq!(mak.severity, Severity::Error);
    assert_installed(mak, ENTERPRISE_GVLK);
    assert_key(mak, MAK, KeyClass::Mak, ClassSource::RegistryKeyType);
    assert_eq!(
        mak.key.as_ref().unwrap().classification.edition_id.as_deref(),
        Some("Enterprise")
    );
    assert!(
        mak.message
            .contains(r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\DigitalProductId4")
    );
    assert!(mak.message.contains("Volume:MAK"));
    assert!(
        mak.message.contains("image key configuration agrees"),
        "{}",
        mak.message
    );

    let backup = only(&scan, "MG305");
    assert_installed(backup, ENTERPRISE_GVLK);
    assert_key(backup, MAK_BACKUP, KeyClass::Mak, ClassSource::ImageKeyConfiguration);
    assert!(
        backup
            .message
            .contains("SoftwareProtectionPlatform\\BackupProductKeyDefault")
    );
    assert!(
        backup.message.contains("Synthetic Enterprise Volume:MAK"),
        "{}",
        backup.message
    );

    let run_once = only(&scan, "MG306");
    assert_installed(run_once, ENTERPRISE_GVLK);
    assert_key(run_once, MAK_RUNONCE, KeyClass::Mak, ClassSource::ImageKeyConfiguration);
    assert!(
        run_once.message.contains(r"CurrentVersion\RunOnce\Activate"),
        "{}",
        run_once.message
    );
    assert!(run_once.message.contains("slmgr /ipk"));
    assert!(run_once.remediation().unwrap().contains("reg delete"));
}

#[test]
fn findings_snapshot_shows_only_masked_keys() {
    let Some((_dir, scan)) = scan_reg(&mak_image_reg(), true) else {
        return;
    };
    let mut findings: Vec<&Finding> = scan.findings.iter().collect();
    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    let mut out = format!("image: {}\n", scan.info.describe());
    for f in findings {
        out.push_str(&format!(
            "{} {} {} at {}\n",
            f.rule.code,
            f.rule.name,
            f.severity,
            f.path()
        ));
        if let Some(k) = &f.key {
            out.push_str(&format!(
                "  key: {} {} class={} source={} edition_id={:?}\n",
                k.key,
                k.key.fingerprint(),
                k.classification.class,
                k.classification.source.as_str(),
                k.classification.edition_id
            ));
        }
        out.push_str(&format!("  message: {}\n", f.message));
        out.push_str(&format!("  remediation: {:?}\n", f.remediation()));
    }
    for secret in [MAK, MAK_BACKUP, MAK_RUNONCE] {
        assert!(!out.contains(secret), "snapshot would hold a full non-GVLK key");
    }
    insta::assert_snapshot!("mak_image_findings", out);
}

#[test]
fn each_digital_product_id4_key_type_maps_to_its_rule() {
    struct Case {
        edition: &'static str,
        build: u32,
        key_type: &'static str,
        key: &'static str,
        code: &'static str,
        severity: Severity,
        class: KeyClass,
    }
    let cases = [
        Case {
            edition: "ServerDatacenter",
            build: 20348,
            key_type: "Volume:CSVLK",
            key: CSVLK,
            code: "MG302",
            severity: Severity::Error,
            class: KeyClass::Csvlk,
        },
        Case {
            edition: "Professional",
            build: 19045,
            key_type: "Retail",
            key: RETAIL,
            code: "MG303",
            severity: Severity::Warning,
            class: KeyClass::Retail,
        },
        Case {
            edition: "Professional",
            build: 22631,
            key_type: "OEM:DM",
            key: RETAIL_2,
            code: "MG303",
            severity: Severity::Warning,
            class: KeyClass::Oem,
        },
        Case {
            edition: "Enterprise",
            build: 22631,
            key_type: "Volume:MAK",
            key: MAK,
            code: "MG301",
            severity: Severity::Error,
            class: KeyClass::Mak,
        },
    ];
    for case in cases {
        let reg = format!(
            "{CV}\n{}\n{}\n{}\n",
            identity(case.edition, case.build),
            dpid_line(case.key),
            dpid4_line(case.edition, case.key_type)
        );
        let Some((_dir, scan)) = scan_reg(&reg, true) else {
            return;
        };
        assert_eq!(codes(&scan), [case.code], "{}: {:#?}", case.key_type, scan.findings);
        let finding = &scan.findings[0];
        assert_eq!(finding.severity, case.severity);
        let gvlk = windows_gvlk_for(case.edition, Some(case.build)).unwrap().key.clone();
        assert_installed(finding, gvlk.reveal_unmasked());
        assert_key(finding, case.key, case.class, ClassSource::RegistryKeyType);
        assert_eq!(
            finding.key.as_ref().unwrap().classification.edition_id.as_deref(),
            Some(case.edition)
        );
        assert!(finding.message.contains(case.key_type), "{}", finding.message);
    }
}

#[test]
fn an_installed_gvlk_is_a_note_without_remediation() {
    let reg = format!(
        "{CV}\n{}\n{}\n{}\n",
        enterprise_identity_values(),
        dpid_line(ENTERPRISE_GVLK),
        dpid4_line("Enterprise", "Volume:GVLK")
    );
    let Some((_dir, scan)) = scan_reg(&reg, true) else {
        return;
    };
    assert_eq!(codes(&scan), ["MG300"], "{:#?}", scan.findings);
    let note = &scan.findings[0];
    assert_eq!(note.severity, Severity::Note);
    assert_eq!(note.remediation(), None);
    assert_key(note, ENTERPRISE_GVLK, KeyClass::Gvlk, ClassSource::RegistryKeyType);
    assert!(note.message.contains(ENTERPRISE_GVLK));
}

#[test]
fn digital_product_id_alone_is_classified_by_the_image_key_configuration() {
    let reg = format!("{CV}\n{}\n{}\n", enterprise_identity_values(), dpid_line(MAK));
    let Some((_dir, with_config)) = scan_reg(&reg, true) else {
        return;
    };
    assert_eq!(codes(&with_config), ["MG301"], "{:#?}", with_config.findings);
    assert_key(
        &with_config.findings[0],
        MAK,
        KeyClass::Mak,
        ClassSource::ImageKeyConfiguration,
    );
    assert_installed(&with_config.findings[0], ENTERPRISE_GVLK);

    let Some((_dir, without_config)) = scan_reg(&reg, false) else {
        return;
    };
    assert_eq!(codes(&without_config), ["MG304"], "{:#?}", without_config.findings);
    assert_key(&without_config.findings[0], MAK, KeyClass::NonKms, ClassSource::Shape);
    assert_installed(&without_config.findings[0], ENTERPRISE_GVLK);
    assert!(without_config.info.key_configuration_files.is_empty());
}

#[test]
fn cleared_key_bytes_with_a_mak_key_type_still_report_the_mak() {
    let cleared = reg_hex("hex", &{
        let mut blob = vec![0u8; 164];
        blob[..4].copy_from_slice(&164u32.to_le_bytes());
        blob
    });
    let reg = format!(
        "{CV}\n{}\n\"DigitalProductId\"={cleared}\n{}\n",
        enterprise_identity_values(),
        dpid4_line("Enterprise", "Volume:MAK")
    );
    let Some((_dir, scan)) = scan_reg(&reg, true) else {
        return;
    };
    assert_eq!(codes(&scan), ["MG301"], "{:#?}", scan.findings);
    assert!(scan.findings[0].key.is_none());
    assert!(
        scan.findings[0].message.contains("cleared"),
        "{}",
        scan.findings[0].message
    );
    assert_installed(&scan.findings[0], ENTERPRISE_GVLK);

    // Cleared bytes and no key type: `slmgr /cpky` after a GVLK; nothing to report.
    let reg = format!(
        "{CV}\n{}\n\"DigitalProductId\"={cleared}\n",
        enterprise_identity_values()
    );
    let Some((_dir, scan)) = scan_reg(&reg, true) else {
        return;
    };
    assert!(scan.findings.is_empty(), "{:#?}", scan.findings);
}

#[test]
fn an_edition_without_a_gvlk_says_so() {
    for (edition, says) in [
        (
            "MakguardTestEdition",
            "no KMS client key (GVLK) for edition MakguardTestEdition",
        ),
        // Server 2012 shares EditionID Core; Windows 11 Home has no GVLK at its build.
        ("Core", "edition 'Core' has no KMS client key for build 22631"),
    ] {
        let reg = format!("{CV}\n{}\n{}\n", identity(edition, 22631), dpid_line(RETAIL));
        let Some((_dir, scan)) = scan_reg(&reg, true) else {
            return;
        };
        assert_eq!(codes(&scan), ["MG303"], "{:#?}", scan.findings);
        let remediation = scan.findings[0].remediation().unwrap();
        assert!(remediation.contains(says), "{remediation}");
        assert!(remediation.contains("DISM /Image:<mount> /Set-ProductKey:<GVLK>"));
        assert!(remediation.contains("slmgr /ipk <GVLK>"));
        assert!(remediation.contains("slmgr /cpky"));
        assert!(scan.findings[0].message.ends_with(remediation));
    }
}

#[test]
fn identity_falls_back_to_current_build_number_and_paths_ignore_case() {
    if !common_hive::require_tool("hivexregedit") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let reg = format!(
        "{CV}\n\"EditionID\"=\"Professional\"\n\"CurrentBuildNumber\"=\"19045\"\n\"UBR\"=dword:00000d0b\n\n{SPP}\n\"BackupProductKeyDefault\"=\"W269N-WFGWX-YVC9B-4J6C9-T83GX\"\n"
    );
    common_hive::build_software_hive(&dir.path().join("windows/SYSTEM32/Config"), &reg);
    std::fs::rename(
        dir.path().join("windows/SYSTEM32/Config/SOFTWARE"),
        dir.path().join("windows/SYSTEM32/Config/software"),
    )
    .unwrap();
    let scan = scan_image_root(dir.path(), "lower", &[]);
    assert_eq!(scan.info.edition_id.as_deref(), Some("Professional"));
    assert_eq!(scan.info.build, Some(19045));
    assert_eq!(scan.info.ubr, Some(3339));
    assert_eq!(scan.info.product_name, None);
    assert_eq!(scan.software_hive.as_deref(), Some("windows/SYSTEM32/Config/software"));
    // A GVLK in BackupProductKeyDefault is what an image should hold: no finding.
    assert!(scan.findings.is_empty(), "{:#?}", scan.findings);
    assert!(Path::new(&dir.path().join("windows/SYSTEM32/Config/software")).exists());
}

#[test]
fn when_the_two_sources_disagree_the_worse_verdict_wins() {
    // The key is the public Enterprise GVLK but DigitalProductId4 says a MAK is installed.
    let reg = format!(
        "{CV}\n{}\n{}\n{}\n",
        enterprise_identity_values(),
        dpid_line(ENTERPRISE_GVLK),
        dpid4_line("Enterprise", "Volume:MAK")
    );
    let Some((_dir, scan)) = scan_reg(&reg, true) else {
        return;
    };
    assert_eq!(codes(&scan), ["MG301"], "{:#?}", scan.findings);
    assert_key(
        &scan.findings[0],
        ENTERPRISE_GVLK,
        KeyClass::Mak,
        ClassSource::RegistryKeyType,
    );
    assert!(
        scan.findings[0]
            .message
            .contains("the key's own group says KMS client key (GVLK)"),
        "{}",
        scan.findings[0].message
    );

    // DigitalProductId4 says Retail, but the image's key configuration puts the key in a MAK group.
    let reg = format!(
        "{CV}\n{}\n{}\n{}\n",
        enterprise_identity_values(),
        dpid_line(MAK),
        dpid4_line("Enterprise", "Retail")
    );
    let Some((_dir, scan)) = scan_reg(&reg, true) else {
        return;
    };
    assert_eq!(codes(&scan), ["MG301"], "{:#?}", scan.findings);
    assert_key(
        &scan.findings[0],
        MAK,
        KeyClass::Mak,
        ClassSource::ImageKeyConfiguration,
    );
    assert!(
        scan.findings[0].message.contains("`Retail`"),
        "{}",
        scan.findings[0].message
    );
}

#[test]
fn the_32_bit_view_is_read_and_a_mirrored_key_is_reported_once() {
    let wow_cv = r"[HKEY_LOCAL_MACHINE\SOFTWARE\WOW6432Node\Microsoft\Windows NT\CurrentVersion]";
    let wow_spp =
        r"[HKEY_LOCAL_MACHINE\SOFTWARE\WOW6432Node\Microsoft\Windows NT\CurrentVersion\SoftwareProtectionPlatform]";
    let mirrored = format!(
        "{CV}\n{}\n{}\n\n{wow_cv}\n{}\n",
        enterprise_identity_values(),
        dpid_line(MAK),
        dpid_line(MAK)
    );
    let Some((_dir, scan)) = scan_reg(&mirrored, true) else {
        return;
    };
    assert_eq!(codes(&scan), ["MG301"], "{:#?}", scan.findings);
    assert!(scan.findings[0].message.contains(r"SOFTWARE\Microsoft\Windows NT"));

    let only_wow = format!(
        "{CV}\n{}\n\n{wow_spp}\n\"BackupProductKeyDefault\"=\"{MAK_BACKUP}\"\n",
        enterprise_identity_values()
    );
    let Some((_dir, scan)) = scan_reg(&only_wow, true) else {
        return;
    };
    assert_eq!(codes(&scan), ["MG305"], "{:#?}", scan.findings);
    assert!(
        scan.findings[0]
            .message
            .contains(r"HKLM\SOFTWARE\WOW6432Node\Microsoft\Windows NT\CurrentVersion\SoftwareProtectionPlatform"),
        "{}",
        scan.findings[0].message
    );
    assert_key(
        &scan.findings[0],
        MAK_BACKUP,
        KeyClass::Mak,
        ClassSource::ImageKeyConfiguration,
    );
}

#[test]
fn run_values_of_every_string_type_are_read() {
    // REG_EXPAND_SZ, UTF-16LE with its NUL, as regedit writes `hex(2):`.
    let command = format!("%SystemRoot%\\System32\\cscript.exe //B %SystemRoot%\\System32\\slmgr.vbs -ipk {RETAIL}");
    let expand: Vec<u8> = command.encode_utf16().chain([0]).flat_map(u16::to_le_bytes).collect();
    let reg = format!(
        "{CV}\n{}\n\n{RUN}\n\"Expand\"={}\n\"NoKey\"=\"slmgr.vbs /ato\"\n\"KeyWithoutInstall\"=\"notepad {MAK}\"\n",
        enterprise_identity_values(),
        reg_hex("hex(2)", &expand)
    );
    let Some((_dir, scan)) = scan_reg(&reg, true) else {
        return;
    };
    // The key no install command precedes is a literal in a logon command: MG311, not MG306.
    assert_eq!(codes(&scan), ["MG306", "MG311"], "{:#?}", scan.findings);
    let literal = only(&scan, "MG311");
    assert_key(literal, MAK, KeyClass::Mak, ClassSource::ImageKeyConfiguration);
    assert!(
        literal.message.contains(r"CurrentVersion\Run\KeyWithoutInstall"),
        "{}",
        literal.message
    );
    let finding = &scan.findings[0];
    assert_key(finding, RETAIL, KeyClass::Retail, ClassSource::ImageKeyConfiguration);
    assert!(
        finding.message.contains(r"CurrentVersion\Run\Expand"),
        "{}",
        finding.message
    );
    assert_installed(finding, ENTERPRISE_GVLK);
}
