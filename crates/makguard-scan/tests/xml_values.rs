//! What any XML parser reads is what makguard reads: every spelling of a key (CDATA sections,
//! comments and processing instructions between its characters, character references,
//! predefined and internal DTD entities, nested ones) in every key-bearing place of an answer
//! file and an Office configuration; entity expansion limits and external entities; encodings
//! makguard decodes (UTF-32) and those it does not; UTF-16 inside UTF-8; truncated answer
//! files. Python's `ElementTree`, where installed, confirms each input spells the key.

use std::fmt::Write as _;
use std::process::Command;

use makguard_core::rules;
use makguard_core::text::{TextEncoding, decode, encode};
use makguard_core::{Finding, FindingPath, ProductKey};
use makguard_scan::{FileContext, FileKind, detect_kind, scan_file_bytes};

const MAK: &str = "6QWQ4-8NRCW-KHGHV-CR226-3PPQC";

/// How a key's 29 characters can be written so that an XML parser reads the key.
fn spellings(key: &str) -> Vec<(&'static str, String, &'static str)> {
    let (head, tail) = key.split_at(12);
    let hex_first = format!("&#x{:X};{}", key.as_bytes()[0], &key[1..]);
    let decimal_all = key.bytes().fold(String::new(), |mut text, b| {
        let _ = write!(text, "&#{b};");
        text
    });
    vec![
        ("plain", key.to_string(), ""),
        ("two cdata", format!("<![CDATA[{head}]]><![CDATA[{tail}]]>"), ""),
        (
            "cdata mixed with text",
            format!("{}<![CDATA[{}]]>{}", &key[..6], &key[6..18], &key[18..]),
            "",
        ),
        ("comment between", format!("{head}<!-- x -->{tail}"), ""),
        ("processing instruction between", format!("{head}<?pi data?>{tail}"), ""),
        ("hex character reference", hex_first, ""),
        ("decimal character references", decimal_all, ""),
        (
            "internal entities",
            "&a;&b;".to_string(),
            "a|b", // declared by `doctype`
        ),
        ("nested internal entities", "&k;".to_string(), "a|b|k"),
    ]
}

/// The DOCTYPE declaring the entities a spelling uses.
fn doctype(key: &str, entities: &str) -> String {
    if entities.is_empty() {
        return String::new();
    }
    let (head, tail) = key.split_at(12);
    // `b` holds a character reference, expanded when the declaration is read.
    let tail_with_ref = format!("&#x{:X};{}", tail.as_bytes()[0], &tail[1..]);
    let mut out = format!("<!DOCTYPE unattend [\n  <!ENTITY a \"{head}\">\n  <!ENTITY b \"{tail_with_ref}\">\n");
    if entities.contains('k') {
        out.push_str("  <!ENTITY k \"&a;&b;\">\n");
    }
    out.push_str("]>\n");
    out
}

/// The key-bearing places of an answer file: the element that holds the text, the body with
/// `{}` where the spelled key goes, and the rule a MAK there gets.
fn places() -> Vec<(&'static str, &'static str, &'static str, &'static rules::Rule)> {
    vec![
        (
            "ProductKey",
            r#"<settings pass="specialize"><component name="Microsoft-Windows-Shell-Setup" processorArchitecture="amd64"><ProductKey>{}</ProductKey></component></settings>"#,
            "Shell-Setup ProductKey",
            &rules::UNATTEND_NON_KMS_KEY,
        ),
        (
            "Key",
            r#"<settings pass="windowsPE"><component name="Microsoft-Windows-Setup" processorArchitecture="amd64"><UserData><ProductKey><Key>{}</Key><WillShowUI>Never</WillShowUI></ProductKey></UserData></component></settings>"#,
            "UserData/ProductKey/Key",
            &rules::UNATTEND_NON_KMS_KEY,
        ),
        (
            "Path",
            r#"<settings pass="specialize"><component name="Microsoft-Windows-Deployment" processorArchitecture="amd64"><RunSynchronous><RunSynchronousCommand><Order>1</Order><Path>cscript //b %windir%\system32\slmgr.vbs /ipk {}</Path></RunSynchronousCommand></RunSynchronous></component></settings>"#,
            "RunSynchronous Path",
            &rules::UNATTEND_COMMAND_INSTALLS_KEY,
        ),
        (
            "CommandLine",
            r#"<settings pass="oobeSystem"><component name="Microsoft-Windows-Shell-Setup" processorArchitecture="amd64"><FirstLogonCommands><SynchronousCommand><Order>1</Order><CommandLine>slmgr /ipk {}</CommandLine></SynchronousCommand></FirstLogonCommands></component></settings>"#,
            "FirstLogonCommands CommandLine",
            &rules::UNATTEND_COMMAND_INSTALLS_KEY,
        ),
    ]
}

