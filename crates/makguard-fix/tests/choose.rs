//! Choosing the replacement key: the order of sources, what is refused, and what the
//! unfixable message asks for.

mod common;

use common::*;
use makguard_core::{
    Applicability, ClassSource, Finding, FindingPath, KeyConfigIndex, KeyGroupInfo, KeyInfo, LineColumn, Rule,
    ScanReport, Span, Suppression, TextRange, classify_key, rules,
};
use makguard_fix::{KeyChoice, KeyChoiceError, edition_from_image_name, edition_mismatches, plan};

fn finding(rule: &'static Rule, key_text: &str, hints: Hints) -> Finding {
    let key = key(key_text);
    let mut finding = Finding::new(rule, FindingPath::new("unattend.xml"), "test");
    finding.location.span = Span::Text {
        range: TextRange::new(10, 10 + key_text.len()),
        start: LineColumn { line: 1, column: 11 },
    };
    let classification = classify_key(&key, None);
    hints.attach(finding.with_key(KeyInfo::new(key, classification)))
}

fn planned(
    findings: Vec<Finding>,
    image: Option<makguard_core::ImageInfo>,
    choice: &KeyChoice,
) -> (ScanReport, Vec<makguard_fix::Unfixable>) {
    let mut report = report(std::path::Path::new("/nonexistent-root"), image, findings);
    let unfixable = plan(&mut report, choice);
    (report, unfixable)
}

fn new_key(report: &ScanReport, index: usize) -> Option<String> {
    report.findings[index]
        .fix
        .as_ref()
        .map(|f| f.new_key.reveal_unmasked().to_string())
}

#[test]
fn gvlk_choice_is_validated_against_the_catalog() {
    let error = KeyChoice::new(None, Some(MAK_A), false).unwrap_err();
    assert!(matches!(error, KeyChoiceError::NotAGvlk { .. }));
    let message = error.to_string();
    assert!(message.contains("3PPQC") && !message.contains("6QWQ4"), "{message}");
    assert!(matches!(
        KeyChoice::new(None, Some("nonsense"), false),
        Err(KeyChoiceError::GvlkUnparsable(_))
    ));
    assert!(matches!(
        KeyChoice::new(Some("Ultimate9"), None, false),
        Err(KeyChoiceError::UnknownEdition(_))
    ));
    assert!(matches!(
        KeyChoice::new(Some("Professional"), Some(ENTERPRISE_GVLK), false),
        Err(KeyChoiceError::Conflict { .. })
    ));
    let ok = KeyChoice::new(Some("enterprise"), Some(&ENTERPRISE_GVLK.to_lowercase()), false).unwrap();
    assert_eq!(ok.gvlk, Some(key(ENTERPRISE_GVLK)));
    assert!(KeyChoice::new(Some("ProPlus2021Volume"), None, false).is_ok());
}

#[test]
fn user_choice_beats_the_image() {
    let choice = KeyChoice::new(None, Some(PRO_GVLK), false).unwrap();
    let (report, unfixable) = planned(
        vec![finding(&rules::UNATTEND_NON_KMS_KEY, MAK_A, Hints::default())],
        Some(enterprise_image("img")),
        &choice,
    );
    assert!(unfixable.is_empty());
    assert_eq!(new_key(&report, 0).as_deref(), Some(PRO_GVLK));
    assert!(report.findings[0].fix.as_ref().unwrap().chosen_by.starts_with("--gvlk"));

    let choice = KeyChoice::new(Some("Professional"), None, false).unwrap();
    let (report, _) = planned(
        vec![finding(&rules::UNATTEND_NON_KMS_KEY, MAK_A, Hints::default())],
        Some(enterprise_image("img")),
        &choice,
    );
    assert_eq!(new_key(&report, 0).as_deref(), Some(PRO_GVLK));
    assert_eq!(
        report.findings[0].fix.as_ref().unwrap().chosen_by,
        "--edition Professional, build 22631"
    );
}

