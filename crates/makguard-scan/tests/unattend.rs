//! Behaviour of the answer-file linter: recognition, exact key ranges in every encoding, every
//! kind of key setting, command lines, comments, attributes, fix hints, malformed XML, and
//! property tests that it never panics on arbitrary or damaged input.

mod unattend_support;

use std::fmt::Write as _;

use makguard_core::text::{DecodedText, TextEncoding, decode, encode};
use makguard_core::{Finding, FindingPath, KeyClass, KeyConfigIndex, KeyGroupInfo, ProductKey};
use makguard_scan::FileContext;
use makguard_scan::testing::UNATTEND_NAMESPACE;
use proptest::prelude::*;
use unattend_support::{
    assert_no_secret_key, assert_only_public_or_synthetic_keys, assert_ranges_exact, fixture_as, fixture_bytes,
    fixture_path, scan_bytes,
};

/// The `XXXXX` placeholder (five groups), built rather than written out: the repository holds no
/// key-shaped strings but public GVLKs and synthetic keys.
static X_PLACEHOLDER: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| ["XXXXX"; 5].join("-"));

const MAK: &str = "6QWQ4-8NRCW-KHGHV-CR226-3PPQC";
const MAK2: &str = "NMVQ8-C6P9M-GWX2J-9G4QJ-H82QC";
const ENTERPRISE_GVLK: &str = "NPPR9-FWDCX-D2C8J-H872K-2YT43";

fn scan_text(text: &str) -> (DecodedText, Vec<Finding>) {
    scan_bytes("unattend.xml", text.as_bytes())
}

fn codes(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.rule.code).collect()
}

fn slice<'a>(decoded: &'a DecodedText, finding: &Finding) -> &'a str {
    let range = finding.range().expect("range");
    &decoded.text[range.start..range.end]
}

/// An answer file with `body` inside one component of `pass`.
fn answer_file(pass: &str, component: &str, architecture: &str, body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<unattend xmlns=\"{UNATTEND_NAMESPACE}\">\n  <settings pass=\"{pass}\">\n    \
<component name=\"{component}\" processorArchitecture=\"{architecture}\" publicKeyToken=\"31bf3856ad364e35\" language=\"neutral\" \
versionScope=\"nonSxS\" xmlns:wcm=\"http://schemas.microsoft.com/WMIConfig/2002/State\">\n{body}\n    </component>\n  </settings>\n</unattend>\n"
    )
}

fn shell_setup(body: &str) -> String {
    answer_file("specialize", "Microsoft-Windows-Shell-Setup", "amd64", body)
}

/// 1-based line and character column of byte `offset`, counted independently of `LineIndex`.
fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line as u32, column as u32)
}

#[test]
fn fixtures_hold_only_public_or_synthetic_keys() {
    let mut checked = 0;
    for entry in std::fs::read_dir(fixture_path("")).expect("fixture folder") {
        let path = entry.expect("entry").path();
        let text = String::from_utf8_lossy(&std::fs::read(&path).expect("readable")).into_owned();
        assert_only_public_or_synthetic_keys(&path.display().to_string(), &text);
        checked += 1;
    }
    assert!(checked >= 12, "only {checked} fixtures");
}

#[test]
fn recognises_answer_files_by_namespace_not_name() {
    assert!(makguard_scan::testing::is_answer_file(&shell_setup("")));
    let prefixed =
        format!("<?xml version=\"1.0\"?>\r\n<!-- c -->\r\n<u:unattend xmlns:u=\"{UNATTEND_NAMESPACE}\"></u:unattend>");
    assert!(makguard_scan::testing::is_answer_file(&prefixed));
    let mention_in_comment = format!("<?xml version=\"1.0\"?><!-- see {UNATTEND_NAMESPACE} --><Configuration/>");
    assert!(!makguard_scan::testing::is_answer_file(&mention_in_comment));
    let mention_in_text = format!("<notes>{UNATTEND_NAMESPACE}</notes>");
    assert!(!makguard_scan::testing::is_answer_file(&mention_in_text));
    let wrong_namespace = "<unattend xmlns=\"urn:schemas-microsoft-com:other\"/>";
    assert!(!makguard_scan::testing::is_answer_file(wrong_namespace));
    assert!(!makguard_scan::testing::is_answer_file(&format!(
        "slmgr /ipk {MAK} # {UNATTEND_NAMESPACE}"
    )));
}

