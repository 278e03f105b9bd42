//! Every fix kind in every encoding (UTF-8, UTF-8 with BOM, UTF-16LE and UTF-16BE with BOM,
//! all CRLF): only the key's bytes change, the key span holds the GVLK, the change log
//! accounts for every changed byte, and a second run changes nothing.

mod common;

use std::fs;

use common::*;
use makguard_core::text;
use makguard_core::{Rule, rules};
use makguard_fix::{ApplyOptions, FileStatus, KeyChoice, apply, differing_byte_ranges, plan};
use sha2::{Digest, Sha256};

struct Kind {
    name: &'static str,
    file: &'static str,
    text: String,
    rule: &'static Rule,
    hints: Hints,
    /// The GVLK text expected in the key span (bare for MSI).
    expected: String,
}

fn kinds() -> Vec<Kind> {
    let windows = || Hints::default();
    vec![
        Kind {
            name: "answer_file_key",
            file: "autounattend.xml",
            text: format!(
                r#"<?xml version="1.0" encoding="utf-8"?>
<unattend xmlns="urn:schemas-microsoft-com:unattend">
  <settings pass="windowsPE">
    <component name="Microsoft-Windows-Setup" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" language="neutral" versionScope="nonSxS">
      <UserData>
        <ProductKey>
          <Key>{MAK_A}</Key>
          <WillShowUI>OnError</WillShowUI>
        </ProductKey>
        <AcceptEula>true</AcceptEula>
      </UserData>
    </component>
  </settings>
</unattend>
"#
            ),
            rule: &rules::UNATTEND_NON_KMS_KEY,
            hints: windows(),
            expected: ENTERPRISE_GVLK.to_string(),
        },
        Kind {
            name: "shell_setup_product_key",
            file: "unattend.xml",
            text: format!(
                r#"<?xml version="1.0" encoding="utf-8"?>
<unattend xmlns="urn:schemas-microsoft-com:unattend">
  <settings pass="specialize">
    <component name="Microsoft-Windows-Shell-Setup" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" language="neutral" versionScope="nonSxS" xmlns:wcm="http://schemas.microsoft.com/WMIConfig/2002/State">
      <ComputerName>*</ComputerName>
      <ProductKey>{}</ProductKey>
      <TimeZone>UTC</TimeZone>
    </component>
  </settings>
</unattend>
"#,
                MAK_B.to_lowercase()
            ),
            rule: &rules::UNATTEND_NON_KMS_KEY,
            hints: windows(),
            expected: ENTERPRISE_GVLK.to_string(),
        },
        Kind {
            name: "key_in_comment",
            file: "unattend.xml",
            text: format!(
                r#"<?xml version="1.0" encoding="utf-8"?>
<unattend xmlns="urn:schemas-microsoft-com:unattend">
  <!-- old MAK, do not use: {MAK_C} -->
  <settings pass="oobeSystem">
    <component name="Microsoft-Windows-Shell-Setup" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" language="neutral" versionScope="nonSxS">
      <OOBE><HideEULAPage>true</HideEULAPage></OOBE>
    </component>
  </settings>
</unattend>
"#
            ),
            rule: &rules::UNATTEND_KEY_IN_COMMENT,
            hints: windows(),
            expected: ENTERPRISE_GVLK.to_string(),
        },
        Kind {
            name: "script_slmgr_ipk",
            file: "SetupComplete.cmd",
            text: format!(
                "@echo off\nrem activate against KMS\ncscript //b %windir%\\system32\\slmgr.vbs /ipk {MAK_A}\ncscript //b %windir%\\system32\\slmgr.vbs /ato\nexit /b 0\n"
            ),
            rule: &rules::SCRIPT_INSTALLS_KEY,
            hints: windows(),
            expected: ENTERPRISE_GVLK.to_string(),
        },
        Kind {
            name: "office_c2r_pidkey",
            file: "configuration.xml",
            text: format!(
                r#"<Configuration ID="a1b2">
  <Add OfficeClientEdition="64" Channel="PerpetualVL2021">
    <Product ID="ProPlus2021Volume" PIDKEY="{MAK_B}">
      <Language ID="en-us" />
    </Product>
  </Add>
  <Display Level="None" AcceptEULA="TRUE" />
</Configuration>
"#
            ),
            rule: &rules::OFFICE_C2R_NON_KMS_KEY,
            hints: Hints {
                office_product_id: Some("ProPlus2021Volume".to_string()),
                ..Hints::default()
            },
            expected: PROPLUS_2021_GVLK.to_string(),
        },
        Kind {
            name: "office_msi_pidkey_bare",
            file: "config.xml",
            text: format!(
                r#"<Configuration Product="ProPlus">
  <Display Level="none" CompletionNotice="no" SuppressModal="yes" AcceptEula="yes" />
  <PIDKEY Value="{}" />
  <Setting Id="SETUP_REBOOT" Value="Never" />
</Configuration>
"#,
                MAK_C.replace('-', "")
            ),
            rule: &rules::OFFICE_MSI_NON_KMS_KEY,
            hints: Hints {
                office_msi_product: Some("Office Professional Plus 2016".to_string()),
                ..Hints::default()
            },
            expected: PROPLUS_2016_GVLK.replace('-', ""),
        },
        Kind {
            name: "pid_txt_value",
            file: "pid.txt",
            text: format!("[PID]\nValue={MAK_A}\n"),
            rule: &rules::INSTALL_MEDIA_NON_KMS_KEY,
            hints: windows(),
            expected: ENTERPRISE_GVLK.to_string(),
        },
        Kind {
            name: "ini_product_key",
            file: "CustomSettings.ini",
            text: format!(
                "[Settings]\nPriority=Default\n\n[Default]\nOSInstall=Y\nProductKey={MAK_B}\nSkipProductKey=YES\n"
            ),
            rule: &rules::DEPLOYMENT_SETTING_NON_KMS_KEY,
            hints: windows(),
            expected: ENTERPRISE_GVLK.to_string(),
        },
    ]
}