fn answer_file(key: &str, spelling: &str, entities: &str, body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n{}<unattend xmlns=\"urn:schemas-microsoft-com:unattend\">\n{}\n</unattend>\n",
        doctype(key, entities),
        body.replace("{}", spelling)
    )
}

fn scan_as(name: &str, bytes: &[u8]) -> (FileKind, Vec<Finding>) {
    let path = FindingPath::new(name);
    let ctx = FileContext {
        path: &path,
        key_config: None,
    };
    let kind = detect_kind(name, bytes).expect("a candidate");
    (kind, scan_file_bytes(kind, bytes, &ctx))
}

fn codes(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.rule.code).collect()
}

fn assert_masked(findings: &[Finding], key: &str) {
    let undashed = key.replace('-', "");
    for finding in findings {
        assert!(
            !finding.message.contains(key) && !finding.message.contains(&undashed),
            "a message holds the key in full: {}",
            finding.message
        );
    }
}

/// The stripped text of every `tag` element, as Python's `ElementTree` reads the file; `None`
/// when python3 is not installed.
fn python_texts(bytes: &[u8], tag: &str) -> Option<Vec<String>> {
    let script = r"
import sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
for el in root.iter():
    if el.tag.split('}')[-1] == sys.argv[1]:
        print((el.text or '').strip())
";
    let mut child = Command::new("python3")
        .args(["-c", script, tag])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), bytes).expect("write to python3");
    let output = child.wait_with_output().expect("python3 runs");
    assert!(output.status.success(), "ElementTree cannot parse the test input");
    Some(
        String::from_utf8(output.stdout)
            .expect("utf-8")
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

#[test]
fn every_spelling_in_every_key_place_is_the_key() {
    for (place, body, what, rule) in places() {
        for (name, spelling, entities) in spellings(MAK) {
            let text = answer_file(MAK, &spelling, entities, body);
            if let Some(values) = python_texts(text.as_bytes(), place) {
                assert!(
                    values.iter().any(|v| v.ends_with(MAK)),
                    "{name} in {what}: the test input does not spell the key for ElementTree"
                );
            }
            let (kind, findings) = scan_as("Windows/Panther/unattend.xml", text.as_bytes());
            assert_eq!(kind, FileKind::AnswerFile);
            let found: Vec<&Finding> = findings
                .iter()
                .filter(|f| f.key.as_ref().is_some_and(|k| k.key.reveal_unmasked() == MAK))
                .collect();
            assert_eq!(found.len(), 1, "{name} in {what}: {:?}", codes(&findings));
            assert_eq!(found[0].rule.code, rule.code, "{name} in {what}");
            assert!(
                findings
                    .iter()
                    .all(|f| !f.rule.code.starts_with("MG9") && f.rule.code != "MG106"),
                "{name} in {what}: {:?}",
                codes(&findings)
            );
            // The range holds the key, or bytes that spell it, or the finding says no edit can.
            let range = found[0].range().expect("a range");
            let decoded = decode(text.as_bytes());
            let spelled = &decoded.text[range.start..range.end];
            let rewritable = makguard_scan::rewritable_value(spelled).or(Some(spelled.to_string()));
            let reads_as_key =
                rewritable.is_some_and(|v| ProductKey::parse(&v).is_ok_and(|k| k.reveal_unmasked() == MAK));
            assert!(
                reads_as_key != found[0].spelling().not_rewritable.is_some(),
                "{name} in {what}: range {spelled:?}, not_rewritable {:?}",
                found[0].spelling().not_rewritable
            );
            if entities.is_empty() {
                assert!(
                    reads_as_key,
                    "{name} in {what}: only DTD entities make a key unrewritable"
                );
            }
            assert_masked(&findings, MAK);
        }
    }
}

#[test]
fn office_pidkey_attributes_read_references_and_entities() {
    let bare = MAK.replace('-', "");
    let cases = [
        (
            format!("&#x{:X};{}", MAK.as_bytes()[0], &MAK[1..]),
            String::new(),
            false,
        ),
        (MAK.replace('-', "&#45;"), String::new(), false),
        (
            "&a;&b;".to_string(),
            format!(
                "<!DOCTYPE Configuration [<!ENTITY a \"{}\"><!ENTITY b \"{}\">]>\n",
                &MAK[..12],
                &MAK[12..]
            ),
            true,
        ),
    ];
    for (spelling, dtd, entity) in cases {
        let text = format!(
            "<?xml version=\"1.0\"?>\n{dtd}<Configuration>\n <Add Channel=\"PerpetualVL2021\">\n  <Product ID=\"ProPlus2021Volume\" PIDKEY=\"{spelling}\"/>\n </Add>\n</Configuration>\n"
        );
        let (kind, findings) = scan_as("configuration.xml", text.as_bytes());
        assert_eq!(kind, FileKind::OfficeClickToRun, "{spelling}");
        let keyed: Vec<&Finding> = findings.iter().filter(|f| f.rule.code == "MG211").collect();
        assert_eq!(keyed.len(), 1, "{spelling}: {:?}", codes(&findings));
        assert_eq!(keyed[0].key.as_ref().unwrap().key.reveal_unmasked(), MAK);
        assert_eq!(keyed[0].spelling().not_rewritable.is_some(), entity, "{spelling}");
        assert!(!findings.iter().any(|f| f.rule.code.starts_with("MG9")), "{spelling}");
        assert_masked(&findings, MAK);
    }
    // MSI PIDKEY Value, bare, one character as a reference.
    let text = format!(
        "<Configuration Product=\"ProPlus\">\n<PIDKEY Value=\"&#{};{}\" />\n</Configuration>\n",
        bare.as_bytes()[0],
        &bare[1..]
    );
    let (_, findings) = scan_as("config.xml", text.as_bytes());
    assert_eq!(codes(&findings), ["MG212"]);
    assert!(findings[0].spelling().bare);
}

#[test]
fn entity_expansion_is_bounded_and_an_error() {
    let mut dtd = String::from("<!DOCTYPE unattend [\n<!ENTITY l0 \"lollollollollollollollollollol\">\n");
    for level in 1..12 {
        dtd.push_str(&format!(
            "<!ENTITY l{level} \"{}\">\n",
            format!("&l{};", level - 1).repeat(10)
        ));
    }
    dtd.push_str("]>\n");
    for place in [
        "<ProductKey>&l11;</ProductKey>",
        "<CommandLine>slmgr /ipk &l11;</CommandLine>",
    ] {
        let text = format!(
            "<?xml version=\"1.0\"?>\n{dtd}<unattend xmlns=\"urn:schemas-microsoft-com:unattend\"><settings pass=\"specialize\"><component name=\"Microsoft-Windows-Shell-Setup\">{place}</component></settings></unattend>\n"
        );
        let (_, findings) = scan_as("unattend.xml", text.as_bytes());
        assert!(codes(&findings).contains(&"MG911"), "{place}: {:?}", codes(&findings));
    }
}

#[test]
fn external_entities_are_never_read_and_fail_the_scan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let named = dir.path().join("key.txt");
    std::fs::write(&named, MAK).expect("write");
    let url = format!("file://{}", named.display());
    let declarations = [
        format!("<!DOCTYPE unattend [<!ENTITY x SYSTEM \"{url}\">]>"),
        format!("<!DOCTYPE unattend [<!ENTITY x PUBLIC \"-//x//EN\" \"{url}\">]>"),
        format!("<!DOCTYPE unattend SYSTEM \"{url}\">"),
        format!("<!DOCTYPE unattend [<!ENTITY % p SYSTEM \"{url}\"> %p;]>"),
    ];
    for declaration in &declarations {
        for place in [
            "<ProductKey>&x;</ProductKey>",
            "<CommandLine>slmgr /ipk &x;</CommandLine>",
        ] {
            let text = format!(
                "<?xml version=\"1.0\"?>\n{declaration}\n<unattend xmlns=\"urn:schemas-microsoft-com:unattend\"><settings pass=\"specialize\"><component name=\"Microsoft-Windows-Shell-Setup\">{place}</component></settings></unattend>\n"
            );
            let (_, findings) = scan_as("unattend.xml", text.as_bytes());
            assert!(
                codes(&findings).contains(&"MG910"),
                "{declaration} {place}: {:?}",
                codes(&findings)
            );
            assert!(
                findings.iter().all(|f| f.key.is_none()),
                "the file an external entity names is never read"
            );
        }
    }
    // An undeclared entity with no DTD is not well-formed.
    let text = "<unattend xmlns=\"urn:schemas-microsoft-com:unattend\"><ProductKey>&nope;</ProductKey></unattend>";
    assert!(codes(&scan_as("unattend.xml", text.as_bytes()).1).contains(&"MG902"));
}