#[test]
fn build_option_picks_the_release_for_loose_files() {
    let choice = KeyChoice::new(Some("Professional"), None, false).unwrap();
    let (report, unfixable) = planned(
        vec![finding(&rules::UNATTEND_NON_KMS_KEY, MAK_A, Hints::default())],
        None,
        &choice,
    );
    assert!(report.findings[0].fix.is_none());
    assert!(unfixable[0].reason.contains("--build BUILD"), "{}", unfixable[0].reason);

    let choice = choice.with_build(Some(22631));
    let (report, unfixable) = planned(
        vec![finding(&rules::UNATTEND_NON_KMS_KEY, MAK_A, Hints::default())],
        None,
        &choice,
    );
    assert!(unfixable.is_empty());
    assert_eq!(new_key(&report, 0).as_deref(), Some(PRO_GVLK));
    assert_eq!(
        report.findings[0].fix.as_ref().unwrap().chosen_by,
        "--edition Professional, build 22631"
    );

    // Windows 8.1 is another release of the same edition, with another key.
    let choice = KeyChoice::new(Some("Professional"), None, false)
        .unwrap()
        .with_build(Some(9600));
    let (report, _) = planned(
        vec![finding(&rules::UNATTEND_NON_KMS_KEY, MAK_A, Hints::default())],
        None,
        &choice,
    );
    assert_eq!(new_key(&report, 0).as_deref(), Some("GCRJD-8NW9H-F2CDX-CCM8D-9D6T9"));
}

#[test]
fn image_edition_and_build_decide_windows_keys() {
    let (report, unfixable) = planned(
        vec![finding(&rules::UNATTEND_NON_KMS_KEY, MAK_A, Hints::default())],
        Some(enterprise_image("img")),
        &KeyChoice::default(),
    );
    assert!(unfixable.is_empty());
    let fix = report.findings[0].fix.as_ref().unwrap();
    assert_eq!(fix.new_key.reveal_unmasked(), ENTERPRISE_GVLK);
    assert_eq!(fix.applicability, Applicability::Safe);
    assert_eq!(fix.chosen_by, "image EditionID Enterprise, build 22631");
    assert_eq!(fix.edits[0].replacement, ENTERPRISE_GVLK);
    assert_eq!(fix.edits[0].range, TextRange::new(10, 39));

    // LTSB 2016 and LTSC 2019 share the EditionID; the build tells them apart.
    let mut ltsb = enterprise_image("img");
    ltsb.edition_id = Some("EnterpriseS".into());
    ltsb.build = Some(14393);
    let (report, _) = planned(
        vec![finding(&rules::SCRIPT_INSTALLS_KEY, MAK_A, Hints::default())],
        Some(ltsb.clone()),
        &KeyChoice::default(),
    );
    assert_eq!(new_key(&report, 0).as_deref(), Some("DCPHK-NFMTC-H88MJ-PFHPY-QJ4BJ"));

    ltsb.build = None;
    let (report, unfixable) = planned(
        vec![finding(&rules::SCRIPT_INSTALLS_KEY, MAK_A, Hints::default())],
        Some(ltsb),
        &KeyChoice::default(),
    );
    assert!(report.findings[0].fix.is_none());
    assert!(unfixable[0].reason.contains("--gvlk KEY"), "{}", unfixable[0].reason);
}

