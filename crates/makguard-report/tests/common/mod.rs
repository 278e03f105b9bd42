//! Hand-built scan reports for the format tests: a synthetic MAK with a fix, a GVLK, a
//! registry finding without a line, a suppressed finding, a non-UTF-8 path, an unreadable
//! file (MG901) and a single-file root with malformed XML.
//!
//! Keys come only from ../shared/reference/synthetic-keys.tsv and gvlk.tsv.

#![allow(dead_code)]

use makguard_core::rules;
use makguard_core::{
    Applicability, Detail, Edit, Finding, FindingPath, Fix, ImageInfo, KeyInfo, LineColumn, ProductKey, RootReport,
    ScanReport, ScanSummary, Span, Suppression, TextRange, XmlContext, classify_key,
};
use makguard_report::RenderOptions;
use std::collections::BTreeMap;

/// Synthetic MAK stand-ins (never printed in full by any format without --show-keys).
pub(crate) const SYNTHETIC_MAK: &str = "6QWQ4-8NRCW-KHGHV-CR226-3PPQC";
pub(crate) const SYNTHETIC_MAK_REGISTRY: &str = "NMVQ8-C6P9M-GWX2J-9G4QJ-H82QC";
pub(crate) const SYNTHETIC_MAK_SUPPRESSED: &str = "7N3Q7-T3FJC-Y4CMG-YH7G8-H82QC";
pub(crate) const SYNTHETIC_MAK_ODD_PATH: &str = "N626J-X9XJH-63FFJ-PM9DV-W8QKP";
pub(crate) const SECRET_KEYS: [&str; 4] = [
    SYNTHETIC_MAK,
    SYNTHETIC_MAK_REGISTRY,
    SYNTHETIC_MAK_SUPPRESSED,
    SYNTHETIC_MAK_ODD_PATH,
];
/// Windows 11 Enterprise GVLK (public).
pub(crate) const ENTERPRISE_GVLK: &str = "NPPR9-FWDCX-D2C8J-H872K-2YT43";

pub(crate) const TOOL_VERSION: &str = "0.1.0-test";

pub(crate) fn options() -> RenderOptions {
    RenderOptions::new(TOOL_VERSION)
}

fn key(text: &str) -> KeyInfo {
    let key = ProductKey::parse(text).expect("fixture keys parse");
    let classification = classify_key(&key, None);
    KeyInfo::new(key, classification)
}

fn positioned(mut finding: Finding, line: u32, column: u32, start: usize) -> Finding {
    finding.location.span = Span::Text {
        range: TextRange::new(start, start + 29),
        start: LineColumn { line, column },
    };
    finding
}

fn xml(context: XmlContext) -> Detail {
    Detail::Xml {
        context,
        install_image_name: None,
    }
}

fn image(root: &str) -> ImageInfo {
    ImageInfo {
        root: root.to_string(),
        edition_id: Some("Enterprise".to_string()),
        product_name: Some("Windows 11 Enterprise".to_string()),
        build: Some(22631),
        ubr: Some(4460),
        display_version: Some("23H2".to_string()),
        installation_type: Some("Client".to_string()),
        key_configuration_files: vec!["Windows/System32/spp/tokens/pkeyconfig/pkeyconfig.xrm-ms".to_string()],
    }
}