fn shell_setup_answer_file(encoding_name: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"{encoding_name}\"?>\n<unattend xmlns=\"urn:schemas-microsoft-com:unattend\">\n<settings pass=\"specialize\"><component name=\"Microsoft-Windows-Shell-Setup\"><ProductKey>{MAK}</ProductKey></component></settings>\n</unattend>\n"
    )
}

#[test]
fn utf32_answer_files_are_read_with_or_without_a_bom() {
    for encoding in [
        TextEncoding::Utf32Le { bom: true },
        TextEncoding::Utf32Be { bom: true },
        TextEncoding::Utf32Le { bom: false },
        TextEncoding::Utf32Be { bom: false },
    ] {
        let text = shell_setup_answer_file("UTF-32");
        let bytes = encode(&text, encoding).unwrap();
        let (kind, findings) = scan_as("sources/x/autounattend.xml", &bytes);
        assert_eq!(kind, FileKind::AnswerFile, "{encoding:?}");
        assert_eq!(codes(&findings), ["MG101"], "{encoding:?}");
        let range = findings[0].range().unwrap();
        assert_eq!(&decode(&bytes).text[range.start..range.end], MAK);
    }
}

/// `text` in EBCDIC code page 037 (only the characters an answer file needs).
fn ebcdic_037(text: &str) -> Vec<u8> {
    let table: &[(char, u8)] = &[
        (' ', 0x40),
        ('<', 0x4C),
        ('>', 0x6E),
        ('?', 0x6F),
        ('=', 0x7E),
        ('"', 0x7F),
        ('/', 0x61),
        ('-', 0x60),
        ('.', 0x4B),
        (':', 0x7A),
        ('\n', 0x25),
    ];
    text.chars()
        .map(|c| {
            if let Some(&(_, b)) = table.iter().find(|(t, _)| *t == c) {
                return b;
            }
            let (base, offset) = match c {
                'a'..='i' => (0x81, c as u8 - b'a'),
                'j'..='r' => (0x91, c as u8 - b'j'),
                's'..='z' => (0xA2, c as u8 - b's'),
                'A'..='I' => (0xC1, c as u8 - b'A'),
                'J'..='R' => (0xD1, c as u8 - b'J'),
                'S'..='Z' => (0xE2, c as u8 - b'S'),
                '0'..='9' => (0xF0, c as u8 - b'0'),
                _ => panic!("no EBCDIC byte for {c:?} in this table"),
            };
            base + offset
        })
        .collect()
}

