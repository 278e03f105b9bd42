//! Shared test helpers: synthetic keys, the four encodings, and findings built by hand from
//! `makguard_scan::keyscan` the way a scanner reports them.
#![allow(dead_code)]

use std::path::Path;

use makguard_core::text::{self, LineIndex, TextEncoding};
use makguard_core::{
    Finding, FindingPath, FixHints, ImageInfo, KeyInfo, ProductKey, RootReport, Rule, ScanReport, classify_key,
};

/// Synthetic MAK stand-ins from ../shared/reference/synthetic-keys.tsv.
pub(crate) const MAK_A: &str = "6QWQ4-8NRCW-KHGHV-CR226-3PPQC";
pub(crate) const MAK_B: &str = "NMVQ8-C6P9M-GWX2J-9G4QJ-H82QC";
pub(crate) const MAK_C: &str = "7N3Q7-T3FJC-Y4CMG-YH7G8-H82QC";
/// Windows 11/10 Enterprise GVLK (public).
pub(crate) const ENTERPRISE_GVLK: &str = "NPPR9-FWDCX-D2C8J-H872K-2YT43";
pub(crate) const PRO_GVLK: &str = "W269N-WFGWX-YVC9B-4J6C9-T83GX";
pub(crate) const PROPLUS_2021_GVLK: &str = "FXYTK-NJJ8C-GB6DW-3DYQT-6F7TH";
pub(crate) const PROPLUS_2016_GVLK: &str = "XQNVK-8JYDB-WJ9W3-YJ8YR-WFG99";

/// Every non-GVLK key in the synthetic-keys reference file, read at run time.
#[allow(unused_imports)]
pub(crate) use makguard_testkit::synthetic_keys;

/// Asserts `text` holds no synthetic key in full, dashed or bare, in any case.
pub(crate) fn assert_no_full_synthetic_key(text: &str) {
    makguard_testkit::assert_no_synthetic_key(text, "the output");
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Variant {
    Utf8,
    Utf8Bom,
    Utf16LeBom,
    Utf16BeBom,
}

pub(crate) const VARIANTS: [Variant; 4] = [
    Variant::Utf8,
    Variant::Utf8Bom,
    Variant::Utf16LeBom,
    Variant::Utf16BeBom,
];

impl Variant {
    pub(crate) fn encoding(self) -> TextEncoding {
        match self {
            Variant::Utf8 => TextEncoding::Utf8,
            Variant::Utf8Bom => TextEncoding::Utf8Bom,
            Variant::Utf16LeBom => TextEncoding::Utf16Le { bom: true },
            Variant::Utf16BeBom => TextEncoding::Utf16Be { bom: true },
        }
    }

    /// Encodes `text` (written with `\n`) with CRLF line ends.
    pub(crate) fn encode(self, text: &str) -> Vec<u8> {
        let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
        text::encode(&crlf, self.encoding()).expect("encodable")
    }

    /// The bytes `fragment` takes in this encoding, without a BOM.
    pub(crate) fn fragment(self, fragment: &str) -> Vec<u8> {
        let encoding = match self {
            Variant::Utf8 | Variant::Utf8Bom => TextEncoding::Utf8,
            Variant::Utf16LeBom => TextEncoding::Utf16Le { bom: false },
            Variant::Utf16BeBom => TextEncoding::Utf16Be { bom: false },
        };
        text::encode(fragment, encoding).expect("encodable")
    }
}

/// Findings for every non-GVLK key in `bytes`, as a scanner of `rule` reports them.
pub(crate) fn findings_for(relative: &str, bytes: &[u8], rule: &'static Rule, hints: &FixHints) -> Vec<Finding> {
    let decoded = text::decode(bytes);
    let index = LineIndex::new(&decoded.text);
    let mut tokens = makguard_scan::find_dashed_keys(&decoded.text);
    tokens.extend(makguard_scan::find_bare_keys(&decoded.text));
    tokens
        .into_iter()
        .filter(|t| !t.key.is_gvlk())
        .map(|t| {
            let mut finding = Finding::new(rule, FindingPath::new(relative), format!("holds {}", t.key))
                .at(&decoded.text, &index, t.range)
                .with_key(KeyInfo {
                    classification: classify_key(&t.key, None),
                    key: t.key.clone(),
                });
            finding.hints = hints.clone();
            finding.hints.bare_key = t.bare;
            finding
        })
        .collect()
}

pub(crate) fn enterprise_image(root: &str) -> ImageInfo {
    ImageInfo {
        root: root.to_string(),
        edition_id: Some("Enterprise".to_string()),
        product_name: Some("Windows 11 Enterprise".to_string()),
        build: Some(22631),
        ..ImageInfo::default()
    }
}

pub(crate) fn report(root: &Path, image: Option<ImageInfo>, findings: Vec<Finding>) -> ScanReport {
    ScanReport {
        roots: vec![RootReport {
            path: root.to_string_lossy().into_owned(),
            image,
            searched: Vec::new(),
            is_file: root.is_file(),
            container: None,
            policy: None,
        }],
        findings,
        ..ScanReport::default()
    }
}

pub(crate) fn key(text: &str) -> ProductKey {
    ProductKey::parse(text).expect("test key parses")
}