#[test]
fn office_keys_never_take_the_windows_edition() {
    let findings = vec![
        finding(
            &rules::OFFICE_C2R_NON_KMS_KEY,
            MAK_A,
            Hints {
                office_product_id: Some("ProPlus2021Volume".into()),
                ..Hints::default()
            },
        ),
        finding(
            &rules::OFFICE_MSI_NON_KMS_KEY,
            &MAK_B.replace('-', ""),
            Hints {
                office_msi_product: Some("Office Professional Plus 2016".into()),
                bare_key: true,
                ..Hints::default()
            },
        ),
        finding(&rules::OFFICE_C2R_NON_KMS_KEY, MAK_C, Hints::default()),
        finding(
            &rules::OFFICE_C2R_NON_KMS_KEY,
            MAK_C,
            Hints {
                office_product_id: Some("O365ProPlusRetail".into()),
                ..Hints::default()
            },
        ),
    ];
    let (report, unfixable) = planned(findings, Some(enterprise_image("img")), &KeyChoice::default());
    assert_eq!(new_key(&report, 0).as_deref(), Some(PROPLUS_2021_GVLK));
    assert_eq!(
        report.findings[0].fix.as_ref().unwrap().chosen_by,
        "Office Click-to-Run product ID ProPlus2021Volume"
    );
    assert_eq!(new_key(&report, 1).as_deref(), Some(PROPLUS_2016_GVLK));
    assert_eq!(
        report.findings[1].fix.as_ref().unwrap().edits[0].replacement,
        PROPLUS_2016_GVLK.replace('-', "")
    );
    assert!(report.findings[2].fix.is_none() && report.findings[3].fix.is_none());
    let reasons: Vec<(usize, &str)> = unfixable.iter().map(|u| (u.finding, u.reason.as_str())).collect();
    assert_eq!(reasons.len(), 2);
    assert_eq!(reasons[0].0, 2);
    assert!(reasons[0].1.contains("--gvlk KEY"));
    assert!(reasons[1].1.contains("O365ProPlusRetail"));

    // A Windows --gvlk does not leak into Office findings; an Office --edition does apply.
    let choice = KeyChoice::new(None, Some(PRO_GVLK), false).unwrap();
    let (report, _) = planned(
        vec![finding(&rules::OFFICE_C2R_NON_KMS_KEY, MAK_C, Hints::default())],
        None,
        &choice,
    );
    assert!(report.findings[0].fix.is_none());
    let choice = KeyChoice::new(Some("ProPlus2021Volume"), None, false).unwrap();
    let (report, _) = planned(
        vec![finding(&rules::OFFICE_C2R_NON_KMS_KEY, MAK_C, Hints::default())],
        None,
        &choice,
    );
    assert_eq!(new_key(&report, 0).as_deref(), Some(PROPLUS_2021_GVLK));
}

#[test]
fn key_configuration_group_decides_without_an_image_edition() {
    let mut index = KeyConfigIndex::default();
    index.insert(KeyGroupInfo {
        group: 990001,
        act_config_id: "{00000000-0000-0000-0000-000000000001}".into(),
        edition_id: "Professional".into(),
        description: "Win 11 RTM Professional Volume:MAK".into(),
        product_key_type: "Volume:MAK".into(),
        source_file: "pkeyconfig.xrm-ms".into(),
    });
    let mut f = finding(&rules::UNATTEND_NON_KMS_KEY, MAK_A, Hints::default());
    f.key.as_mut().unwrap().classification = classify_key(&key(MAK_A), Some(&index));
    assert_eq!(
        f.key.as_ref().unwrap().classification.source,
        ClassSource::ImageKeyConfiguration
    );
    let mut image = enterprise_image("img");
    image.edition_id = None;
    let (report, unfixable) = planned(vec![f], Some(image), &KeyChoice::default());
    assert!(unfixable.is_empty(), "{unfixable:?}");
    let fix = report.findings[0].fix.as_ref().unwrap();
    assert_eq!(fix.new_key.reveal_unmasked(), PRO_GVLK);
    assert!(
        fix.chosen_by.contains("key group 990001") && fix.chosen_by.contains("build 22631"),
        "{}",
        fix.chosen_by
    );
}

#[test]
fn image_name_is_used_only_with_unsafe_fixes() {
    let hints = Hints {
        install_image_name: Some("Windows 11 Enterprise".into()),
        ..Hints::default()
    };
    let (report, unfixable) = planned(
        vec![finding(&rules::UNATTEND_NON_KMS_KEY, MAK_A, hints.clone())],
        None,
        &KeyChoice::default(),
    );
    assert!(report.findings[0].fix.is_none());
    assert!(unfixable[0].reason.contains("--unsafe-fixes"));

    let choice = KeyChoice::new(None, None, true).unwrap();
    let (report, unfixable) = planned(vec![finding(&rules::UNATTEND_NON_KMS_KEY, MAK_A, hints)], None, &choice);
    assert!(unfixable.is_empty());
    let fix = report.findings[0].fix.as_ref().unwrap();
    assert_eq!(fix.applicability, Applicability::Unsafe);
    assert_eq!(fix.new_key.reveal_unmasked(), ENTERPRISE_GVLK);

    let vague = Hints {
        install_image_name: Some("Windows 11 Something".into()),
        ..Hints::default()
    };
    let (report, unfixable) = planned(vec![finding(&rules::UNATTEND_NON_KMS_KEY, MAK_A, vague)], None, &choice);
    assert!(report.findings[0].fix.is_none());
    assert!(unfixable[0].reason.contains("--edition EDITIONID"));
}