#[test]
fn encodings_makguard_does_not_decode_fail_the_scan() {
    let ebcdic = ebcdic_037(&shell_setup_answer_file("IBM037"));
    assert_eq!(&ebcdic[..5], [0x4C, 0x6F, 0xA7, 0x94, 0x93], "EBCDIC `<?xml`");
    let mut inputs = vec![("EBCDIC bytes", ebcdic)];
    for name in ["IBM037", "UTF-7", "ISO-2022-JP", "cp1140", "x-unknown"] {
        inputs.push((name, shell_setup_answer_file(name).into_bytes()));
    }
    // UTF-32 declared, but ASCII bytes.
    inputs.push(("utf-32 declared", shell_setup_answer_file("utf-32").into_bytes()));
    for (what, bytes) in inputs {
        for name in ["unattend.xml", "Windows/Panther/Unattend/x.xml", "other/settings.xml"] {
            let (_, findings) = scan_as(name, &bytes);
            assert!(
                codes(&findings).contains(&"MG912"),
                "{what} as {name}: {:?}",
                codes(&findings)
            );
            assert_masked(&findings, MAK);
        }
    }
    // Declared code pages that keep ASCII as ASCII are read as usual.
    for name in ["windows-1252", "ISO-8859-1", "shift_jis", "us-ascii"] {
        let (_, findings) = scan_as("unattend.xml", shell_setup_answer_file(name).as_bytes());
        assert_eq!(codes(&findings), ["MG101"], "{name}");
    }
}

