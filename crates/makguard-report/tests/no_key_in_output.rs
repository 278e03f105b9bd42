//! No format prints a non-GVLK key in any spelling, whichever text field of the report holds
//! it (paths, the image identity, messages, justifications, `JUnit` test-case names), and the
//! formats shown to people or logs print no raw control character.

mod common;

use common::*;
use makguard_core::{Detail, FindingPath, ScanReport};
use makguard_report::{Format, RenderOptions, render};
use std::fmt::Write as _;

fn utf16_chars(text: &str) -> String {
    text.chars().flat_map(|c| [c, '\0']).collect()
}

/// Every spelling of `SYNTHETIC_MAK` a hostile image can put in a name or a string.
fn spellings() -> Vec<String> {
    let bare = SYNTHETIC_MAK.replace('-', "");
    vec![
        SYNTHETIC_MAK.to_string(),
        SYNTHETIC_MAK.to_lowercase(),
        bare.clone(),
        bare.to_lowercase(),
        "6qWq4-8NRcW-KhGHv-Cr226-3pPqC".to_string(),
        utf16_chars(SYNTHETIC_MAK),
    ]
}

/// `report` with `spelling` planted in every text field the image or the user controls.
fn plant(mut report: ScanReport, spelling: &str) -> ScanReport {
    for root in &mut report.roots {
        root.path = format!("{}/{spelling}", root.path);
        root.searched.push(format!("{spelling}/unattend.xml"));
        root.searched.push(format!("Deploy/{spelling}.xml"));
        if let Some(image) = &mut root.image {
            image.product_name = Some(format!("Windows 11 {spelling}"));
            image.edition_id = Some(spelling.to_string());
            image.display_version = Some(spelling.to_string());
            image.installation_type = Some(format!("Client {spelling}"));
            image.key_configuration_files.push(format!("{spelling}.xrm-ms"));
        }
    }
    for (index, finding) in report.findings.iter_mut().enumerate() {
        finding.location.path = FindingPath::new(format!("{spelling}/{}", finding.path().display));
        finding.message.push_str(&format!(" ({spelling})"));
        // Every kind of detail carries the key somewhere: XML findings in their context, the
        // others alternately in a remediation and in Office product names.
        match &mut finding.detail {
            Detail::Xml {
                context,
                install_image_name,
            } => {
                context.element_path = format!("{spelling}/Key");
                context.component = Some(spelling.to_string());
                *install_image_name = Some(format!("Windows 11 {spelling}"));
            }
            _ if index % 2 == 0 => {
                finding.detail = Detail::Remediation(format!("remove {spelling}\nthen {spelling}"));
            }
            _ => {
                finding.detail = Detail::Office {
                    click_to_run_product_id: Some(spelling.to_string()),
                    msi_product: Some(format!("Office {spelling}")),
                };
            }
        }
        if let Some(suppression) = &mut finding.suppressed {
            suppression.justification = format!("old key {spelling}");
        }
        if let Some(fix) = &mut finding.fix {
            fix.chosen_by = format!("by {spelling}");
        }
    }
    report.summary.skipped.insert(format!("reason {spelling}"), 1);
    report
}

fn leaks(document: &str) -> bool {
    let plain: String = document
        .chars()
        .filter(|&c| c != '\0')
        .collect::<String>()
        .to_uppercase();
    let bare = SYNTHETIC_MAK.replace('-', "");
    plain.contains(&bare[..20]) || plain.contains(&SYNTHETIC_MAK[..17])
}

#[test]
fn no_format_prints_a_planted_key_in_any_field() {
    for spelling in spellings() {
        let report = plant(sample_report("build/mount"), &spelling);
        for format in Format::ALL {
            for color in [false, true] {
                let options = RenderOptions { color, ..options() };
                let document = render(format, &report, &options);
                assert!(!leaks(&document), "{format} leaks {spelling:?}:\n{document}");
            }
        }
    }
}

#[test]
fn show_keys_reveals_only_in_text_and_json() {
    let report = sample_report("build/mount");
    let options = RenderOptions {
        show_keys: true,
        ..options()
    };
    for format in Format::ALL {
        let document = render(format, &report, &options);
        let reveals = matches!(format, Format::Text | Format::Json);
        assert_eq!(document.contains(SYNTHETIC_MAK), reveals, "{format}");
    }
}

#[test]
fn control_characters_in_paths_and_messages_are_escaped() {
    let mut report = sample_report("build/mount");
    for finding in &mut report.findings {
        finding.location.path = FindingPath::new(format!("evil\u{1b}[2J\u{7}\u{9b}\r/{}", finding.path().display));
        finding.message.push_str(" \u{1b}]0;title\u{7}");
    }
    if let Some(image) = report.roots.iter_mut().find_map(|r| r.image.as_mut()) {
        image.product_name = Some("Windows\u{1b}[31m 11".to_string());
    }
    for format in [Format::Text, Format::Github] {
        let document = render(format, &report, &options());
        assert!(
            !document.contains('\u{1b}') && !document.contains('\u{7}'),
            "{format}:\n{document}"
        );
        assert!(!document.contains('\u{9b}') && !document.contains('\r'), "{format}");
        assert!(document.contains("evil\\x1b[2J"), "{format}:\n{document}");
    }
    // XML 1.0 allows no C0 control but tab, line feed and carriage return, not even escaped.
    let junit = render(Format::Junit, &report, &options());
    assert!(
        !junit
            .chars()
            .any(|c| (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r')),
        "{junit}"
    );
    for format in [Format::Json, Format::Sarif] {
        let document = render(format, &report, &options());
        let parsed: serde_json::Value = serde_json::from_str(&document).expect("valid JSON");
        assert!(parsed.is_object());
        assert!(!document.contains('\u{1b}'), "{format}");
    }
}

#[test]
fn the_hex_of_a_non_utf8_path_spells_no_key() {
    let mut report = sample_report("build/mount");
    let mut raw = b"odd\xff/".to_vec();
    raw.extend_from_slice(SYNTHETIC_MAK.as_bytes());
    raw.extend_from_slice(b"/unattend.xml");
    report.findings[0].location.path = FindingPath {
        display: String::from_utf8_lossy(&raw).into_owned(),
        raw_bytes: Some(raw),
    };
    let key_hex = SYNTHETIC_MAK.as_bytes()[..17].iter().fold(String::new(), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    });
    for format in Format::ALL {
        let document = render(format, &report, &options());
        assert!(!leaks(&document), "{format}");
        assert!(!document.to_lowercase().contains(&key_hex), "{format}:\n{document}");
    }
}
