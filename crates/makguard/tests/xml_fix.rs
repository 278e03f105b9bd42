//! `makguard fix` on keys an XML file spells with character references, CDATA sections,
//! comments or processing instructions: the file is rewritten so that an independent XML
//! parser (Python's `ElementTree`) reads the GVLK where the MAK was, and nothing else changes;
//! a key spelled with DTD entities is left alone with a truthful reason. Skips the parser
//! check when python3 is missing.

mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use makguard_core::text::{TextEncoding, encode};

/// Spellings of `key` the fixer can rewrite as one span.
fn rewritable_spellings(key: &str) -> Vec<(&'static str, String)> {
    let (head, tail) = key.split_at(12);
    vec![
        ("plain", key.to_string()),
        (
            "hex character reference",
            format!("&#x{:X};{}", key.as_bytes()[0], &key[1..]),
        ),
        (
            "decimal character references",
            key.bytes().fold(String::new(), |mut out, b| {
                let _ = write!(out, "&#{b};");
                out
            }),
        ),
        ("two cdata", format!("<![CDATA[{head}]]><![CDATA[{tail}]]>")),
        (
            "cdata mixed with text",
            format!("{}<![CDATA[{}]]>{}", &key[..6], &key[6..18], &key[18..]),
        ),
        ("comment between", format!("{head}<!-- x -->{tail}")),
        ("processing instruction between", format!("{head}<?pi x?>{tail}")),
    ]
}

fn answer_file(doctype: &str, product_key: &str, command_key: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
{doctype}<unattend xmlns="urn:schemas-microsoft-com:unattend">
  <settings pass="windowsPE">
    <component name="Microsoft-Windows-Setup" processorArchitecture="amd64">
      <UserData><ProductKey><Key>{product_key}</Key><WillShowUI>Never</WillShowUI></ProductKey></UserData>
    </component>
  </settings>
  <settings pass="oobeSystem">
    <component name="Microsoft-Windows-Shell-Setup" processorArchitecture="amd64">
      <FirstLogonCommands><SynchronousCommand><Order>1</Order><CommandLine>cmd /c slmgr /ipk {command_key} &amp;&amp; slmgr /ato</CommandLine></SynchronousCommand></FirstLogonCommands>
    </component>
  </settings>
</unattend>
"#
    )
}

/// `(tag, stripped text)` of the Key and `CommandLine` elements as `ElementTree` reads `path`;
/// `None` when python3 is not installed.
fn python_texts(path: &Path) -> Option<Vec<(String, String)>> {
    let script = r"
import sys, codecs, xml.etree.ElementTree as ET
data = open(sys.argv[1], 'rb').read()
for bom, name in ((codecs.BOM_UTF32_LE, 'utf-32'), (codecs.BOM_UTF32_BE, 'utf-32'), (b'<\0\0\0', 'utf-32-le'), (b'\0\0\0<', 'utf-32-be')):
    if data.startswith(bom):
        text = data.decode(name).lstrip('\ufeff')
        data = text[text.index('?>') + 2:].encode('utf-8')
        break
root = ET.fromstring(data)
for el in root.iter():
    tag = el.tag.split('}')[-1]
    if tag in ('Key', 'CommandLine', 'ProductKey') and (el.text or '').strip():
        print(tag + '\t' + el.text.strip())
";
    let output = Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .stderr(Stdio::piped())
        .output()
        .ok()?;
    assert!(
        output.status.success(),
        "ElementTree cannot parse the file: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    Some(
        stdout
            .lines()
            .filter_map(|line| line.split_once('\t'))
            .map(|(tag, text)| (tag.to_string(), text.to_string()))
            .collect(),
    )
}

fn fix(dir: &Path) -> Output {
    run_in(
        dir,
        &["fix", "--edition", "Enterprise", "--build", "22631", "./unattend.xml"],
        "",
        &[],
    )
}

fn assert_parser_reads_the_gvlk(path: &Path, what: &str) {
    let Some(texts) = python_texts(path) else {
        eprintln!("python3 not installed: skipping the ElementTree check");
        return;
    };
    let key = texts.iter().find(|(tag, _)| tag == "Key").map(|(_, t)| t.as_str());
    assert_eq!(key, Some(ENTERPRISE_GVLK), "{what}: {texts:?}");
    let command = texts
        .iter()
        .find(|(tag, _)| tag == "CommandLine")
        .map(|(_, t)| t.as_str());
    assert_eq!(
        command,
        Some(format!("cmd /c slmgr /ipk {ENTERPRISE_GVLK} && slmgr /ato").as_str()),
        "{what}"
    );
}

