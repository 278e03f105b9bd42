//! Every format over the hand-built reports: snapshots, no key material beyond masked keys,
//! the JSON contract's shape, `--show-keys` and colour.

mod common;

use common::*;
use makguard_core::Severity;
use makguard_report::{Format, RenderOptions, TextDetail, render};
use serde_json::Value;

#[test]
fn snapshots_of_every_format() {
    let report = sample_report("build/mount");
    for format in Format::ALL {
        let output = render(format, &report, &options());
        assert_no_secret_key(&output, format.as_str());
        insta::assert_snapshot!(format!("sample_{format}"), output);
    }
}

#[test]
fn snapshots_of_a_clean_scan() {
    let report = clean_report();
    for format in [Format::Text, Format::Markdown, Format::Github, Format::Junit] {
        let output = render(format, &report, &options());
        insta::assert_snapshot!(format!("clean_{format}"), output);
    }
}

#[test]
fn show_keys_reveals_keys_in_text_and_json_only() {
    let report = sample_report("build/mount");
    let revealing = RenderOptions {
        show_keys: true,
        ..options()
    };
    for format in Format::ALL {
        let output = render(format, &report, &revealing);
        match format {
            Format::Text | Format::Json => {
                for key in SECRET_KEYS {
                    assert!(output.contains(key), "{format} with --show-keys omits a key");
                }
            }
            _ => assert_no_secret_key(&output, &format!("{format} with --show-keys")),
        }
    }
    let json: Value = serde_json::from_str(&render(Format::Json, &report, &revealing)).unwrap();
    let revealed: Vec<&str> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["key"]["key"].as_str())
        .collect();
    assert_eq!(
        revealed.len(),
        5,
        "every finding with a key carries key.key with --show-keys"
    );
}

#[test]
fn json_follows_the_contract() {
    let report = sample_report("build/mount");
    let json: Value = serde_json::from_str(&render(Format::Json, &report, &options())).unwrap();
    assert_eq!(json["version"], 1);
    assert_eq!(json["tool"]["name"], "makguard");
    assert_eq!(json["tool"]["version"], TOOL_VERSION);
    assert_eq!(json["image"]["edition_id"], "Enterprise");
    assert_eq!(json["image"]["build"], 22631);
    assert_eq!(json["image"]["root"], "build/mount");
    assert_eq!(json["roots"].as_array().unwrap().len(), 2);
    assert_eq!(json["roots"][1]["kind"], "file");

    let findings = json["findings"].as_array().unwrap();
    assert_eq!(findings.len(), report.findings.len());
    for finding in findings {
        for field in [
            "code",
            "rule",
            "severity",
            "path",
            "line",
            "column",
            "message",
            "key",
            "xml",
            "remediation",
            "fix",
            "suppressed",
        ] {
            assert!(finding.get(field).is_some(), "finding lacks `{field}`: {finding}");
        }
        assert!(matches!(
            finding["severity"].as_str(),
            Some("error" | "warning" | "note")
        ));
        let non_utf8 = finding["path"].as_str().unwrap().contains('\u{FFFD}');
        assert_eq!(finding.get("path_bytes_hex").is_some(), non_utf8);
        if let Some(key) = finding["key"].as_object() {
            assert!(key["fingerprint"].as_str().unwrap().starts_with("sha256:"));
            assert_eq!(key["fingerprint"].as_str().unwrap().len(), 7 + 64);
            assert!(key["masked"].as_str().unwrap().starts_with("*****-*****-*****-*****-"));
            assert_eq!(key.contains_key("display"), key["class"] == "gvlk");
            assert!(!key.contains_key("key"));
        }
    }
    let by_code = |code: &str| findings.iter().find(|f| f["code"] == code).unwrap();
    assert_eq!(by_code("MG100")["key"]["display"], ENTERPRISE_GVLK);
    assert_eq!(by_code("MG101")["fix"]["new_key"], ENTERPRISE_GVLK);
    assert_eq!(by_code("MG101")["fix"]["edits"][0]["start"], 1804);
    assert_eq!(by_code("MG101")["xml"]["pass"], "specialize");
    assert_eq!(by_code("MG301")["line"], Value::Null);
    assert!(
        by_code("MG301")["remediation"]
            .as_str()
            .unwrap()
            .contains(ENTERPRISE_GVLK)
    );
    assert_eq!(by_code("MG201")["suppressed"]["origin"], "makguard.toml:7");
    assert_eq!(
        by_code("MG241")["path_bytes_hex"],
        "55736572732f636166e92f6e6f7465732c203530252e747874"
    );
    assert_eq!(by_code("MG902")["root"], 1);

    let summary = &json["summary"];
    assert_eq!(summary["files_walked"], 1204);
    assert_eq!(summary["files_skipped"]["over-size-cap"], 7);
    assert_eq!(summary["errors"], 5);
    assert_eq!(summary["warnings"], 1);
    assert_eq!(summary["notes"], 1);
    assert_eq!(summary["suppressed"], 1);
    assert_eq!(summary["incomplete"], true);
    assert_eq!(summary["exit_code"], 3);
}

