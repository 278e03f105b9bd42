//! The answer-file linter against the real-world corpus (`../shared/corpus`, read in place):
//! every `unattend` row of MANIFEST.tsv is recognised, parses, and yields exactly the keys the
//! manifest lists, in the places it lists them. Keys are compared by fingerprint and never
//! printed in full.

mod unattend_support;

use std::collections::HashMap;
use std::path::PathBuf;

use makguard_core::classify::is_placeholder;
use makguard_core::{Finding, KeyClass, ProductKey, SlotValue, classify_slot};
use regex::Regex;
use unattend_support::{assert_no_secret_key, assert_ranges_exact, scan_bytes};

fn corpus_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus"))
}

struct Row {
    file: String,
    kind: String,
    keys: Vec<String>,
    note: String,
}

fn manifest() -> Vec<Row> {
    let path = corpus_dir().join("MANIFEST.tsv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let (file, kind, keys, note) = (column("file"), column("kind"), column("keys"), column("note"));
    lines
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            let get = |i: usize| fields.get(i).copied().unwrap_or("").to_string();
            Row {
                file: get(file),
                kind: get(kind),
                keys: get(keys)
                    .split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty() && *k != "none")
                    .map(str::to_string)
                    .collect(),
                note: get(note),
            }
        })
        .collect()
}

fn unattend_rows() -> Vec<Row> {
    let rows: Vec<Row> = manifest().into_iter().filter(|r| r.kind == "unattend").collect();
    assert!(
        rows.len() >= 60,
        "expected the corpus's answer files, found {}",
        rows.len()
    );
    rows
}

fn scan_row(row: &Row) -> (String, Vec<Finding>) {
    let bytes = std::fs::read(corpus_dir().join(&row.file)).unwrap_or_else(|e| panic!("{}: {e}", row.file));
    let (decoded, findings) = scan_bytes(&row.file, &bytes);
    assert_ranges_exact(&decoded, &findings);
    for finding in &findings {
        assert_no_secret_key(&finding.message);
    }
    (decoded.text, findings)
}

fn describe(finding: &Finding) -> String {
    let key = finding
        .key
        .as_ref()
        .map_or(String::new(), |k| format!(" {} {}", k.key, k.key.fingerprint()));
    format!(
        "{} {}:{}{key}",
        finding.rule.code,
        finding.line().unwrap_or(0),
        finding.column().unwrap_or(0)
    )
}

fn fingerprint_of(key_text: &str) -> Option<(ProductKey, String)> {
    let key = ProductKey::parse(key_text).ok()?;
    let fingerprint = key.fingerprint();
    Some((key, fingerprint))
}

#[test]
fn every_corpus_answer_file_is_recognised_and_well_formed() {
    for row in unattend_rows() {
        let bytes = std::fs::read(corpus_dir().join(&row.file)).expect("readable");
        let decoded = makguard_core::text::decode(&bytes);
        assert!(
            makguard_scan::testing::is_answer_file(&decoded.text),
            "{} not recognised",
            row.file
        );
        let (_, findings) = scan_row(&row);
        let malformed: Vec<String> = findings
            .iter()
            .filter(|f| f.rule.code.starts_with("MG9"))
            .map(|f| format!("{} {}", describe(f), f.message))
            .collect();
        assert!(malformed.is_empty(), "{}: {malformed:?}", row.file);
    }
}

