//! Shared helpers for the answer-file tests: loading fixtures, scanning, and a readable
//! rendering of findings for snapshots that never shows a non-GVLK key in full.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::PathBuf;

use makguard_core::classify::is_placeholder;
use makguard_core::text::{DecodedText, TextEncoding, decode, encode};
use makguard_core::{Finding, FindingPath, ProductKey};
use makguard_scan::FileContext;
use makguard_scan::{find_bare_keys, find_dashed_keys};

pub(crate) fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/unattend")
        .join(name)
}

pub(crate) fn fixture_bytes(name: &str) -> Vec<u8> {
    let path = fixture_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The fixture's text re-encoded as `encoding`, with CRLF line ends when `crlf`.
pub(crate) fn fixture_as(name: &str, encoding: TextEncoding, crlf: bool) -> Vec<u8> {
    let text = String::from_utf8(fixture_bytes(name)).expect("fixtures are UTF-8 templates");
    let text = if crlf { text.replace('\n', "\r\n") } else { text };
    encode(&text, encoding).expect("encodable")
}

pub(crate) fn scan_bytes(name: &str, bytes: &[u8]) -> (DecodedText, Vec<Finding>) {
    let decoded = decode(bytes);
    let path = FindingPath::new(name);
    let ctx = FileContext {
        path: &path,
        key_config: None,
    };
    let findings = makguard_scan::testing::scan_answer_file(&decoded, &ctx);
    (decoded, findings)
}

pub(crate) fn scan_fixture(name: &str) -> (DecodedText, Vec<Finding>) {
    scan_bytes(name, &fixture_bytes(name))
}

/// Asserts that no non-GVLK key appears in full in `text` (dashed or bare); placeholders such
/// as `XXXXX-XXXXX-…` are key-shaped but no secret.
pub(crate) fn assert_no_secret_key(text: &str) {
    for token in find_dashed_keys(text).into_iter().chain(find_bare_keys(text)) {
        if is_placeholder(&text[token.range.start..token.range.end]) {
            continue;
        }
        assert!(
            token.key.is_gvlk(),
            "a non-GVLK key ending in {} appears in full",
            token.key.last_group()
        );
    }
}

/// Asserts every finding's range lies on character boundaries of the text and that a key
/// finding's range holds exactly that key (or an XML spelling of it that the fixer can replace,
/// or the finding says it cannot).
pub(crate) fn assert_ranges_exact(decoded: &DecodedText, findings: &[Finding]) {
    let text = &decoded.text;
    for finding in findings {
        let range = finding.range().expect("every answer-file finding has a range");
        assert!(
            range.start <= range.end && range.end <= text.len(),
            "{}",
            finding.message
        );
        let slice = text
            .get(range.start..range.end)
            .unwrap_or_else(|| panic!("range not on char boundaries: {}", finding.message));
        if let Some(key) = &finding.key {
            match ProductKey::parse(slice) {
                Ok(found) => assert_eq!(&found, &key.key, "{}", finding.message),
                // Spelled with references or across markup: the span reads as the key, or
                // the finding says no edit can replace it alone.
                Err(_) => assert!(
                    makguard_scan::rewritable_value(slice)
                        .is_some_and(|value| ProductKey::parse(&value).as_ref() == Ok(&key.key))
                        || finding.spelling().not_rewritable.is_some(),
                    "range does not hold the key: {}",
                    finding.message
                ),
            }
        }
        assert!(finding.line().is_some() && finding.column().is_some());
    }
}

/// One block per finding: code, position, severity, message, key (masked) and its
/// fingerprint and class, XML context and fix hints.
pub(crate) fn render(decoded: &DecodedText, findings: &[Finding]) -> String {
    let mut out = format!("encoding: {}\n", decoded.encoding.name());
    for f in findings {
        let range = f.range().map_or("-".to_string(), |r| format!("{}..{}", r.start, r.end));
        writeln!(
            out,
            "{} {} {}:{} {} range={}",
            f.rule.code,
            f.rule.name,
            f.line().unwrap_or(0),
            f.column().unwrap_or(0),
            f.severity,
            range
        )
        .unwrap();
        writeln!(out, "  message: {}", f.message).unwrap();
        if let Some(key) = &f.key {
            writeln!(
                out,
                "  key: {} {} class={} source={} checksum={}",
                key.key,
                key.key.fingerprint(),
                key.class(),
                key.classification.source.as_str(),
                key.classification.checksum.as_str()
            )
            .unwrap();
        }
        if let Some(xml) = f.xml() {
            writeln!(
                out,
                "  xml: pass={} component={} arch={} path={} in_comment={}",
                xml.pass.as_deref().unwrap_or("-"),
                xml.component.as_deref().unwrap_or("-"),
                xml.architecture.as_deref().unwrap_or("-"),
                if xml.element_path.is_empty() {
                    "-"
                } else {
                    &xml.element_path
                },
                xml.in_comment
            )
            .unwrap();
        }
        if f.detail.install_image_name().is_some() || f.spelling().bare {
            writeln!(
                out,
                "  hints: install_image_name={} bare_key={}",
                f.detail.install_image_name().unwrap_or("-"),
                f.spelling().bare
            )
            .unwrap();
        }
    }
    assert_no_secret_key(&out);
    out
}

/// The synthetic keys of `../shared/reference/synthetic-keys.tsv`.
pub(crate) fn synthetic_keys() -> Vec<ProductKey> {
    let keys: Vec<ProductKey> = makguard_testkit::synthetic_keys()
        .iter()
        .filter_map(|key| ProductKey::parse(key).ok())
        .collect();
    assert!(keys.len() >= 10, "synthetic key list looks empty");
    keys
}

/// Asserts that every key in `text` is a public GVLK or a synthetic key: the only keys the
/// repository may hold.
pub(crate) fn assert_only_public_or_synthetic_keys(what: &str, text: &str) {
    let synthetic = synthetic_keys();
    for token in find_dashed_keys(text).into_iter().chain(find_bare_keys(text)) {
        if is_placeholder(&text[token.range.start..token.range.end]) {
            continue;
        }
        assert!(
            token.key.is_gvlk() || synthetic.contains(&token.key),
            "{what} holds a key ending in {} that is neither a GVLK nor synthetic",
            token.key.last_group()
        );
    }
}