#[test]
fn fix_rewrites_every_xml_spelling_so_a_parser_reads_the_gvlk() {
    for (name, spelling) in rewritable_spellings(SYNTHETIC_MAK) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("unattend.xml");
        std::fs::write(&path, answer_file("", &spelling, &spelling)).expect("write");
        let out = fix(dir.path());
        assert!(
            !out.all().contains("changed since the scan"),
            "{name}: nothing changed, so fix must not say so:\n{}",
            out.all()
        );
        assert!(!out.all().contains(SYNTHETIC_MAK), "{name}: the MAK printed in full");
        assert_parser_reads_the_gvlk(&path, name);
        let rescan = run_in(dir.path(), &["scan", "unattend.xml"], "", &[]);
        assert_eq!(rescan.code, 0, "{name}: after the fix\n{}", rescan.all());
        let written = std::fs::read_to_string(&path).expect("read back");
        assert!(written.contains("<WillShowUI>Never</WillShowUI>"), "{name}: {written}");
    }
}

#[test]
fn fix_rewrites_utf32_answer_files_byte_exactly() {
    for encoding in [
        TextEncoding::Utf32Le { bom: true },
        TextEncoding::Utf32Be { bom: false },
    ] {
        let text = answer_file("", SYNTHETIC_MAK, SYNTHETIC_MAK).replace("utf-8", "utf-32");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("unattend.xml");
        std::fs::write(&path, encode(&text, encoding).unwrap()).expect("write");
        let scan = run_in(dir.path(), &["scan", "unattend.xml"], "", &[]);
        assert_eq!(scan.code, 1, "{encoding:?}: {}", scan.all());
        fix(dir.path());
        let expected = encode(&text.replace(SYNTHETIC_MAK, ENTERPRISE_GVLK), encoding).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), expected, "{encoding:?}");
        assert_parser_reads_the_gvlk(&path, &format!("{encoding:?}"));
    }
}

#[test]
fn keys_spelled_with_dtd_entities_are_left_with_a_reason() {
    let (head, tail) = SYNTHETIC_MAK.split_at(12);
    let doctype = format!("<!DOCTYPE unattend [<!ENTITY a \"{head}\"><!ENTITY b \"{tail}\">]>\n");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("unattend.xml");
    let original = answer_file(&doctype, "&a;&b;", "&a;&b;");
    std::fs::write(&path, &original).expect("write");
    let scan = run_in(dir.path(), &["scan", "unattend.xml"], "", &[]);
    assert_eq!(scan.code, 1, "{}", scan.all());
    assert!(
        scan.stdout.contains("MG101") && scan.stdout.contains("MG103"),
        "{}",
        scan.stdout
    );
    let out = fix(dir.path());
    assert!(out.all().contains("replace it by hand"), "{}", out.all());
    assert!(!out.all().contains("changed since the scan"), "{}", out.all());
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        original,
        "the file is untouched"
    );
    assert!(!out.all().contains(SYNTHETIC_MAK));
}

#[test]
fn scan_exit_codes_for_unreadable_xml() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            "external entity",
            answer_file(
                "<!DOCTYPE unattend [<!ENTITY x SYSTEM \"key.txt\">]>\n",
                "&x;",
                ENTERPRISE_GVLK,
            ),
        ),
        (
            "EBCDIC declared",
            answer_file("", SYNTHETIC_MAK, SYNTHETIC_MAK).replace("utf-8", "IBM037"),
        ),
        (
            "truncated",
            "<?xml version=\"1.0\"?>\n<unattend xmlns=\"urn:sch".to_string(),
        ),
    ];
    for (what, text) in cases {
        std::fs::write(dir.path().join("unattend.xml"), text).expect("write");
        let out = run_in(dir.path(), &["scan", "unattend.xml"], "", &[]);
        assert_eq!(out.code, 3, "{what}: {}", out.all());
        assert!(!out.all().contains(SYNTHETIC_MAK), "{what}");
    }
}