fn sha256_hex(bytes: &[u8]) -> String {
    makguard_core::hex::encode(&Sha256::digest(bytes))
}

fn fix_and_check(kind: &Kind, variant: Variant) -> String {
    let context = format!("{} in {variant:?}", kind.name);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(kind.file);
    let original = variant.encode(&kind.text);
    fs::write(&path, &original).unwrap();

    let findings = findings_for(kind.file, &original, kind.rule, &kind.hints);
    assert_eq!(findings.len(), 1, "{context}");
    let old_key = findings[0].key.clone().unwrap().key;
    let mut first = report(dir.path(), Some(enterprise_image("img")), findings);
    let unfixable = plan(&mut first, &KeyChoice::default());
    assert!(unfixable.is_empty(), "{context}: {unfixable:?}");

    let dry = apply(
        &first,
        &ApplyOptions {
            dry_run: true,
            ..ApplyOptions::default()
        },
    )
    .unwrap();
    assert_eq!(dry.files[0].status, FileStatus::DryRun, "{context}");
    assert_eq!(fs::read(&path).unwrap(), original, "{context}: a dry run wrote");
    let diff = dry.unified_diff();

    let log = apply(&first, &ApplyOptions::default()).unwrap();
    assert_eq!(log.files.len(), 1);
    let change = &log.files[0];
    assert_eq!(change.status, FileStatus::Written, "{context}");
    let fixed = fs::read(&path).unwrap();

    // Only the key's bytes changed, and the change log names exactly those bytes.
    assert_eq!(fixed.len(), original.len(), "{context}");
    let ranges = change.changed_byte_ranges();
    assert_eq!(ranges.len(), 1, "{context}");
    for (i, (a, b)) in original.iter().zip(&fixed).enumerate() {
        if !ranges.iter().any(|r| r.start <= i && i < r.end) {
            assert_eq!(a, b, "{context}: byte {i} outside the key span changed");
        }
    }
    for diff_range in differing_byte_ranges(&original, &fixed) {
        assert!(
            ranges
                .iter()
                .any(|r| r.start <= diff_range.start && diff_range.end <= r.end),
            "{context}: change log misses bytes {diff_range:?}"
        );
    }
    assert_eq!(
        &fixed[ranges[0].start..ranges[0].end],
        variant.fragment(&kind.expected).as_slice(),
        "{context}"
    );

    // Same encoding, same line ends; the old key is gone.
    let decoded = text::decode(&fixed);
    assert_eq!(decoded.encoding, variant.encoding(), "{context}");
    assert_eq!(
        decoded.text.matches("\r\n").count(),
        text::decode(&original).text.matches("\r\n").count()
    );
    assert!(
        !decoded.text.to_ascii_uppercase().contains(old_key.reveal_unmasked()),
        "{context}"
    );
    assert!(
        !decoded
            .text
            .to_ascii_uppercase()
            .contains(&old_key.reveal_unmasked().replace('-', ""))
    );

    // The change log records the key, the choice and the hashes.
    let edit = &change.edits[0];
    assert_eq!(edit.rule.code, kind.rule.code);
    assert_eq!(edit.old_key.fingerprint(), old_key.fingerprint());
    assert_eq!(
        edit.new_key.reveal_unmasked().replace('-', ""),
        kind.expected.replace('-', "")
    );
    assert!(!edit.chosen_by.is_empty());
    assert_eq!(change.sha256_before.as_deref(), Some(sha256_hex(&original).as_str()));
    assert_eq!(change.sha256_after.as_deref(), Some(sha256_hex(&fixed).as_str()));
    assert_eq!(
        dry.files[0].sha256_after, change.sha256_after,
        "{context}: dry run predicted other bytes"
    );
    assert_no_full_synthetic_key(&log.to_json());

    // A second run finds nothing to fix and changes nothing.
    let again = findings_for(kind.file, &fixed, kind.rule, &kind.hints);
    assert!(again.is_empty(), "{context}: {again:?}");
    let mut second = report(dir.path(), Some(enterprise_image("img")), again);
    assert!(plan(&mut second, &KeyChoice::default()).is_empty());
    let second_log = apply(&second, &ApplyOptions::default()).unwrap();
    assert!(second_log.files.is_empty(), "{context}");
    assert_eq!(fs::read(&path).unwrap(), fixed, "{context}");
    diff
}

