//! No finding quotes a non-GVLK key in full, even where a scanner quotes the file itself: a
//! parser error naming an element or attribute, in every XML-reading scanner.

use makguard_scan::{ScanOptions, scan_paths};

const MAK: &str = "6QWQ4-8NRCW-KHGHV-CR226-3PPQC";

fn documents() -> Vec<(&'static str, String)> {
    let bare = MAK.replace('-', "");
    let lower = MAK.to_lowercase();
    vec![
        (
            "configuration.xml",
            format!("<Configuration><Add></{MAK}></Configuration>"),
        ),
        (
            "configuration.xml",
            format!("<Configuration><Add><Product ID=\"x\"/></{bare}></Configuration>"),
        ),
        (
            "config.xml",
            format!("<Configuration Product=\"ProPlus\"><PIDKEY Value=\"x\"/></{lower}>"),
        ),
        (
            "unattend.xml",
            format!("<unattend xmlns=\"urn:schemas-microsoft-com:unattend\"><settings></{MAK}></unattend>"),
        ),
        (
            "Windows/System32/spp/tokens/pkeyconfig/pkeyconfig.xrm-ms",
            format!("<r:license xmlns:r=\"urn:mpeg:mpeg21:2003:01-REL-R-NS\"></{MAK}>"),
        ),
    ]
}

#[test]
fn parser_errors_never_quote_a_key_in_full() {
    for (name, text) in documents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
        let options = ScanOptions {
            key_config_files: vec![],
            ..ScanOptions::default()
        };
        let report = scan_paths(&[dir.path().to_path_buf()], &options);
        assert!(!report.findings.is_empty(), "{name}: nothing reported");
        for finding in &report.findings {
            let mut quoted = finding.message.to_uppercase();
            if let Some(xml) = finding.xml() {
                quoted.push_str(&format!("{xml:?}").to_uppercase());
            }
            assert!(!quoted.contains(MAK), "{name}: {}", finding.message);
            assert!(!quoted.contains(&MAK.replace('-', "")), "{name}: {}", finding.message);
        }
    }
}

/// Inputs a property test found: a key right after `<!--` inside a broken end tag, where a
/// dash-joined token hid the key from an earlier masking pass.
#[test]
fn keys_behind_comment_dashes_are_masked_too() {
    let inputs = [
        format!("]]>>]]></\"<!--{MAK}\">"),
        format!("/>-->]]>]]></{MAK}-->"),
        format!("<unattend xmlns=\"urn:schemas-microsoft-com:unattend\"></\"<!--{MAK}\"></unattend>"),
    ];
    for input in inputs {
        let decoded = makguard_core::text::decode(input.as_bytes());
        let path = makguard_core::FindingPath::new("unattend.xml");
        let ctx = makguard_scan::FileContext {
            path: &path,
            key_config: None,
        };
        for finding in makguard_scan::testing::scan_answer_file(&decoded, &ctx) {
            let shown = format!("{} {:?}", finding.message, finding.xml()).to_uppercase();
            assert!(!shown.contains(MAK), "{input}: {}", finding.message);
        }
    }
}
