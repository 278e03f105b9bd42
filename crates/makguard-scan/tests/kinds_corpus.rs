//! The real-world corpus (../shared/corpus, files written by others) scanned as one tree:
//! no panic, and every ini / Office configuration / install-media row of MANIFEST.tsv that lists
//! a key which is neither a GVLK nor a placeholder yields a finding with that key's fingerprint.
//! Keys are compared by fingerprint and never printed.

use std::collections::BTreeSet;
use std::path::PathBuf;

use makguard_core::classify::is_placeholder;
use makguard_core::{ExitStatus, ProductKey, Severity};
use makguard_scan::{ScanOptions, scan_paths};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus");

struct ManifestRow {
    file: String,
    kind: String,
    keys: Vec<ProductKey>,
}

fn manifest() -> Vec<ManifestRow> {
    let text = std::fs::read_to_string(format!("{CORPUS}/MANIFEST.tsv")).expect("corpus manifest");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).expect("manifest column");
    let (file, kind, keys) = (column("file"), column("kind"), column("keys"));
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split('\t').collect();
            ManifestRow {
                file: cells[file].to_string(),
                kind: cells[kind].to_string(),
                keys: cells[keys]
                    .split(',')
                    .filter_map(|k| ProductKey::parse(k.trim()).ok())
                    .collect(),
            }
        })
        .collect()
}

#[test]
fn every_listed_non_gvlk_key_in_ini_office_and_media_files_is_found() {
    let report = scan_paths(&[PathBuf::from(CORPUS)], &ScanOptions::default());
    let found: BTreeSet<(String, String)> = report
        .findings
        .iter()
        .filter_map(|f| Some((f.path().display.clone(), f.key.as_ref()?.key.fingerprint())))
        .collect();
    let mut checked = 0;
    for row in manifest() {
        if !["ini", "odt-config", "msi-config", "pidtxt"].contains(&row.kind.as_str()) {
            continue;
        }
        for key in &row.keys {
            if key.is_gvlk() || is_placeholder(key.reveal_unmasked()) {
                continue;
            }
            checked += 1;
            let wanted = (row.file.clone(), key.fingerprint());
            assert!(
                found.contains(&wanted),
                "{}: no finding for the key {} ({})",
                row.file,
                key,
                key.fingerprint()
            );
        }
    }
    // JTucker04 configuration.xml (3 keys) and brianlala config.xml (2 keys) at least.
    assert!(checked >= 5, "only {checked} keys checked");
    // The corpus holds wimlib's malicious test WIMs: makguard reads them and refuses what is
    // broken in them (MG920 unreadable, MG921 refused entries), so the scan is incomplete.
    assert!(
        report
            .findings
            .iter()
            .any(|f| matches!(f.rule.code, "MG920" | "MG921") && f.path().display.contains(".wim"))
    );
    assert_eq!(report.exit_status(Severity::Error), ExitStatus::Incomplete);
}

#[test]
fn office_findings_in_the_corpus_carry_their_rules_and_hints() {
    let report = scan_paths(&[PathBuf::from(CORPUS)], &ScanOptions::default());
    let c2r: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.path().display == "JTucker04__Office2019/configuration.xml")
        .collect();
    let ids: Vec<_> = c2r
        .iter()
        .map(|f| (f.rule.code, f.detail.click_to_run_product_id()))
        .collect();
    assert_eq!(
        ids,
        vec![
            ("MG211", Some("ProPlus2024Volume")),
            ("MG211", Some("VisioPro2024Volume")),
            ("MG211", Some("ProjectPro2024Volume")),
        ]
    );
    // 0free's configuration: the manifest's note calls its keys GVLKs, but they were replaced by
    // synthetic stand-ins that are not in the catalog, so each product's PIDKEY is reported.
    let zero_free: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.path().display == "0free__office/configuration.xml")
        .map(|f| (f.rule.code, f.line(), f.detail.click_to_run_product_id()))
        .collect();
    assert_eq!(
        zero_free,
        vec![
            ("MG211", Some(4), Some("ProPlus2021Volume")),
            ("MG211", Some(10), Some("VisioPro2021Volume")),
            ("MG211", Some(16), Some("ProjectPro2021Volume")),
        ]
    );
    let msi: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.path().display == "brianlala__AutoSPInstaller/config.xml")
        .map(|f| (f.rule.code, f.line(), f.spelling().bare))
        .collect();
    // One active PIDKEY and two commented-out ones, all written with dashes.
    assert_eq!(
        msi,
        vec![
            ("MG212", Some(14), false),
            ("MG212", Some(15), false),
            ("MG212", Some(16), false)
        ]
    );
}

#[test]
fn the_corpus_as_single_files_and_deep_does_not_panic() {
    let report = scan_paths(
        &[PathBuf::from(CORPUS)],
        &ScanOptions {
            deep: true,
            jobs: Some(3),
            ..ScanOptions::default()
        },
    );
    assert!(report.summary.files_scanned >= 100, "{:?}", report.summary);
    let ei = PathBuf::from(format!("{CORPUS}/Maxymo78__Win11-Unattended-Suite/sources__ei.cfg"));
    let single = scan_paths(&[ei], &ScanOptions::default());
    assert!(single.roots[0].is_file);
    assert!(single.findings.iter().all(|f| f.rule.code != "MG901"));
}