#[test]
fn json_image_is_null_without_an_image() {
    let json: Value = serde_json::from_str(&render(Format::Json, &clean_report(), &options())).unwrap();
    assert_eq!(json["image"], Value::Null);
    assert_eq!(json["summary"]["exit_code"], 0);
    assert_eq!(json["summary"]["incomplete"], false);
}

#[test]
fn fail_on_changes_the_verdict() {
    let report = clean_report();
    let strict = RenderOptions {
        fail_on: Severity::Note,
        ..options()
    };
    assert!(render(Format::Text, &report, &options()).contains("PASS (exit 0"));
    assert!(render(Format::Text, &report, &strict).contains("FAIL (exit 1"));
    let json: Value = serde_json::from_str(&render(Format::Json, &report, &strict)).unwrap();
    assert_eq!(json["summary"]["verdict"], "fail");
}

#[test]
fn allowed_incomplete_scan_says_so() {
    let mut report = sample_report("build/mount");
    report.allow_incomplete = true;
    let text = render(Format::Text, &report, &options());
    assert!(text.contains("FAIL (exit 1"), "{text}");
    assert!(text.contains("allowed by --allow-incomplete"), "{text}");
}

#[test]
fn colour_only_when_asked() {
    let report = sample_report("build/mount");
    assert!(!render(Format::Text, &report, &options()).contains('\x1b'));
    let coloured = render(
        Format::Text,
        &report,
        &RenderOptions {
            color: true,
            ..options()
        },
    );
    assert!(coloured.contains("\x1b[31m[error]\x1b[0m"), "{coloured}");
    for format in [
        Format::Json,
        Format::Sarif,
        Format::Junit,
        Format::Github,
        Format::Markdown,
    ] {
        let output = render(
            format,
            &report,
            &RenderOptions {
                color: true,
                ..options()
            },
        );
        assert!(!output.contains('\x1b'), "{format} must never carry ANSI colour");
    }
}

#[test]
fn text_names_files_by_their_root_joined_path() {
    let text = render(Format::Text, &sample_report("build/mount"), &options());
    assert!(text.contains("build/mount/Windows/Panther/unattend.xml:41:25: MG101 [error]"));
    assert!(text.contains("answer-files/autounattend.xml:77:3: MG902 [error]"));
    // A registry finding has no line: no `:line:col`.
    assert!(text.contains("build/mount/Windows/System32/config/SOFTWARE: MG301 [error]"));
    assert!(text.contains("(suppressed by makguard.toml:7)"), "{text}");
    let full = render(Format::Text, &sample_report("build/mount"), &full());
    assert!(
        full.contains("CHG-1234"),
        "the full mode gives the justification:\n{full}"
    );
}

fn full() -> RenderOptions {
    RenderOptions {
        detail: TextDetail::Full,
        ..options()
    }
}

#[test]
fn snapshot_of_the_full_text_report() {
    let output = render(Format::Text, &sample_report("build/mount"), &full());
    assert_no_secret_key(&output, "full text");
    insta::assert_snapshot!("sample_text_full", output);
}

/// The one line a finding takes in the concise text report.
fn finding_lines(text: &str) -> Vec<&str> {
    text.lines().filter(|line| line.contains(": MG")).collect()
}