#[test]
fn every_kind_in_every_encoding_changes_only_key_bytes() {
    for kind in kinds() {
        let mut diffs = Vec::new();
        for variant in VARIANTS {
            diffs.push(fix_and_check(&kind, variant));
        }
        // The diff is over the decoded text, so every encoding shows the same one.
        assert!(diffs.windows(2).all(|w| w[0] == w[1]), "{}", kind.name);
        let diff = &diffs[0];
        assert_no_full_synthetic_key(diff);
        assert!(diff.contains("\n+") && diff.contains(&kind.expected), "{}", kind.name);
        insta::assert_snapshot!(format!("dry_run_{}", kind.name), diff);
    }
}

#[test]
fn several_keys_in_one_file_are_fixed_together() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "<?xml version=\"1.0\"?>\n<unattend>\n  <!-- {MAK_A} -->\n  <ProductKey>{MAK_B}</ProductKey>\n  <Key>{ENTERPRISE_GVLK}</Key>\n</unattend>\n"
    );
    let bytes = Variant::Utf16LeBom.encode(&text);
    fs::write(dir.path().join("unattend.xml"), &bytes).unwrap();
    let findings = findings_for("unattend.xml", &bytes, &rules::UNATTEND_NON_KMS_KEY, &Hints::default());
    assert_eq!(findings.len(), 2);
    let mut report = report(dir.path(), Some(enterprise_image("img")), findings);
    assert!(plan(&mut report, &KeyChoice::default()).is_empty());
    let log = apply(&report, &ApplyOptions::default()).unwrap();
    assert_eq!(log.files.len(), 1);
    assert_eq!(log.files[0].changed_byte_ranges().len(), 2);
    let fixed = text::decode(&fs::read(dir.path().join("unattend.xml")).unwrap()).text;
    assert_eq!(fixed.matches(ENTERPRISE_GVLK).count(), 3);
    assert_eq!(
        fixed,
        text.replace('\n', "\r\n")
            .replace(MAK_A, ENTERPRISE_GVLK)
            .replace(MAK_B, ENTERPRISE_GVLK)
    );

    let json: serde_json::Value = serde_json::from_str(&log.to_json()).unwrap();
    assert_eq!(json["version"], 1);
    assert_eq!(json["summary"]["written"], 1);
    assert_eq!(json["summary"]["keys_replaced"], 2);
    let file = &json["files"][0];
    assert_eq!(file["path"], "unattend.xml");
    assert_eq!(file["status"], "written");
    assert_eq!(file["encoding"], "utf-16le-bom");
    let edits = file["edits"].as_array().unwrap();
    assert_eq!(edits[0]["old_key_fingerprint"], key(MAK_A).fingerprint());
    assert_eq!(edits[0]["new_gvlk"], ENTERPRISE_GVLK);
    assert_eq!(edits[0]["chosen_by"], "image EditionID Enterprise, build 22631");
    assert_eq!(edits[0]["rule"], "MG101");
    // UTF-16LE: the BOM (2 bytes) and "<?xml version=\"1.0\"?>\r\n<unattend>\r\n  <!-- " before the key.
    let prefix_units = "<?xml version=\"1.0\"?>\r\n<unattend>\r\n  <!-- ".len();
    assert_eq!(edits[0]["byte_range"]["start"], 2 + 2 * prefix_units);
    assert_eq!(edits[0]["byte_range"]["end"], 2 + 2 * (prefix_units + 29));
}