#[test]
fn image_names_map_to_one_edition_or_none() {
    let key_of = |name: &str, build| edition_from_image_name(name, build).map(|e| e.key.reveal_unmasked().to_string());
    assert_eq!(key_of("Windows 11 Enterprise", None).as_deref(), Some(ENTERPRISE_GVLK));
    assert_eq!(key_of("windows 10  pro", None).as_deref(), Some(PRO_GVLK));
    let datacenter_2022 = makguard_core::catalog::windows_gvlk_for("ServerDatacenter", Some(20348)).unwrap();
    assert_eq!(
        key_of("Windows Server 2022 SERVERDATACENTER", None).as_deref(),
        Some(datacenter_2022.key.reveal_unmasked())
    );
    assert_eq!(
        key_of("Windows Server 2022 SERVERDATACENTERCORE", None).as_deref(),
        Some(datacenter_2022.key.reveal_unmasked())
    );
    assert_eq!(
        key_of("Windows Server 2022 Datacenter", None).as_deref(),
        Some(datacenter_2022.key.reveal_unmasked())
    );
    assert_eq!(key_of("Windows Server 2022 SERVERSOMETHING", None), None);
    assert_eq!(
        key_of("Windows 11 Enterprise N", None).as_deref(),
        Some("DPH2V-TTNVB-4X9Q3-TJR4H-KHJW4")
    );
    assert_eq!(key_of("Windows 11", None), None);
}

#[test]
fn unknown_products_stay_unfixed_with_what_to_pass() {
    let (report, unfixable) = planned(
        vec![
            finding(&rules::SCRIPT_KEY_LITERAL, MAK_A, Hints::default()),
            finding(&rules::UNATTEND_NON_KMS_KEY, MAK_B, Hints::default()),
        ],
        Some(enterprise_image("img")),
        &KeyChoice::default(),
    );
    // A bare literal in a script could be any product's key: the image's edition is no proof.
    assert!(report.findings[0].fix.is_none());
    assert_eq!(unfixable.len(), 1);
    assert!(unfixable[0].reason.contains("--edition EDITIONID or --gvlk KEY"));
    assert_eq!(new_key(&report, 1).as_deref(), Some(ENTERPRISE_GVLK));

    let (_, unfixable) = planned(
        vec![finding(&rules::UNATTEND_NON_KMS_KEY, MAK_B, Hints::default())],
        None,
        &KeyChoice::default(),
    );
    assert!(
        unfixable[0].reason.contains("--edition EDITIONID or --gvlk KEY"),
        "{}",
        unfixable[0].reason
    );
}

#[test]
fn suppressed_and_unfixable_rules_are_left_alone() {
    let mut suppressed = finding(&rules::UNATTEND_NON_KMS_KEY, MAK_A, Hints::default());
    suppressed.suppressed = Some(Suppression {
        justification: "lab".into(),
        origin: "makguard.toml:3".into(),
    });
    let installed = finding(&rules::MAK_INSTALLED, MAK_B, Hints::default());
    let (report, unfixable) = planned(
        vec![suppressed, installed],
        Some(enterprise_image("img")),
        &KeyChoice::default(),
    );
    assert!(unfixable.is_empty());
    assert!(report.findings.iter().all(|f| f.fix.is_none()));
}

