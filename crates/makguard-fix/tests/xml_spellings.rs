//! Property: however an XML answer file spells a key (any split into plain text, CDATA
//! sections and character references, with comments and processing instructions between the
//! pieces), the scan reports the key with a span the fixer can replace, and the rewrite gives
//! a well-formed file whose value is the GVLK and whose bytes outside the span are unchanged.

use makguard_core::text::decode;
use makguard_core::{Edit, FindingPath, ProductKey, rules};
use makguard_fix::edit::{rewrite, xml_is_well_formed};
use makguard_scan::{FileContext, FileKind, scan_file_bytes};
use proptest::prelude::*;
use std::fmt::Write as _;

const MAK: &str = "6QWQ4-8NRCW-KHGHV-CR226-3PPQC";
const ENTERPRISE_GVLK: &str = "NPPR9-FWDCX-D2C8J-H872K-2YT43";

/// How one piece of the key is written.
#[derive(Debug, Clone, Copy)]
enum Form {
    Plain,
    Cdata,
    HexReferences,
    DecimalReferences,
}

/// What stands between two pieces.
#[derive(Debug, Clone, Copy)]
enum Between {
    Nothing,
    Comment,
    Instruction,
}

fn render(piece: &str, form: Form) -> String {
    match form {
        Form::Plain => piece.to_string(),
        Form::Cdata => format!("<![CDATA[{piece}]]>"),
        Form::HexReferences => piece.bytes().fold(String::new(), |mut out, b| {
            let _ = write!(out, "&#x{b:x};");
            out
        }),
        Form::DecimalReferences => piece.bytes().fold(String::new(), |mut out, b| {
            let _ = write!(out, "&#{b};");
            out
        }),
    }
}

fn spelling(cuts: &[usize], forms: &[Form], between: &[Between]) -> String {
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % MAK.len()).filter(|&c| c > 0).collect();
    bounds.push(0);
    bounds.push(MAK.len());
    bounds.sort_unstable();
    bounds.dedup();
    let mut out = String::new();
    for (i, pair) in bounds.windows(2).enumerate() {
        if i > 0 {
            match between[i % between.len()] {
                Between::Nothing => {}
                Between::Comment => out.push_str("<!-- between -->"),
                Between::Instruction => out.push_str("<?pi between?>"),
            }
        }
        out.push_str(&render(&MAK[pair[0]..pair[1]], forms[i % forms.len()]));
    }
    out
}

fn answer_file(key_xml: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<unattend xmlns=\"urn:schemas-microsoft-com:unattend\"><settings pass=\"specialize\">\
<component name=\"Microsoft-Windows-Shell-Setup\"><ProductKey> {key_xml} </ProductKey></component></settings></unattend>\n"
    )
}

fn form() -> impl Strategy<Value = Form> {
    prop_oneof![
        Just(Form::Plain),
        Just(Form::Cdata),
        Just(Form::HexReferences),
        Just(Form::DecimalReferences)
    ]
}

fn between() -> impl Strategy<Value = Between> {
    prop_oneof![
        Just(Between::Nothing),
        Just(Between::Comment),
        Just(Between::Instruction)
    ]
}

proptest! {
    #[test]
    fn any_spelling_is_found_and_fixed_to_a_parseable_gvlk(
        cuts in prop::collection::vec(0usize..29, 0..6),
        forms in prop::collection::vec(form(), 1..6),
        between in prop::collection::vec(between(), 1..4),
    ) {
        let text = answer_file(&spelling(&cuts, &forms, &between));
        let path = FindingPath::new("unattend.xml");
        let ctx = FileContext { path: &path, key_config: None };
        let findings = scan_file_bytes(FileKind::AnswerFile, text.as_bytes(), &ctx);
        prop_assert_eq!(findings.len(), 1, "{:?}", findings.iter().map(|f| f.rule.code).collect::<Vec<_>>());
        let finding = &findings[0];
        prop_assert_eq!(finding.rule.code, rules::UNATTEND_NON_KMS_KEY.code);
        prop_assert!(finding.spelling().not_rewritable.is_none());
        let edit = Edit {
            range: finding.range().unwrap(),
            replacement: ENTERPRISE_GVLK.to_string(),
        };
        let old_key = ProductKey::parse(MAK).unwrap();
        let rewritten = rewrite("unattend.xml", text.as_bytes(), &[(&edit, &old_key)]);
        let rewritten = rewritten.map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert!(xml_is_well_formed(&rewritten.new_text));
        let after = scan_file_bytes(FileKind::AnswerFile, &rewritten.new_bytes, &ctx);
        prop_assert_eq!(after.len(), 1);
        prop_assert_eq!(after[0].rule.code, rules::UNATTEND_GVLK.code);
        prop_assert_eq!(after[0].key.as_ref().unwrap().key.reveal_unmasked(), ENTERPRISE_GVLK);
        // Everything outside the replaced span is the original text.
        let range = finding.range().unwrap();
        let old = decode(text.as_bytes()).text;
        prop_assert_eq!(&rewritten.new_text[..range.start], &old[..range.start]);
        prop_assert!(rewritten.new_text.ends_with(&old[range.end..]));
    }
}