#[test]
fn other_corpus_files_are_not_answer_files() {
    let mut checked = 0;
    for row in manifest().into_iter().filter(|r| r.kind != "unattend") {
        let Ok(bytes) = std::fs::read(corpus_dir().join(&row.file)) else {
            continue;
        };
        let decoded = makguard_core::text::decode(&bytes);
        assert!(
            !makguard_scan::testing::is_answer_file(&decoded.text),
            "{} taken for an answer file",
            row.file
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} non-answer files checked");
}

#[test]
fn every_listed_key_is_reported_with_the_right_class() {
    for row in unattend_rows() {
        let (_, findings) = scan_row(&row);
        for key_text in &row.keys {
            if is_placeholder(key_text) {
                continue;
            }
            let (key, fingerprint) =
                fingerprint_of(key_text).unwrap_or_else(|| panic!("{}: bad manifest key", row.file));
            let reported: Vec<&Finding> = findings
                .iter()
                .filter(|f| f.key.as_ref().is_some_and(|k| k.key.fingerprint() == fingerprint))
                .collect();
            assert!(
                !reported.is_empty(),
                "{}: key {} ({fingerprint}) not reported; got {:?}",
                row.file,
                key,
                findings.iter().map(describe).collect::<Vec<_>>()
            );
            for finding in reported {
                let info = finding.key.as_ref().expect("key finding");
                if key.is_gvlk() {
                    assert_eq!(info.class(), KeyClass::Gvlk, "{}: {}", row.file, describe(finding));
                    assert_eq!(finding.rule.code, "MG100", "{}: {}", row.file, describe(finding));
                } else {
                    assert!(info.class().is_forbidden_key(), "{}: {}", row.file, describe(finding));
                    assert!(
                        ["MG101", "MG102", "MG103"].contains(&finding.rule.code),
                        "{}: {}",
                        row.file,
                        describe(finding)
                    );
                }
            }
        }
    }
}

#[test]
fn keys_listed_in_comments_are_reported_as_in_comment() {
    let mut checked = 0;
    for row in unattend_rows() {
        let Some(list) = row.note.split("key(s) in comments: ").nth(1) else {
            continue;
        };
        let list = list.split(';').next().unwrap_or("");
        let (_, findings) = scan_row(&row);
        for key_text in list.split(',').map(str::trim).filter(|k| !k.is_empty()) {
            if is_placeholder(key_text) {
                assert!(
                    !findings
                        .iter()
                        .any(|f| f.key.as_ref().is_some_and(|k| k.key.reveal_unmasked() == key_text)),
                    "{}: a commented placeholder was reported as a key",
                    row.file
                );
                continue;
            }
            let (key, fingerprint) = fingerprint_of(key_text).expect("manifest key parses");
            let in_comment: Vec<&Finding> = findings
                .iter()
                .filter(|f| f.key.as_ref().is_some_and(|k| k.key.fingerprint() == fingerprint))
                .filter(|f| f.xml().is_some_and(|x| x.in_comment))
                .collect();
            assert!(
                !in_comment.is_empty(),
                "{}: {} not reported in a comment",
                row.file,
                key
            );
            for finding in in_comment {
                let expected = if key.is_gvlk() { "MG100" } else { "MG102" };
                assert_eq!(finding.rule.code, expected, "{}: {}", row.file, describe(finding));
            }
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} commented keys checked");
}

#[test]
fn placeholders_are_never_reported_as_keys() {
    for row in unattend_rows() {
        let (text, findings) = scan_row(&row);
        for finding in &findings {
            let range = finding.range().expect("range");
            let slice = &text[range.start..range.end];
            if finding.key.as_ref().is_some_and(|k| k.class().is_forbidden_key()) {
                assert!(
                    !is_placeholder(slice),
                    "{}: placeholder reported as {}",
                    row.file,
                    finding.rule.code
                );
            }
        }
    }
}

/// The manifest's `auto:` note lists every active key setting, e.g.
/// `ProductKey windowsPE:<Key>…; specialize:text[…]`. Each must be reported once per listing
/// (so once per component instance), at its pass, with the rule its content calls for.
#[test]
fn active_key_settings_match_the_manifest() {
    let setting = Regex::new(r"^(?:ProductKey )?(\w+):(?:<Key>(.*)|text\[(.*)\](?:\+WillShowUI)?)$").unwrap();
    let mut checked = 0;
    for row in unattend_rows() {
        let auto = row.note.split("auto: ").nth(1).unwrap_or("");
        let auto = auto.split(" [").next().unwrap_or("");
        let mut expected: HashMap<(String, &'static str, String), usize> = HashMap::new();
        for part in auto.split(';').map(str::trim) {
            let Some(caps) = setting.captures(part) else {
                continue;
            };
            let pass = caps[1].to_string();
            let (suffix, value) = match (caps.get(2), caps.get(3)) {
                (Some(value), _) => ("ProductKey/Key", value.as_str()),
                (None, Some(value)) => ("ProductKey", value.as_str()),
                _ => continue,
            };
            let value = if value == "(empty)" { "" } else { value };
            let what = match classify_slot(value) {
                SlotValue::Empty => continue,
                SlotValue::Key(key) if key.is_gvlk() => format!("MG100 {}", key.fingerprint()),
                SlotValue::Key(key) => format!("MG101 {}", key.fingerprint()),
                SlotValue::Placeholder => "MG104".to_string(),
                SlotValue::Partial => "MG105".to_string(),
                SlotValue::Malformed => "MG106".to_string(),
            };
            *expected.entry((pass, suffix, what)).or_default() += 1;
        }
        let (_, findings) = scan_row(&row);
        let mut actual: HashMap<(String, &'static str, String), usize> = HashMap::new();
        for finding in &findings {
            let Some(xml) = finding.xml().filter(|x| !x.in_comment) else {
                continue;
            };
            let suffix = if xml.element_path.ends_with("ProductKey/Key") {
                "ProductKey/Key"
            } else if xml.element_path.ends_with("ProductKey") {
                "ProductKey"
            } else {
                continue;
            };
            let what = match &finding.key {
                Some(key) => format!("{} {}", finding.rule.code, key.key.fingerprint()),
                None => finding.rule.code.to_string(),
            };
            let pass = xml.pass.clone().unwrap_or_default();
            *actual.entry((pass, suffix, what)).or_default() += 1;
        }
        assert_eq!(actual, expected, "{}", row.file);
        checked += expected.values().sum::<usize>();
    }
    assert!(checked >= 40, "only {checked} active key settings checked");
}

#[test]
fn install_image_name_is_given_to_key_findings() {
    let row = unattend_rows()
        .into_iter()
        .find(|r| r.file == "StefanScherer__packer-windows/answer_files__81__Autounattend.xml")
        .expect("the Windows 8.1 Packer file is in the corpus");
    let (_, findings) = scan_row(&row);
    let active: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.key.is_some() && f.xml().is_some_and(|x| !x.in_comment))
        .collect();
    assert_eq!(
        active.len(),
        1,
        "{:?}",
        findings.iter().map(describe).collect::<Vec<_>>()
    );
    assert_eq!(active[0].xml().unwrap().element_path, "UserData/ProductKey");
    assert_eq!(
        active[0].detail.install_image_name(),
        Some("Windows 8.1 Enterprise Evaluation")
    );
}