#[test]
fn gvlk_for_another_edition_becomes_mg401_with_a_fix() {
    let findings = vec![
        finding(&rules::UNATTEND_GVLK, PRO_GVLK, Hints::default()),
        finding(&rules::UNATTEND_GVLK, ENTERPRISE_GVLK, Hints::default()),
    ];
    let report = report(
        std::path::Path::new("/nonexistent-root"),
        Some(enterprise_image("img")),
        findings,
    );
    let mismatches = edition_mismatches(&report);
    assert_eq!(mismatches.len(), 1);
    let m = &mismatches[0];
    assert_eq!(m.rule.code, "MG401");
    assert!(
        m.message.contains(PRO_GVLK) && m.message.contains(ENTERPRISE_GVLK),
        "{}",
        m.message
    );
    let fix = m.fix.as_ref().unwrap();
    assert_eq!(fix.new_key.reveal_unmasked(), ENTERPRISE_GVLK);
    assert_eq!(fix.edits[0].range, TextRange::new(10, 39));

    // A GVLK is never rewritten by a safe fix: the fix is unsafe, and planning without
    // --unsafe-fixes leaves it with a reason that says so.
    assert_eq!(fix.applicability, makguard_core::Applicability::Unsafe);
    let mut safe_only = report.clone();
    safe_only.findings = mismatches.clone();
    let unfixable = plan(&mut safe_only, &KeyChoice::default());
    assert_eq!(unfixable.len(), 1);
    assert!(
        unfixable[0].reason.contains("--unsafe-fixes"),
        "{}",
        unfixable[0].reason
    );
    assert!(safe_only.findings[0].fix.is_none());
    // With --unsafe-fixes it is fixable, and with the user's own edition it is already right.
    let mut again = report.clone();
    again.findings = mismatches.clone();
    assert!(plan(&mut again, &KeyChoice::new(None, None, true).unwrap()).is_empty());
    assert_eq!(new_key(&again, 0).as_deref(), Some(ENTERPRISE_GVLK));
    assert_eq!(
        again.findings[0].fix.as_ref().unwrap().applicability,
        makguard_core::Applicability::Unsafe
    );
    let mut chosen = report.clone();
    chosen.findings = mismatches;
    plan(&mut chosen, &KeyChoice::new(Some("Professional"), None, true).unwrap());
    assert!(chosen.findings[0].fix.is_none());

    let no_image = common::report(std::path::Path::new("/x"), None, report.findings.clone());
    assert!(edition_mismatches(&no_image).is_empty());
}

#[test]
fn files_outside_the_image_installation_are_not_judged_by_its_edition() {
    let mut outside = finding(&rules::UNATTEND_GVLK, PRO_GVLK, Hints::default());
    outside.location.path = FindingPath::new("DeploymentShare/Control/SRV2022/Unattend.xml");
    let mut inside = finding(&rules::UNATTEND_GVLK, PRO_GVLK, Hints::default());
    inside.location.path = FindingPath::new("Windows/Panther/unattend.xml");
    let mut mak_outside = finding(&rules::UNATTEND_NON_KMS_KEY, MAK_A, Hints::default());
    mak_outside.location.path = FindingPath::new("Deploy/unattend.xml");
    let root = std::path::Path::new("/mnt/image");
    let mut report = report(
        root,
        Some(enterprise_image("/mnt/image")),
        vec![outside, inside, mak_outside],
    );
    let mismatches = edition_mismatches(&report);
    assert_eq!(mismatches.len(), 1);
    assert_eq!(mismatches[0].path().display, "Windows/Panther/unattend.xml");
    // A MAK beside the image is not fixed with the image's edition either.
    let unfixable = plan(&mut report, &KeyChoice::default());
    assert_eq!(unfixable.len(), 1);
    assert!(report.findings[2].fix.is_none());
    assert!(unfixable[0].reason.contains("--edition"), "{}", unfixable[0].reason);
    // In a folder of images, a file is judged only by its own image.
    let mut second = finding(&rules::UNATTEND_GVLK, PRO_GVLK, Hints::default());
    second.location.path = FindingPath::new("img2/Windows/Panther/unattend.xml");
    let mut first = finding(&rules::UNATTEND_GVLK, PRO_GVLK, Hints::default());
    first.location.path = FindingPath::new("img1/Windows/Panther/unattend.xml");
    let images = common::report(
        std::path::Path::new("/mnt"),
        Some(enterprise_image("/mnt/img1")),
        vec![first, second],
    );
    let mismatches = edition_mismatches(&images);
    assert_eq!(mismatches.len(), 1);
    assert_eq!(mismatches[0].path().display, "img1/Windows/Panther/unattend.xml");
    assert!(makguard_fix::choose::in_installation_tree("autounattend.xml"));
    assert!(makguard_fix::choose::in_installation_tree("PROGRAM FILES/x/setup.cmd"));
    assert!(!makguard_fix::choose::in_installation_tree("Deploy/x.xml"));
}