#[test]
fn utf16le_bom_crlf_offsets_map_to_the_key_bytes() {
    let template = String::from_utf8(fixture_bytes("utf16_template.xml")).unwrap();
    let encoding = TextEncoding::Utf16Le { bom: true };
    let bytes = fixture_as("utf16_template.xml", encoding, true);
    assert_eq!(&bytes[..2], b"\xFF\xFE");
    let (decoded, findings) = scan_bytes("utf16.xml", &bytes);
    assert_eq!(decoded.encoding, encoding);
    assert!(decoded.text.contains("\r\n"));
    assert_eq!(codes(&findings), ["MG101", "MG100", "MG103"]);
    assert_ranges_exact(&decoded, &findings);
    for (finding, key) in findings.iter().zip([MAK, "W269N-WFGWX-YVC9B-4J6C9-T83GX", MAK2]) {
        let range = finding.range().unwrap();
        assert_eq!(slice(&decoded, finding), key);
        // Line and column as the template (LF, UTF-8) places the key: CRLF and UTF-16 change neither.
        let expected = line_col(&template, template.find(key).unwrap());
        assert_eq!(
            (finding.line().unwrap(), finding.column().unwrap()),
            expected,
            "{}",
            finding.message
        );
        // The byte offset the fixer derives by re-encoding the prefix points at the key's UTF-16 bytes.
        let byte_start = encode(&decoded.text[..range.start], encoding).unwrap().len();
        let units: Vec<u16> = bytes[byte_start..byte_start + 2 * key.len()]
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
            .collect();
        assert_eq!(String::from_utf16(&units).unwrap(), key);
    }
    // The non-ASCII line before the key counts characters, not bytes.
    assert_eq!(findings[1].column(), Some(24));
}

#[test]
fn bomless_utf16_and_utf8_bom_are_scanned_alike() {
    let plain = scan_bytes("a.xml", &fixture_bytes("utf16_template.xml")).1;
    for encoding in [
        TextEncoding::Utf16Le { bom: false },
        TextEncoding::Utf16Be { bom: true },
        TextEncoding::Utf8Bom,
    ] {
        let (decoded, findings) = scan_bytes("b.xml", &fixture_as("utf16_template.xml", encoding, true));
        assert_eq!(decoded.encoding, encoding);
        assert_ranges_exact(&decoded, &findings);
        let summary = |f: &[Finding]| -> Vec<(&str, Option<u32>, Option<u32>)> {
            f.iter().map(|f| (f.rule.code, f.line(), f.column())).collect()
        };
        assert_eq!(summary(&findings), summary(&plain), "{}", encoding.name());
    }
}

#[test]
fn key_ranges_are_exact_around_whitespace_cdata_and_escapes() {
    let body = format!(
        "      <ProductKey>\n        <Key>\r\n\t  {MAK}  \n</Key>\n      </ProductKey>\n      \
<ProductKey><![CDATA[ {MAK2} ]]></ProductKey>\n      <ProductKey>&#54;QWQ4-8NRCW-KHGHV-CR226-3PPQC</ProductKey>"
    );
    let (decoded, findings) = scan_text(&shell_setup(&body));
    assert_eq!(codes(&findings), ["MG101", "MG101", "MG101"]);
    assert_ranges_exact(&decoded, &findings);
    assert_eq!(slice(&decoded, &findings[0]), MAK);
    assert_eq!(slice(&decoded, &findings[1]), MAK2);
    // Written with a character reference: the raw spelling is the range, so the fixer replaces all of it.
    assert_eq!(slice(&decoded, &findings[2]), "&#54;QWQ4-8NRCW-KHGHV-CR226-3PPQC");
    assert_eq!(findings[2].key.as_ref().unwrap().key, ProductKey::parse(MAK).unwrap());
    assert_eq!(findings[0].xml().unwrap().element_path, "ProductKey/Key");
}

#[test]
fn bare_keys_in_key_settings_are_flagged_for_a_bare_replacement() {
    let bare = MAK.replace('-', "");
    let (decoded, findings) = scan_text(&shell_setup(&format!("<ProductKey>{bare}</ProductKey>")));
    assert_eq!(codes(&findings), ["MG101"]);
    assert_eq!(slice(&decoded, &findings[0]), bare);
    assert!(findings[0].spelling().bare);
}