/// The same fixtures through the real scanners (`makguard_scan::kind::scan_file_bytes`): the
/// findings they report, with their own ranges and hints, plan and apply cleanly.
#[test]
fn findings_from_the_real_scanners_are_fixed() {
    use makguard_core::FindingPath;
    use makguard_scan::FileContext;
    for kind_case in kinds() {
        for variant in [Variant::Utf8, Variant::Utf16LeBom] {
            let context = format!("{} in {variant:?}", kind_case.name);
            let dir = tempfile::tempdir().unwrap();
            let relative = match kind_case.rule.code {
                "MG231" => format!("sources/{}", kind_case.file),
                "MG201" => format!("Windows/Setup/Scripts/{}", kind_case.file),
                "MG221" => format!("DeploymentShare/Control/{}", kind_case.file),
                _ => kind_case.file.to_string(),
            };
            let path = dir.path().join(&relative);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            let original = variant.encode(&kind_case.text);
            fs::write(&path, &original).unwrap();
            let finding_path = FindingPath::new(relative.clone());
            let file_kind = makguard_scan::detect_kind(&relative, &original).expect("a candidate");
            let ctx = FileContext {
                path: &finding_path,
                key_config: None,
            };
            let findings: Vec<_> = makguard_scan::scan_file_bytes(file_kind, &original, &ctx)
                .into_iter()
                .filter(|f| f.rule.is_fixable())
                .collect();
            assert!(!findings.is_empty(), "{context}: the scanner found nothing");
            let mut first = report(dir.path(), Some(enterprise_image("img")), findings);
            let mut unfixable = plan(&mut first, &KeyChoice::default());
            if kind_case.rule.code == "MG212" {
                // An MSI config.xml names the product (`ProPlus`) but not its release, so the
                // user must choose; the message says how.
                assert_eq!(unfixable.len(), 1, "{context}");
                assert!(unfixable[0].reason.contains("--gvlk KEY"), "{context}");
                let choice = KeyChoice::new(None, Some(PROPLUS_2016_GVLK), false).unwrap();
                unfixable = plan(&mut first, &choice);
            }
            if !makguard_fix::choose::in_installation_tree(&relative) {
                // Install media and deployment shares beside the image serve other installs:
                // the image's edition does not judge them, so the user names the edition.
                assert_eq!(unfixable.len(), 1, "{context}");
                assert!(unfixable[0].reason.contains("--edition"), "{context}");
                let choice = KeyChoice::new(Some("Enterprise"), None, false)
                    .unwrap()
                    .with_build(Some(22631));
                unfixable = plan(&mut first, &choice);
            }
            assert!(unfixable.is_empty(), "{context}: {unfixable:?}");
            let log = apply(&first, &ApplyOptions::default()).unwrap();
            assert!(!log.files.is_empty(), "{context}");
            assert!(
                log.files.iter().all(|f| f.status == FileStatus::Written),
                "{context}: {}",
                log.to_json()
            );
            let fixed = fs::read(&path).unwrap();
            assert!(text::decode(&fixed).text.contains(&kind_case.expected), "{context}");
            let again = makguard_scan::scan_file_bytes(file_kind, &fixed, &ctx);
            assert!(
                again
                    .iter()
                    .all(|f| !f.rule.is_fixable() || f.key.as_ref().is_some_and(|k| k.key.is_gvlk())),
                "{context}: {again:?}"
            );
        }
    }
}
