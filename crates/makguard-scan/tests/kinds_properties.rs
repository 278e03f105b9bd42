//! Properties of the per-kind scanners: no input makes any of them panic, and the `--deep`
//! scanner finds a key exactly once wherever it sits relative to the chunk boundaries.

use makguard_core::FindingPath;
use makguard_scan::testing::{BINARY_CHUNK_OVERLAP, scan_binary_in_chunks};
use makguard_scan::{FileContext, FileKind, detect_kind, scan_file_bytes};
use proptest::prelude::*;

const SYNTHETIC_KEYS: &[&str] = &[
    "6QWQ4-8NRCW-KHGHV-CR226-3PPQC",
    "NMVQ8-C6P9M-GWX2J-9G4QJ-H82QC",
    "9G4BR-NKWJV-XC3WT-FMHYF-FYHFV",
    "NCV9B-6GGCB-W848Q-QTQJW-BP992",
];

const KINDS: &[FileKind] = &[
    FileKind::AnswerFile,
    FileKind::Script,
    FileKind::OfficeClickToRun,
    FileKind::OfficeMsi,
    FileKind::DeploymentIni,
    FileKind::PidTxt,
    FileKind::EiCfg,
    FileKind::SetupConfigIni,
    FileKind::Text,
    FileKind::Binary,
];

fn xml_like() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop::sample::select(vec![
        "<",
        ">",
        "</",
        "/>",
        "<!--",
        "-->",
        "=\"",
        "\"",
        "PIDKEY",
        "Product ID=\"x\" ",
        "Configuration",
        "[PID]\n",
        "Value=",
        "ProductKey=",
        "slmgr /ipk ",
        "\u{e9}",
        "\r\n",
        "<![CDATA[",
        "]]>",
        "&amp;",
        SYNTHETIC_KEYS[0],
        "6QWQ48NRCWKHGHVCR2263PPQC",
        "-",
        " ",
        "\u{0}",
    ]);
    prop::collection::vec(pieces, 0..60).prop_map(|parts| parts.concat().into_bytes())
}

proptest! {
    #[test]
    fn no_scanner_panics_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600), kind in 0..KINDS.len()) {
        let path = FindingPath::new("fuzz.xml");
        let ctx = FileContext { path: &path, key_config: None };
        let _ = scan_file_bytes(KINDS[kind], &bytes, &ctx);
        let _ = detect_kind("Windows/Panther/Unattend/fuzz.xml", &bytes);
    }

    #[test]
    fn no_scanner_panics_on_xml_like_text(bytes in xml_like(), kind in 0..KINDS.len()) {
        let path = FindingPath::new("fuzz.xml");
        let ctx = FileContext { path: &path, key_config: None };
        for finding in scan_file_bytes(KINDS[kind], &bytes, &ctx) {
            if let Some(range) = finding.range() {
                let text = makguard_core::text::decode(&bytes).text;
                prop_assert!(text.is_char_boundary(range.start) && text.is_char_boundary(range.end));
            }
        }
    }

    #[test]
    fn deep_finds_a_key_once_wherever_it_sits(
        key in prop::sample::select(SYNTHETIC_KEYS.to_vec()),
        utf16 in any::<bool>(),
        chunk in BINARY_CHUNK_OVERLAP..BINARY_CHUNK_OVERLAP * 4,
        position in 0usize..4000,
        filler in prop::sample::select(vec![0x00u8, 0x01, 0xFF, b' ', b'\n']),
    ) {
        let encoded: Vec<u8> = if utf16 {
            key.encode_utf16().flat_map(u16::to_le_bytes).collect()
        } else {
            key.as_bytes().to_vec()
        };
        let mut bytes = vec![filler; 4000 + encoded.len() + 8];
        bytes[position..position + encoded.len()].copy_from_slice(&encoded);
        let path = FindingPath::new("blob");
        let ctx = FileContext { path: &path, key_config: None };
        let mut findings = Vec::new();
        scan_binary_in_chunks(bytes.as_slice(), &ctx, &mut findings, chunk).unwrap();
        prop_assert_eq!(findings.len(), 1);
        let message = &findings[0].message;
        prop_assert!(message.contains(&format!("byte offset {position})")), "{}", message);
        prop_assert_eq!(findings[0].key.as_ref().unwrap().key.reveal_unmasked(), key);
    }
}