/// The full report: an image root at `image_root` (a directory) and a single answer file.
pub(crate) fn sample_report(image_root: &str) -> ScanReport {
    let unattend = FindingPath::new("Windows/Panther/unattend.xml");
    let gvlk = ProductKey::parse(ENTERPRISE_GVLK).expect("GVLK parses");

    let mut mak = positioned(
        Finding::new(
            &rules::UNATTEND_NON_KMS_KEY,
            unattend.clone(),
            "Microsoft-Windows-Shell-Setup ProductKey holds a key that is not a KMS client key (GVLK) (*****-*****-*****-*****-3PPQC)",
        ),
        41,
        25,
        1804,
    )
    .with_key(key(SYNTHETIC_MAK));
    mak.detail = xml(XmlContext {
        pass: Some("specialize".to_string()),
        component: Some("Microsoft-Windows-Shell-Setup".to_string()),
        architecture: Some("amd64".to_string()),
        element_path: "ProductKey".to_string(),
        in_comment: false,
    });
    mak.fix = Some(Fix {
        applicability: Applicability::Safe,
        edits: vec![Edit {
            range: TextRange::new(1804, 1833),
            replacement: ENTERPRISE_GVLK.to_string(),
        }],
        new_key: gvlk.clone(),
        chosen_by: "image EditionID Enterprise, build 22631".to_string(),
    });

    let mut gvlk_note = positioned(
        Finding::new(
            &rules::UNATTEND_GVLK,
            unattend.clone(),
            "UserData/ProductKey/Key holds the KMS client key (GVLK) for Windows 11 Enterprise",
        ),
        12,
        22,
        410,
    )
    .with_key(key(ENTERPRISE_GVLK));
    gvlk_note.detail = xml(XmlContext {
        pass: Some("windowsPE".to_string()),
        component: Some("Microsoft-Windows-Setup".to_string()),
        architecture: Some("amd64".to_string()),
        element_path: "UserData/ProductKey/Key".to_string(),
        in_comment: false,
    });

    let mut partial = Finding::new(
        &rules::UNATTEND_PARTIAL_KEY,
        unattend.clone(),
        "A <Key> holds four groups of a key: \"*****-*****-*****-*****\" | truncated",
    );
    partial.location.span = Span::Point(LineColumn { line: 58, column: 9 });

    let mut installed = Finding::new(
        &rules::MAK_INSTALLED,
        FindingPath::new("Windows/System32/config/SOFTWARE"),
        "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\SoftwareProtectionPlatform: BackupProductKeyDefault holds an installed key that is not a KMS client key (GVLK)",
    )
    .with_key(key(SYNTHETIC_MAK_REGISTRY));
    installed.detail = Detail::Remediation(format!(
        "Offline: DISM /Image:<mount> /Set-ProductKey:{ENTERPRISE_GVLK}\nOr before capture: slmgr /ipk {ENTERPRISE_GVLK} then slmgr /cpky"
    ));

    let mut suppressed = positioned(
        Finding::new(
            &rules::SCRIPT_INSTALLS_KEY,
            FindingPath::new("Windows/Setup/Scripts/SetupComplete.cmd"),
            "slmgr /ipk installs a key that is not a KMS client key (GVLK)",
        ),
        3,
        20,
        77,
    )
    .with_key(key(SYNTHETIC_MAK_SUPPRESSED));
    suppressed.suppressed = Some(Suppression {
        justification: "Lab server | no KMS reach: approved MAK, ticket CHG-1234, 100% reviewed".to_string(),
        origin: "makguard.toml:7".to_string(),
    });

    let odd_path = FindingPath {
        display: "Users/caf\u{FFFD}/notes, 50%.txt".to_string(),
        raw_bytes: Some(b"Users/caf\xe9/notes, 50%.txt".to_vec()),
    };
    let odd = positioned(
        Finding::new(
            &rules::TEXT_NON_KMS_KEY,
            odd_path,
            "A text file holds a checksum-valid key that is not a KMS client key (GVLK)",
        ),
        2,
        1,
        31,
    )
    .with_key(key(SYNTHETIC_MAK_ODD_PATH));

    let unreadable = Finding::new(
        &rules::FILE_UNREADABLE,
        FindingPath::new("Windows/Panther/Unattend/unattend.xml"),
        "could not read the file: Permission denied (os error 13)",
    );

    let mut malformed = Finding::new(
        &rules::XML_MALFORMED,
        FindingPath::new("autounattend.xml"),
        "XML is malformed: expected `</settings>`, found `</unattend>`",
    );
    malformed.location.span = Span::Point(LineColumn { line: 77, column: 3 });
    malformed.location.root = 1;

    let mut report = ScanReport {
        roots: vec![
            RootReport {
                path: image_root.to_string(),
                image: Some(image(image_root)),
                searched: vec![
                    "Users/caf\u{FFFD}/notes, 50%.txt".to_string(),
                    "Windows/Panther/Unattend/unattend.xml".to_string(),
                    "Windows/Panther/unattend.xml".to_string(),
                    "Windows/Setup/Scripts/SetupComplete.cmd".to_string(),
                    "Windows/System32/sysprep/unattend.xml".to_string(),
                ],
                is_file: false,
                container: None,
                policy: None,
            },
            RootReport {
                path: "answer-files/autounattend.xml".to_string(),
                image: None,
                searched: vec!["autounattend.xml".to_string()],
                is_file: true,
                container: None,
                policy: None,
            },
        ],
        findings: vec![
            mak, gvlk_note, partial, installed, suppressed, odd, unreadable, malformed,
        ],
        summary: ScanSummary {
            files_walked: 1204,
            files_scanned: 7,
            skipped: BTreeMap::from([("not-a-candidate".to_string(), 1190), ("over-size-cap".to_string(), 7)]),
            bytes_read: 88_211,
        },
        allow_incomplete: false,
        report_only: false,
    };
    report.sort();
    report
}

/// A clean report: one answer file with a GVLK.
pub(crate) fn clean_report() -> ScanReport {
    let mut gvlk = Finding::new(
        &rules::UNATTEND_GVLK,
        FindingPath::new("unattend.xml"),
        "UserData/ProductKey/Key holds the KMS client key (GVLK) for Windows 11 Enterprise",
    )
    .with_key(key(ENTERPRISE_GVLK));
    gvlk.location.span = Span::Point(LineColumn { line: 12, column: 22 });
    ScanReport {
        roots: vec![RootReport {
            path: "samples".to_string(),
            image: None,
            searched: vec!["unattend.xml".to_string()],
            is_file: false,
            container: None,
            policy: None,
        }],
        findings: vec![gvlk],
        summary: ScanSummary {
            files_walked: 1,
            files_scanned: 1,
            ..ScanSummary::default()
        },
        allow_incomplete: false,
        report_only: false,
    }
}

/// Asserts no secret key appears in `output`, dashed or bare, in any case.
pub(crate) fn assert_no_secret_key(output: &str, what: &str) {
    let upper = output.to_ascii_uppercase();
    for key in SECRET_KEYS {
        assert!(
            !upper.contains(key),
            "{what} reveals {}",
            ProductKey::parse(key).unwrap().masked()
        );
        let bare = key.replace('-', "");
        assert!(
            !upper.contains(&bare),
            "{what} reveals the bare form of {}",
            ProductKey::parse(key).unwrap().masked()
        );
    }
}

// Re-exported so every test file of this crate reaches the shared tool policy through `common`.
#[allow(unused_imports)]
pub(crate) use makguard_testkit::{external_tool, runs, skipping_missing_tools, workspace_target};

/// `report` plus a stale-exception warning (MG502) about a policy file outside every root, as
/// the CLI reports one given with `--config`: its root index is past the last root.
pub(crate) fn with_policy_finding(mut report: ScanReport, policy_file: &str) -> ScanReport {
    let mut stale = Finding::new(
        &rules::ALLOW_UNUSED,
        FindingPath::new(policy_file),
        "[[allow]] entry for sha256:0000… matches nothing",
    );
    stale.location.span = Span::Point(LineColumn { line: 12, column: 1 });
    stale.location.root = report.roots.len();
    report.findings.push(stale);
    report
}
