//! End to end over the real files in ../shared/corpus (read in place, never copied): every
//! output format is written in one run, the run judges (exit 1 or 3, never 2 or a crash), and
//! no key that is not a public GVLK appears in full in any output.

mod common;

use std::path::Path;

use common::*;
use makguard_core::ProductKey;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus");

#[test]
fn corpus_scan_in_every_format_never_reveals_a_non_gvlk() {
    let manifest = std::fs::read_to_string(Path::new(CORPUS).join("MANIFEST.tsv")).expect("corpus MANIFEST.tsv");
    let mut lines = manifest.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let keys_column = header.iter().position(|h| *h == "keys").expect("keys column");
    let secrets: Vec<ProductKey> = lines
        .filter_map(|line| line.split('\t').nth(keys_column))
        .flat_map(|keys| keys.split(','))
        .filter_map(|key| ProductKey::parse(key.trim()).ok())
        .filter(|key| !key.is_gvlk())
        .collect();
    assert!(!secrets.is_empty(), "the corpus lists non-GVLK keys to check for");

    let out_dir = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = vec!["scan".into(), CORPUS.into(), "--format".into(), "text".into()];
    for format in ["json", "sarif", "junit", "gitlab", "github", "markdown"] {
        args.push("--format".into());
        args.push(format!("{format}={}", out_dir.path().join(format).display()));
    }
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&arg_refs);
    assert!(out.code == 1 || out.code == 3, "exit {}:\n{}", out.code, out.stderr);

    let mut outputs = vec![
        ("stdout".to_string(), out.stdout.clone()),
        ("stderr".to_string(), out.stderr.clone()),
    ];
    for format in ["json", "sarif", "junit", "gitlab", "github", "markdown"] {
        let text = std::fs::read_to_string(out_dir.path().join(format)).expect("report written");
        assert!(!text.is_empty(), "{format} report is empty");
        outputs.push((format.to_string(), text));
    }
    let report: serde_json::Value = serde_json::from_str(&outputs[2].1).expect("JSON report parses");
    assert!(!findings(&report).is_empty());
    for key in &secrets {
        let full = key.reveal_unmasked();
        let bare = full.replace('-', "");
        for (name, text) in &outputs {
            assert!(
                !text.contains(full) && !text.contains(&bare),
                "{name} reveals the non-GVLK key {} ({})",
                key.masked(),
                key.fingerprint()
            );
        }
    }
}
