//! Shared test helpers: synthetic keys, the four encodings, and findings built by hand from
//! `makguard_scan::keyscan` the way a scanner reports them.
#![allow(dead_code)]

use std::path::Path;

use makguard_core::text::{self, LineIndex, TextEncoding};
use makguard_core::{
    Detail, Finding, FindingPath, ImageInfo, KeyInfo, KeySpelling, ProductKey, RootReport, Rule, ScanReport,
    XmlContext, classify_key,
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

/// What a scanner would have recorded around a key, in one flat struct so that a test names
/// only the facts it is about; [`Hints::attach`] files each where a finding keeps it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hints {
    pub(crate) office_product_id: Option<String>,
    pub(crate) office_msi_product: Option<String>,
    pub(crate) install_image_name: Option<String>,
    pub(crate) bare_key: bool,
    pub(crate) not_rewritable: Option<String>,
}

impl Hints {
    /// `finding` with these facts as its detail and its key's spelling.
    pub(crate) fn attach(self, finding: Finding) -> Finding {
        let detail = if self.office_product_id.is_some() || self.office_msi_product.is_some() {
            Detail::Office {
                click_to_run_product_id: self.office_product_id,
                msi_product: self.office_msi_product,
            }
        } else if self.install_image_name.is_some() {
            Detail::Xml {
                context: XmlContext::default(),
                install_image_name: self.install_image_name,
            }
        } else {
            Detail::None
        };
        finding.with_detail(detail).spelled(KeySpelling {
            bare: self.bare_key,
            not_rewritable: self.not_rewritable,
        })
    }
}

/// Findings for every non-GVLK key in `bytes`, as a scanner of `rule` reports them.
pub(crate) fn findings_for(relative: &str, bytes: &[u8], rule: &'static Rule, hints: &Hints) -> Vec<Finding> {
    let decoded = text::decode(bytes);
    let index = LineIndex::new(&decoded.text);
    let mut tokens = makguard_scan::find_dashed_keys(&decoded.text);
    tokens.extend(makguard_scan::find_bare_keys(&decoded.text));
    tokens
        .into_iter()
        .filter(|t| !t.key.is_gvlk())
        .map(|t| {
            let finding = Finding::new(rule, FindingPath::new(relative), format!("holds {}", t.key))
                .at(&decoded.text, &index, t.range)
                .with_key(KeyInfo::new(t.key.clone(), classify_key(&t.key, None)));
            Hints {
                bare_key: t.bare,
                ..hints.clone()
            }
            .attach(finding)
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
