//! The fail-closed promise as a property, end to end through the built binary: for a generated
//! image tree with one checksum-valid synthetic MAK planted in a random place of the classes
//! issue 9 names (a text file of any name, a scheduled task without extension, a large log, an
//! answer file whose key is split by CDATA, comments or internal entities, UTF-16 and UTF-32
//! files, a file or folder name), among random traps (FIFOs, links, binary blobs, a WIM of the
//! tree), the run ends, the exit code is never 0, and no format (text, JSON, SARIF, `JUnit`,
//! GitHub annotations, Markdown) holds the key in any spelling: dashed, undashed, lower case,
//! UTF-16.
#![cfg(unix)]

mod common;

use std::fs;
use std::path::Path;

use common::run_in;
use proptest::prelude::*;

/// The checksum-valid synthetic MAK stand-ins.
fn keys() -> Vec<String> {
    makguard_testkit::read_tsv("synthetic-keys.tsv")
        .into_iter()
        .filter(|row| row.get("checksum_ok").map(String::as_str) == Some("true"))
        .filter(|row| row.get("use").is_some_and(|u| u.contains("MAK")))
        .filter_map(|row| row.get("key").cloned())
        .collect()
}

fn answer_file(product_key: &str, doctype: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>{doctype}\n<unattend xmlns=\"urn:schemas-microsoft-com:unattend\">\n\
<settings pass=\"specialize\">\n<component name=\"Microsoft-Windows-Shell-Setup\" processorArchitecture=\"amd64\" \
publicKeyToken=\"31bf3856ad364e35\" language=\"neutral\" versionScope=\"nonSxS\">\n<ProductKey>{product_key}</ProductKey>\n\
</component>\n</settings>\n</unattend>\n"
    )
}

fn utf16le(text: &str) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    bytes
}

fn utf32le(text: &str) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xFE, 0, 0];
    bytes.extend(text.chars().flat_map(|c| u32::from(c).to_le_bytes()));
    bytes
}

fn put(root: &Path, rel: &str, bytes: &[u8]) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

/// Plants `key` in `root` as `class` says; `name` varies the file name.
fn plant(root: &Path, class: u8, key: &str, name: &str) {
    let (a, b) = key.split_at(12);
    match class {
        0 => put(
            root,
            &format!("Deploy/{name}"),
            format!("settings:\n  key: {key}\n").as_bytes(),
        ),
        1 => put(
            root,
            &format!("Windows/System32/Tasks/{name}"),
            utf16le(&format!("<Task><Arguments>/ipk {key}</Arguments></Task>")).as_slice(),
        ),
        2 => {
            let mut log = "2026-11-30 10:00:00, Info CBS Servicing\n".repeat(460_000).into_bytes();
            log.extend(format!("2026-11-30 10:00:01, Info SP ipk {key}\n").as_bytes());
            put(root, "Windows/Panther/setupact.log", &log);
        }
        3 => put(
            root,
            "Windows/Panther/unattend.xml",
            answer_file(&format!("<![CDATA[{a}]]><![CDATA[{b}]]>"), "").as_bytes(),
        ),
        4 => put(
            root,
            "Windows/Panther/unattend.xml",
            answer_file(&format!("{a}<!-- {name} -->{b}"), "").as_bytes(),
        ),
        5 => put(
            root,
            "Windows/Panther/unattend.xml",
            answer_file(
                "&a;&b;",
                &format!("<!DOCTYPE unattend [<!ENTITY a \"{a}\"><!ENTITY b \"{b}\">]>"),
            )
            .as_bytes(),
        ),
        6 => put(root, "Windows/Panther/unattend.xml", &utf32le(&answer_file(key, ""))),
        7 => put(root, &format!("Deploy/{key}/readme.txt"), b"nothing here\n"),
        _ => put(
            root,
            &format!("Deploy/{}.cache", key.replace('-', "").to_lowercase()),
            b"\0\x01binary",
        ),
    }
}

/// Adds the traps `traps` (a bit set) names.
fn set_traps(root: &Path, traps: u8) {
    put(root, "Windows/System32/drivers/etc/hosts", b"127.0.0.1 localhost\n");
    if traps & 1 != 0 {
        let fifo = root.join("Windows/Temp/pipe.log");
        fs::create_dir_all(fifo.parent().unwrap()).unwrap();
        let _ = std::process::Command::new("mkfifo").arg(&fifo).status();
    }
    if traps & 2 != 0 {
        fs::create_dir_all(root.join("Users")).unwrap();
        let _ = std::os::unix::fs::symlink("/etc", root.join("Users/link-to-etc"));
    }
    if traps & 4 != 0 {
        put(root, "Windows/System32/blob.dll", &[0u8; 70_000]);
    }
}

/// Every spelling of `key` a leak could take.
fn spellings(key: &str) -> Vec<Vec<u8>> {
    let undashed = key.replace('-', "");
    let mut out = Vec::new();
    for text in [
        key.to_string(),
        undashed.clone(),
        key.to_lowercase(),
        undashed.to_lowercase(),
    ] {
        out.push(text.encode_utf16().flat_map(u16::to_le_bytes).collect());
        out.push(text.into_bytes());
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 18, ..ProptestConfig::default() })]
    #[test]
    fn a_planted_key_is_never_a_pass_and_never_printed(
        class in 0u8..9,
        key_index in 0usize..4,
        traps in 0u8..8,
        name in "[a-z]{1,8}(\\.(yml|psd1|j2|cfg|json))?",
    ) {
        let keys = keys();
        prop_assume!(!keys.is_empty());
        let key = &keys[key_index % keys.len()];
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("image");
        plant(&root, class, key, &name);
        set_traps(&root, traps);
        let reports = dir.path().join("reports");
        fs::create_dir_all(&reports).unwrap();
        let mut args = vec!["scan".to_string(), root.to_string_lossy().into_owned(), "--no-progress".into()];
        for format in ["json", "sarif", "junit", "gitlab", "github", "markdown"] {
            args.push("--format".into());
            args.push(format!("{format}={}", reports.join(format).display()));
        }
        args.push("--format".into());
        args.push("text".into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_in(dir.path(), &args, "", &[]);
        prop_assert!(out.code != 0, "class {class}: exit 0\n{}", out.all());
        let mut outputs = vec![out.stdout.into_bytes(), out.stderr.into_bytes()];
        for entry in fs::read_dir(&reports).unwrap() {
            outputs.push(fs::read(entry.unwrap().path()).unwrap());
        }
        for output in &outputs {
            for spelling in spellings(key) {
                prop_assert!(!contains(output, &spelling), "class {class}: a report holds the key");
            }
        }
    }
}