#[test]
fn concise_text_is_one_line_per_finding_with_the_key_once() {
    let report = sample_report("build/mount");
    let text = render(Format::Text, &report, &options());
    let shown = report.findings.iter().filter(|f| f.severity != Severity::Note).count();
    assert_eq!(finding_lines(&text).len(), shown, "{text}");
    for line in finding_lines(&text) {
        assert!(!line.contains("sha256:"), "fingerprints are for the full mode: {line}");
    }
    // MG301's message does not quote its key: the line adds it, masked, once.
    let registry = finding_lines(&text)
        .into_iter()
        .find(|line| line.contains("MG301"))
        .unwrap();
    assert_eq!(
        registry.matches("*****-*****-*****-*****-H82QC").count(),
        1,
        "{registry}"
    );
    assert!(!text.contains("\n    at ") && !text.contains("\n    key "), "{text}");
    let full = render(Format::Text, &report, &full());
    assert!(full.contains("\n    at ") && full.contains(" sha256:"), "{full}");
    assert!(full.contains("remediation: ") && full.contains("fix (safe)"), "{full}");
}

#[test]
fn notes_are_counted_always_and_listed_only_when_asked() {
    let report = clean_report();
    let text = render(Format::Text, &report, &options());
    assert!(!text.contains("MG100"), "notes are not listed by default:\n{text}");
    assert!(text.contains("1 note (shown with -v)"), "{text}");
    for asked in [
        RenderOptions {
            show_notes: true,
            ..options()
        },
        RenderOptions {
            fail_on: Severity::Note,
            ..options()
        },
    ] {
        let text = render(Format::Text, &report, &asked);
        assert!(text.contains("MG100 [note]"), "{text}");
        assert!(text.contains("1 note,") && !text.contains("shown with -v"), "{text}");
    }
    for format in [
        Format::Json,
        Format::Sarif,
        Format::Junit,
        Format::Github,
        Format::Markdown,
    ] {
        assert!(
            render(format, &report, &options()).contains("MG100"),
            "{format} keeps notes"
        );
    }
}

#[test]
fn quiet_text_is_the_error_findings_and_the_verdict() {
    let report = sample_report("build/mount");
    let quiet = RenderOptions {
        detail: TextDetail::Quiet,
        ..options()
    };
    let text = render(Format::Text, &report, &quiet);
    let lines: Vec<&str> = text.lines().filter(|line| !line.is_empty()).collect();
    let errors = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error && f.suppressed.is_none())
        .count();
    assert_eq!(lines.len(), errors + 1, "{text}");
    assert!(lines.last().unwrap().starts_with("INCOMPLETE (exit 3"), "{text}");
    assert!(
        !text.contains("[warning]") && !text.contains("suppressed") && !text.contains("image "),
        "{text}"
    );
}

#[test]
fn a_report_only_run_passes_findings_but_not_an_incomplete_scan() {
    let mut report = sample_report("build/mount");
    report.report_only = true;
    let text = render(Format::Text, &report, &options());
    assert!(text.contains("INCOMPLETE (exit 3"), "{text}");
    report.allow_incomplete = true;
    let text = render(Format::Text, &report, &options());
    assert!(text.contains("PASS (exit 0: report only (--fail-on never)"), "{text}");
    let json: Value = serde_json::from_str(&render(Format::Json, &report, &options())).unwrap();
    assert_eq!(json["summary"]["exit_code"], 0, "{json:#}");
}

#[test]
fn docs_describe_every_json_field() {
    fn collect(value: &Value, keys: &mut std::collections::BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    keys.insert(key.clone());
                    // Keys of files_skipped are data (skip reasons), not fields.
                    if key != "files_skipped" {
                        collect(child, keys);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| collect(item, keys)),
            _ => {}
        }
    }
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/output-formats.md")).unwrap();
    let revealing = RenderOptions {
        show_keys: true,
        ..options()
    };
    let json: Value = serde_json::from_str(&render(Format::Json, &sample_report("build/mount"), &revealing)).unwrap();
    let mut keys = std::collections::BTreeSet::new();
    collect(&json, &mut keys);
    let undocumented: Vec<&String> = keys.iter().filter(|key| !docs.contains(&format!("`{key}`"))).collect();
    assert!(
        undocumented.is_empty(),
        "docs/output-formats.md does not describe {undocumented:?}"
    );
}
