//! Keeps `unattend-samples/README.md` honest: every sample is scanned and the codes, the exit
//! code and the encoding its table lists must be what `unattend::scan` gives; every sample is
//! in the table and every table row names a sample.

mod unattend_support;

use std::collections::BTreeMap;
use std::path::PathBuf;

use makguard_core::{ScanReport, Severity};
use regex::Regex;
use unattend_support::{assert_no_secret_key, assert_only_public_or_synthetic_keys, assert_ranges_exact, scan_bytes};

fn samples_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../unattend-samples"))
}

struct Row {
    file: String,
    encoding: String,
    codes: BTreeMap<String, usize>,
    exit: i32,
}

/// Rows of the table whose header starts with `| File | Encoding |`.
fn readme_rows(readme: &str) -> Vec<Row> {
    let code = Regex::new(r"(MG\d{3})(?:\s*×\s*(\d+))?").unwrap();
    let mut rows = Vec::new();
    let mut in_table = false;
    for line in readme.lines() {
        if line.starts_with("| File | Encoding |") {
            in_table = true;
            continue;
        }
        if !in_table || line.starts_with("|---") {
            continue;
        }
        if !line.starts_with('|') {
            if !rows.is_empty() {
                break;
            }
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        assert_eq!(cells.len(), 5, "malformed row: {line}");
        let mut codes = BTreeMap::new();
        for caps in code.captures_iter(cells[3]) {
            let count = caps.get(2).map_or(1, |n| n.as_str().parse().unwrap());
            *codes.entry(caps[1].to_string()).or_default() += count;
        }
        rows.push(Row {
            file: cells[0].trim_matches('`').to_string(),
            encoding: cells[1].to_string(),
            codes,
            exit: cells[4].parse().unwrap_or_else(|_| panic!("exit column of {line}")),
        });
    }
    rows
}

#[test]
fn readme_table_matches_what_makguard_reports() {
    let readme_path = samples_dir().join("README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap_or_else(|e| panic!("{}: {e}", readme_path.display()));
    assert_no_secret_key(&readme);
    let rows = readme_rows(&readme);
    assert!(
        rows.len() >= 12,
        "expected at least 12 samples, the table lists {}",
        rows.len()
    );

    let mut on_disk: Vec<String> = walkdir::WalkDir::new(samples_dir())
        .into_iter()
        .map(|entry| entry.expect("entry"))
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| {
            let relative = entry.path().strip_prefix(samples_dir()).expect("inside the folder");
            relative.to_string_lossy().replace('\\', "/")
        })
        .filter(|name| std::path::Path::new(name).extension().is_some_and(|ext| ext == "xml"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = rows.iter().map(|r| r.file.clone()).collect();
    listed.sort();
    assert_eq!(listed, on_disk, "the README table and the samples folder differ");

    for row in &rows {
        let bytes = std::fs::read(samples_dir().join(&row.file)).expect("sample readable");
        let (decoded, findings) = scan_bytes(&row.file, &bytes);
        assert_only_public_or_synthetic_keys(&row.file, &decoded.text);
        assert!(
            makguard_scan::testing::is_answer_file(&decoded.text),
            "{} is not recognised",
            row.file
        );
        assert_eq!(decoded.encoding.name(), row.encoding, "{}: encoding", row.file);
        assert_ranges_exact(&decoded, &findings);
        let mut codes = BTreeMap::new();
        for finding in &findings {
            assert_no_secret_key(&finding.message);
            *codes.entry(finding.rule.code.to_string()).or_default() += 1;
        }
        assert_eq!(codes, row.codes, "{}: codes", row.file);
        let report = ScanReport {
            findings,
            ..ScanReport::default()
        };
        assert_eq!(
            report.exit_status(Severity::Error) as i32,
            row.exit,
            "{}: exit",
            row.file
        );
    }
}

#[test]
fn samples_cover_the_required_cases() {
    let readme = std::fs::read_to_string(samples_dir().join("README.md")).expect("README");
    let rows = readme_rows(&readme);
    let has = |code: &str| rows.iter().any(|r| r.codes.contains_key(code));
    for code in ["MG100", "MG101", "MG102", "MG103", "MG104", "MG902"] {
        assert!(has(code), "no sample shows {code}");
    }
    assert!(rows.iter().any(|r| r.encoding == "utf-16le-bom"));
    assert!(rows.iter().any(|r| r.encoding == "utf-8-bom"));
    assert!(rows.iter().any(|r| r.exit == 0 && r.codes.keys().all(|c| c == "MG100")));
    // The UTF-16 sample keeps its CRLF line ends.
    let bytes = std::fs::read(samples_dir().join("08-utf16le-bom-crlf.xml")).expect("sample");
    assert!(bytes.windows(4).any(|w| w == b"\r\0\n\0"));
    // The multi-architecture sample reports one finding per component instance.
    let (_, findings) = scan_bytes("12", &std::fs::read(samples_dir().join("12-multi-arch.xml")).unwrap());
    let mut architectures: Vec<String> = findings.iter().filter_map(|f| f.xml()?.architecture.clone()).collect();
    architectures.sort();
    assert_eq!(architectures, ["amd64", "arm64", "x86"]);
}