#[test]
fn empty_and_ui_only_key_settings_report_nothing() {
    for body in [
        "<ProductKey><Key/><WillShowUI>OnError</WillShowUI></ProductKey>",
        "<ProductKey><Key></Key></ProductKey>",
        "<ProductKey>\n  <Key>   </Key>\n</ProductKey>",
        "<ProductKey/>",
        "<ProductKey></ProductKey>",
        "<ProductKey>\n  <WillShowUI>Never</WillShowUI>\n</ProductKey>",
    ] {
        let (_, findings) = scan_text(&shell_setup(body));
        assert!(findings.is_empty(), "{body}: {:?}", codes(&findings));
    }
}

#[test]
fn every_component_instance_counts() {
    let component = |arch: &str| {
        format!(
            "<component name=\"Microsoft-Windows-Shell-Setup\" processorArchitecture=\"{arch}\"><ProductKey>{MAK}</ProductKey></component>"
        )
    };
    let text = format!(
        "<unattend xmlns=\"{UNATTEND_NAMESPACE}\"><settings pass=\"specialize\">{}{}{}{}</settings></unattend>",
        component("x86"),
        component("amd64"),
        component("arm64"),
        component("wow64")
    );
    let (decoded, findings) = scan_text(&text);
    assert_eq!(codes(&findings), ["MG101"; 4]);
    assert_ranges_exact(&decoded, &findings);
    let architectures: Vec<_> = findings
        .iter()
        .map(|f| f.xml().unwrap().architecture.clone().unwrap())
        .collect();
    assert_eq!(architectures, ["x86", "amd64", "arm64", "wow64"]);
    for (finding, arch) in findings.iter().zip(&architectures) {
        assert!(
            finding.message.contains(&format!("(pass specialize, {arch})")),
            "{}",
            finding.message
        );
        assert!(finding.message.contains("*****-*****-*****-*****-3PPQC"));
        assert_no_secret_key(&finding.message);
    }
}

#[test]
fn command_lines_that_install_keys() {
    let commands = [
        format!("slmgr /ipk {MAK}"),
        format!("slmgr.vbs -ipk {MAK}"),
        format!("cscript //nologo C:\\Windows\\System32\\slmgr.vbs /ipk {MAK}"),
        format!("cscript \"C:\\Program Files\\Microsoft Office\\Office16\\ospp.vbs\" /inpkey:{MAK}"),
        format!("DISM /Online /Set-ProductKey:{MAK}"),
        format!("changepk.exe /ProductKey {MAK}"),
        format!("cmd /c slmgr /ipk &quot;{MAK}&quot; &amp;&amp; slmgr /ato"),
    ];
    for command in &commands {
        let body = format!(
            "<FirstLogonCommands><SynchronousCommand wcm:action=\"add\"><Order>1</Order><CommandLine>{command}</CommandLine></SynchronousCommand></FirstLogonCommands>"
        );
        let (decoded, findings) = scan_text(&answer_file(
            "oobeSystem",
            "Microsoft-Windows-Shell-Setup",
            "amd64",
            &body,
        ));
        assert_eq!(codes(&findings), ["MG103"], "{command}");
        assert_eq!(slice(&decoded, &findings[0]), MAK);
        let xml = findings[0].xml().unwrap();
        assert_eq!(xml.element_path, "FirstLogonCommands/SynchronousCommand/CommandLine");
        assert_eq!(xml.pass.as_deref(), Some("oobeSystem"));
    }
    let body = format!(
        "<RunSynchronous><RunSynchronousCommand wcm:action=\"add\"><Order>1</Order><Path>cmd /c echo {MAK}</Path></RunSynchronousCommand></RunSynchronous>"
    );
    let (_, findings) = scan_text(&answer_file("specialize", "Microsoft-Windows-Deployment", "x86", &body));
    assert_eq!(codes(&findings), ["MG101"], "a key literal that is not installed");
    assert_eq!(
        findings[0].xml().unwrap().element_path,
        "RunSynchronous/RunSynchronousCommand/Path"
    );
    let body = format!(
        "<LogonCommands><AsynchronousCommand><CommandLine>slmgr /ipk {ENTERPRISE_GVLK}</CommandLine></AsynchronousCommand></LogonCommands>"
    );
    let (_, findings) = scan_text(&answer_file(
        "oobeSystem",
        "Microsoft-Windows-Shell-Setup",
        "amd64",
        &body,
    ));
    assert_eq!(codes(&findings), ["MG100"]);
}