#[test]
fn utf16_key_inside_utf8_text_is_malformed_and_still_found() {
    let utf16_key = encode(MAK, TextEncoding::Utf16Le { bom: false }).unwrap();
    for (open, close) in [
        (
            "<settings pass=\"specialize\"><component name=\"Microsoft-Windows-Shell-Setup\"><ProductKey>",
            "</ProductKey>",
        ),
        (
            "<settings pass=\"oobeSystem\"><component name=\"Microsoft-Windows-Shell-Setup\"><FirstLogonCommands><SynchronousCommand><CommandLine>slmgr /ipk ",
            "</CommandLine></SynchronousCommand></FirstLogonCommands>",
        ),
    ] {
        let mut bytes =
            b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<unattend xmlns=\"urn:schemas-microsoft-com:unattend\">\n"
                .to_vec();
        bytes.extend_from_slice(open.as_bytes());
        bytes.extend_from_slice(&utf16_key);
        bytes.extend_from_slice(close.as_bytes());
        bytes.extend_from_slice(b"</component></settings>\n</unattend>\n");
        let (_, findings) = scan_as("unattend.xml", &bytes);
        assert!(codes(&findings).contains(&"MG902"), "{open}: {:?}", codes(&findings));
        let keyed: Vec<&Finding> = findings.iter().filter(|f| f.key.is_some()).collect();
        assert_eq!(keyed.len(), 1, "{open}: {:?}", codes(&findings));
        assert_eq!(keyed[0].key.as_ref().unwrap().key.reveal_unmasked(), MAK);
        assert!(keyed[0].spelling().not_rewritable.is_some());
        assert!(keyed[0].message.contains("3PPQC"));
        assert_masked(&findings, MAK);
    }
}

/// Real answer files from the sample folder: UTF-8, and UTF-16LE with a BOM and CRLF.
fn real_answer_files() -> Vec<(String, Vec<u8>)> {
    let samples = makguard_testkit::workspace_root().join("unattend-samples");
    ["03-mak-windowspe.xml", "08-utf16le-bom-crlf.xml"]
        .into_iter()
        .map(|name| {
            (
                name.to_string(),
                std::fs::read(samples.join(name)).expect("sample readable"),
            )
        })
        .collect()
}

/// Where to cut a file of `len` bytes: everywhere in a small file; in a larger one every byte
/// of its head and tail (declaration, BOM, namespace, last closing tags) and every 7th between.
fn cuts(len: usize) -> Vec<usize> {
    if len <= 6000 {
        return (0..len).collect();
    }
    (0..len)
        .filter(|&cut| cut < 800 || cut + 800 > len || cut % 7 == 0)
        .collect()
}

#[test]
fn every_prefix_of_a_real_answer_file_is_complete_or_mg902() {
    let paths = ["Windows/Panther/unattend.xml", "media/AutoUnattend.xml"];
    for (name, bytes) in real_answer_files() {
        let full = decode(&bytes).text;
        for cut in cuts(bytes.len()) {
            let path = paths[cut % paths.len()];
            let (kind, findings) = scan_as(path, &bytes[..cut]);
            if codes(&findings).contains(&"MG902") {
                continue;
            }
            let text = decode(&bytes[..cut]).text;
            assert!(
                kind == FileKind::AnswerFile && text.trim_end() == full.trim_end(),
                "{name} cut at byte {cut} of {} as {path}: {kind:?} {:?}",
                bytes.len(),
                codes(&findings)
            );
        }
    }
}

#[test]
fn the_issue_truncation_example_is_mg902() {
    let text = b"<?xml version=\"1.0\"?>\n<unattend xmlns=\"urn:sch";
    for path in [
        "unattend.xml",
        "deep/folder/AUTOUNATTEND.XML",
        "Windows/Panther/Unattend/custom.xml",
    ] {
        let (kind, findings) = scan_as(path, text);
        assert_eq!(
            (kind, codes(&findings)),
            (FileKind::AnswerFile, vec!["MG902"]),
            "{path}"
        );
    }
}