#[test]
fn keys_in_comments_attributes_and_other_text() {
    let text = format!(
        "<?xml version=\"1.0\"?>\n<!-- lab key {MAK} -->\n<unattend xmlns=\"{UNATTEND_NAMESPACE}\">\n\
<settings pass=\"specialize\"><component name=\"Microsoft-Windows-Shell-Setup\" processorArchitecture=\"amd64\">\
<OEMInformation><SupportURL>https://contoso.example/?k={MAK2}</SupportURL></OEMInformation>\
<Themes note=\"{MAK}\"/></component></settings>\n\
<Extensions xmlns=\"https://schneegans.de/windows/unattend-generator/\"><File path=\"C:\\s.cmd\">@echo off\r\nslmgr.vbs /ipk {MAK2}\r\n</File></Extensions>\n\
</unattend>"
    );
    let (decoded, findings) = scan_text(&text);
    assert_eq!(codes(&findings), ["MG102", "MG101", "MG101", "MG103"]);
    assert_ranges_exact(&decoded, &findings);
    let xml: Vec<_> = findings.iter().map(|f| f.xml().unwrap().clone()).collect();
    assert!(xml[0].in_comment && xml[0].component.is_none());
    assert_eq!(xml[1].element_path, "OEMInformation/SupportURL");
    assert_eq!(xml[2].element_path, "Themes/@note");
    assert_eq!(xml[3].element_path, "Extensions/File");
    assert!(xml[3].component.is_none());
}

#[test]
fn placeholders_partial_and_malformed_values() {
    let x_placeholder = X_PLACEHOLDER.as_str();
    let cases = [
        (x_placeholder, "MG104"),
        ("00000-00000-00000-00000-00000", "MG104"),
        ("*SENSITIVE*DATA*DELETED*", "MG104"),
        ("{{ product_key }}", "MG104"),
        ("$(ProductKey)", "MG104"),
        ("6QWQ4-8NRCW-KHGHV-CR226", "MG105"),
        ("6QWQ4-8NRCW-KHGHV-CR226-3PPQ", "MG106"),
        ("ask the licensing team", "MG106"),
    ];
    for (value, code) in cases {
        let (decoded, findings) = scan_text(&shell_setup(&format!("<ProductKey>{value}</ProductKey>")));
        assert_eq!(codes(&findings), [code], "{value}");
        assert!(findings[0].key.is_none());
        assert_eq!(slice(&decoded, &findings[0]), value);
        if code != "MG104" {
            assert!(!findings[0].message.contains("6QWQ4"), "{}", findings[0].message);
        }
    }
    // A key inside decoration is still the key, never a placeholder.
    let (decoded, findings) = scan_text(&shell_setup(&format!("<ProductKey>[{MAK}]</ProductKey>")));
    assert_eq!(codes(&findings), ["MG101"]);
    assert_eq!(slice(&decoded, &findings[0]), MAK);
}

#[test]
fn install_image_name_prefers_the_same_architecture() {
    let setup = |arch: &str, image: &str, key: &str| {
        format!(
            "<component name=\"Microsoft-Windows-Setup\" processorArchitecture=\"{arch}\"><ImageInstall><OSImage><InstallFrom>\
<MetaData><Key>/IMAGE/INDEX</Key><Value>3</Value></MetaData>\
<MetaData><Key>/IMAGE/NAME</Key><Value>{image}</Value></MetaData></InstallFrom></OSImage></ImageInstall>\
<UserData><ProductKey><Key>{key}</Key></ProductKey></UserData></component>"
        )
    };
    let text = format!(
        "<unattend xmlns=\"{UNATTEND_NAMESPACE}\"><settings pass=\"windowsPE\">{}{}</settings>\
<settings pass=\"specialize\"><component name=\"Microsoft-Windows-Shell-Setup\" processorArchitecture=\"arm64\"><ProductKey>{MAK}</ProductKey></component></settings></unattend>",
        setup("x86", "Windows 11 Pro", MAK),
        setup("amd64", "Windows 11 Enterprise", MAK2),
    );
    let (_, findings) = scan_text(&text);
    let hints: Vec<_> = findings.iter().map(|f| f.detail.install_image_name()).collect();
    assert_eq!(
        hints,
        [
            Some("Windows 11 Pro"),
            Some("Windows 11 Enterprise"),
            Some("Windows 11 Pro")
        ]
    );
    let (_, findings) = scan_text(&shell_setup(&format!("<ProductKey>{MAK}</ProductKey>")));
    assert_eq!(findings[0].detail.install_image_name(), None);
}

#[test]
fn key_configuration_refines_the_class() {
    let mut index = KeyConfigIndex::default();
    index.insert(KeyGroupInfo {
        group: 990001,
        act_config_id: "{00000000-0000-0000-0000-000000000001}".into(),
        edition_id: "Enterprise".into(),
        description: "Synthetic Enterprise Volume:MAK".into(),
        product_key_type: "Volume:MAK".into(),
        source_file: "pkeyconfig.xrm-ms".into(),
    });
    let text = shell_setup(&format!("<ProductKey>{MAK}</ProductKey>"));
    let path = FindingPath::new("unattend.xml");
    let ctx = FileContext {
        path: &path,
        key_config: Some(&index),
    };
    let findings = makguard_scan::testing::scan_answer_file(&decode(text.as_bytes()), &ctx);
    assert_eq!(codes(&findings), ["MG101"]);
    assert_eq!(findings[0].key.as_ref().unwrap().class(), KeyClass::Mak);
    assert!(
        findings[0].message.contains("Multiple Activation Key (MAK)"),
        "{}",
        findings[0].message
    );
}

#[test]
fn malformed_xml_is_never_clean() {
    let header = format!("<unattend xmlns=\"{UNATTEND_NAMESPACE}\">");
    let cases: Vec<(String, Vec<&str>)> = vec![
        (String::new(), vec!["MG902"]),
        ("not xml at all".to_string(), vec!["MG902"]),
        (format!("{header}<settings pass=\"x\"><Key"), vec!["MG902"]),
        (format!("{header}<a></b></unattend>"), vec!["MG902"]),
        (format!("{header}</unattend><unattend/>"), vec!["MG902"]),
        (format!("{header}</unattend>trailing text"), vec!["MG902"]),
        (format!("{header}<settings>"), vec!["MG902"]),
        (
            format!("{header}<ProductKey>{MAK}</ProductKey><a b=c/></unattend>"),
            vec!["MG101", "MG902"],
        ),
        (format!("{header}<!-- {MAK} "), vec!["MG902", "MG102"]),
        (
            format!("{header}<a></b>\n<c>slmgr /ipk {MAK}</c>"),
            vec!["MG902", "MG103"],
        ),
    ];
    for (text, expected) in cases {
        let (decoded, findings) = scan_text(&text);
        assert_eq!(codes(&findings), expected, "{text:?}");
        assert_ranges_exact(&decoded, &findings);
        let malformed = findings.iter().find(|f| f.rule.code == "MG902").unwrap();
        let at = malformed.range().unwrap().start;
        assert_eq!(
            (malformed.line().unwrap(), malformed.column().unwrap()),
            line_col(&text, at)
        );
        assert_no_secret_key(&malformed.message);
    }
    let (_, findings) = scan_bytes("m.xml", &fixture_bytes("mg902_mismatched_end.xml"));
    let malformed = findings.iter().find(|f| f.rule.code == "MG902").unwrap();
    assert_eq!((malformed.line(), malformed.column()), (Some(7), Some(55)));
}

#[test]
fn text_that_is_not_lossless_is_still_scanned() {
    let text = shell_setup(&format!("<ProductKey>{MAK}</ProductKey>"));
    let mut bytes = encode(&text, TextEncoding::Utf16Le { bom: true }).unwrap();
    bytes.push(b'!');
    let (decoded, findings) = scan_bytes("odd.xml", &bytes);
    assert!(!decoded.is_lossless());
    // The odd byte is not a character: the file is not what Setup can read (MG902), and the
    // key in the rest is still reported.
    assert_eq!(codes(&findings), ["MG101", "MG902"]);
    assert_eq!(slice(&decoded, &findings[0]), MAK);
}

fn check_invariants(decoded: &DecodedText, findings: &[Finding]) {
    assert_ranges_exact(decoded, findings);
    for finding in findings {
        assert_no_secret_key(&finding.message);
        if let Some(xml) = finding.xml() {
            for part in [&xml.pass, &xml.component, &xml.architecture].into_iter().flatten() {
                assert_no_secret_key(part);
            }
            assert_no_secret_key(&xml.element_path);
        }
    }
}

const MUTATION_FIXTURES: &[&str] = &[
    "mg101_mak_windowspe.xml",
    "mg103_commands.xml",
    "mg102_key_in_comment.xml",
    "utf16_template.xml",
];

#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, bytes: Vec<u8> },
    Overwrite { at: usize, byte: u8 },
    Truncate { at: usize },
    Duplicate { at: usize, len: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let markup = prop::sample::select(vec![
        b'<', b'>', b'/', b'&', b';', b'"', b'=', b'!', b'-', b'?', b'[', b']', 0xC3, 0x00,
    ]);
    prop_oneof![
        (any::<usize>(), 1usize..64).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (any::<usize>(), markup).prop_map(|(at, byte)| Mutation::Overwrite { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), 1usize..200).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
    ]
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let len = bytes.len().max(1);
    match mutation {
        Mutation::Delete { at, len: n } => {
            let at = at % len;
            let end = (at + n).min(bytes.len());
            if at < end {
                bytes.drain(at..end);
            }
        }
        Mutation::Insert { at, bytes: new } => {
            let at = at % (bytes.len() + 1);
            bytes.splice(at..at, new.iter().copied());
        }
        Mutation::Overwrite { at, byte } => {
            if !bytes.is_empty() {
                let at = at % bytes.len();
                bytes[at] = *byte;
            }
        }
        Mutation::Truncate { at } => bytes.truncate(at % len),
        Mutation::Duplicate { at, len: n } => {
            let at = at % len;
            let end = (at + n).min(bytes.len());
            if at < end {
                let copy = bytes[at..end].to_vec();
                bytes.splice(end..end, copy);
            }
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let (decoded, findings) = scan_bytes("fuzz.xml", &bytes);
        check_invariants(&decoded, &findings);
        let _ = makguard_scan::testing::is_answer_file(&decoded.text);
    }

    #[test]
    fn xml_like_noise_never_panics(parts in prop::collection::vec(
        prop::sample::select(vec![
            "<", ">", "</", "/>", "<!--", "-->", "<![CDATA[", "]]>", "<?", "?>", "&amp;", "&#x36;", "&", "\"", "=",
            "unattend", "ProductKey", "Key", "component", "settings", " pass=\"specialize\"", " xmlns=\"urn:schemas-microsoft-com:unattend\"",
            "6QWQ4-8NRCW-KHGHV-CR226-3PPQC", X_PLACEHOLDER.as_str(), "slmgr /ipk ", "\r\n", " ", "é", "\u{FEFF}",
        ]),
        0..200,
    )) {
        let text: String = parts.concat();
        let (decoded, findings) = scan_text(&text);
        check_invariants(&decoded, &findings);
        let _ = makguard_scan::testing::is_answer_file(&text);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        fixture in prop::sample::select(MUTATION_FIXTURES.to_vec()),
        utf16 in any::<bool>(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let mut bytes = if utf16 {
            fixture_as(fixture, TextEncoding::Utf16Le { bom: true }, true)
        } else {
            fixture_bytes(fixture)
        };
        for m in &mutations {
            apply(&mut bytes, m);
        }
        let (decoded, findings) = scan_bytes(fixture, &bytes);
        check_invariants(&decoded, &findings);
    }

    /// A key written with any surrounding whitespace, in any set of component instances, is
    /// reported once per instance at exactly its bytes.
    #[test]
    fn generated_answer_files_report_each_key_exactly(
        leading in "[ \t\r\n]{0,6}",
        trailing in "[ \t\r\n]{0,6}",
        architectures in prop::sample::subsequence(vec!["x86", "amd64", "arm64", "wow64"], 1..=4),
        key_form in 0usize..3,
        crlf in any::<bool>(),
    ) {
        let setting = |key: &str| match key_form {
            0 => format!("<ProductKey>{leading}{key}{trailing}</ProductKey>"),
            1 => format!("<UserData><ProductKey><Key>{leading}{key}{trailing}</Key></ProductKey></UserData>"),
            _ => format!("<UserData><ProductKey>{leading}{key}{trailing}<WillShowUI>Never</WillShowUI></ProductKey></UserData>"),
        };
        let components = architectures.iter().fold(String::new(), |mut components, arch| {
            let _ = writeln!(components, "<component name=\"Microsoft-Windows-Setup\" processorArchitecture=\"{arch}\">{}</component>", setting(MAK));
            components
        });
        let mut text = format!("<?xml version=\"1.0\"?>\n<unattend xmlns=\"{UNATTEND_NAMESPACE}\">\n<settings pass=\"windowsPE\">\n{components}</settings>\n</unattend>\n");
        if crlf {
            text = text.replace('\n', "\r\n");
        }
        let (decoded, findings) = scan_text(&text);
        prop_assert_eq!(findings.len(), architectures.len());
        for (finding, arch) in findings.iter().zip(&architectures) {
            prop_assert_eq!(finding.rule.code, "MG101");
            prop_assert_eq!(slice(&decoded, finding), MAK);
            prop_assert_eq!(finding.xml().unwrap().architecture.as_deref(), Some(*arch));
        }
    }
}
