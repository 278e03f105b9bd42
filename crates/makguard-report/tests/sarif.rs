//! SARIF: validated by Microsoft's SARIF Multitool (SARIF rules and GitHub code scanning's
//! ingestion rules), and checked for the mapping makguard promises.
//!
//! The Multitool comes from npm:
//! `npm install --prefix target/sarif-tools @microsoft/sarif-multitool-linux`, or set
//! `MAKGUARD_SARIF_MULTITOOL` to its `Sarif.Multitool` executable.

mod common;

use std::path::Path;

use common::*;
use makguard_core::{LineColumn, ProductKey, ScanReport, Severity, Span};
use makguard_report::{Format, RenderOptions, SarifLimits, render};
use serde_json::Value;

use makguard_testkit::sarif_multitool as multitool;

/// A problem the Multitool reports: level, rule id, message.
type Problem = makguard_testkit::MultitoolProblem;

/// Validates each named log in one Multitool run (it starts slowly) and returns the problems
/// it reports for each, by name.
fn validate(tool: &Path, logs: &[(&str, String)]) -> Vec<(String, Vec<Problem>)> {
    let dir = tempfile::tempdir().unwrap();
    let mut inputs = Vec::new();
    for (n, (_, sarif)) in logs.iter().enumerate() {
        let input = dir.path().join(format!("log{n}.sarif"));
        std::fs::write(&input, sarif).unwrap();
        inputs.push(input);
    }
    let results = makguard_testkit::run_multitool(tool, &inputs, dir.path());
    logs.iter()
        .enumerate()
        .map(|(n, (name, _))| {
            let file = format!("/log{n}.sarif");
            let problems = results
                .iter()
                .filter(|(uri, _)| uri.ends_with(&file))
                .map(|(_, problem)| problem.clone())
                .collect();
            (name.to_string(), problems)
        })
        .collect()
}

#[test]
fn multitool_accepts_every_report_shape() {
    let Some(tool) = multitool() else { return };
    let reports = [
        ("relative root", sample_report("build/mount")),
        ("absolute root", sample_report("/mnt/wim")),
        ("windows root", sample_report("C:\\Mount\\Win 11")),
        ("clean scan", clean_report()),
        ("empty report", ScanReport::default()),
        (
            "policy file outside the roots",
            with_policy_finding(sample_report("/mnt/wim"), "/etc/makguard/makguard.toml"),
        ),
        (
            "relative policy file",
            with_policy_finding(clean_report(), "ci/makguard.toml"),
        ),
        ("UNC root", sample_report(r"\\server\share\Win 11")),
        ("verbatim drive root", sample_report(r"\\?\C:\Mount\Win 11")),
        ("verbatim UNC root", sample_report(r"\\?\UNC\server\share\img")),
    ];
    let mut logs: Vec<(&str, String)> = reports
        .iter()
        .map(|(name, report)| (*name, render(Format::Sarif, report, &options())))
        .collect();
    let with_notes = RenderOptions {
        fail_on: Severity::Note,
        ..options()
    };
    logs.push((
        "notes included",
        render(Format::Sarif, &sample_report("build/mount"), &with_notes),
    ));
    logs.push((
        "truncated over the limits",
        render(Format::Sarif, &many_findings(60, 5), &small_limits(40)),
    ));
    for (name, sarif) in &logs {
        assert_no_secret_key(sarif, name);
    }
    for (name, problems) in validate(&tool, &logs) {
        let serious: Vec<_> = problems.iter().filter(|(level, _, _)| level != "note").collect();
        assert!(serious.is_empty(), "{name}: the Multitool reports {serious:#?}");
        for (_, id, message) in &problems {
            println!("{name}: note {id}: {message}");
        }
    }
}

#[test]
fn multitool_catches_what_github_rejects() {
    // Proves the GitHub rules are really on: break a good log the way GitHub would refuse.
    let Some(tool) = multitool() else { return };
    let mut log: Value =
        serde_json::from_str(&render(Format::Sarif, &sample_report("build/mount"), &options())).unwrap();
    let location = &mut log["runs"][0]["results"][0]["locations"][0]["physicalLocation"];
    location["artifactLocation"] = serde_json::json!({"uri": "file:///srv/image/unattend.xml"});
    location.as_object_mut().unwrap().remove("region");
    let good = render(Format::Sarif, &sample_report("build/mount"), &options());
    let validated = validate(&tool, &[("good", good), ("broken", log.to_string())]);
    assert!(validated[0].1.is_empty(), "{validated:#?}");
    let problems = &validated[1].1;
    let errors: Vec<&str> = problems
        .iter()
        .filter(|(level, _, _)| level == "error")
        .map(|(_, id, _)| id.as_str())
        .collect();
    assert!(errors.contains(&"GH1003"), "missing region not reported: {problems:#?}");
    assert!(
        errors.contains(&"GH1006"),
        "absolute file URI not reported: {problems:#?}"
    );
}

fn sarif(report: &ScanReport, options: &RenderOptions) -> Value {
    serde_json::from_str(&render(Format::Sarif, report, options)).unwrap()
}

fn result_for<'a>(log: &'a Value, code: &str) -> &'a Value {
    log["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == code)
        .unwrap_or_else(|| panic!("no {code} result"))
}

#[test]
fn rules_and_results_map_as_documented() {
    let log = sarif(&sample_report("build/mount"), &options());
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(log["$schema"], "https://json.schemastore.org/sarif-2.1.0.json");
    let run = &log["runs"][0];
    assert_eq!(run["columnKind"], "unicodeCodePoints");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), makguard_core::rules::ALL.len());
    let mg101 = &rules[run["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "MG101")
        .unwrap()["ruleIndex"]
        .as_u64()
        .unwrap() as usize];
    assert_eq!(mg101["id"], "MG101");
    assert_eq!(mg101["name"], "UnattendNonKmsKey");
    assert_eq!(mg101["properties"]["makguardName"], "unattend-non-kms-key");
    assert_eq!(mg101["defaultConfiguration"]["level"], "error");
    assert_eq!(
        mg101["helpUri"],
        "https://github.com/makguard/makguard/blob/main/docs/rules.md#mg101"
    );
    for rule in rules {
        for field in ["shortDescription", "fullDescription", "help"] {
            assert!(rule[field]["text"].as_str().is_some_and(|t| t.ends_with('.')), "{rule}");
        }
        assert!(rule["help"]["markdown"].as_str().is_some());
    }

    let mak = result_for(&log, "MG101");
    assert_eq!(mak["level"], "error");
    let physical = &mak["locations"][0]["physicalLocation"];
    assert_eq!(
        physical["artifactLocation"]["uri"],
        "build/mount/Windows/Panther/unattend.xml"
    );
    assert_eq!(physical["artifactLocation"]["uriBaseId"], "%SRCROOT%");
    assert_eq!(physical["region"]["startLine"], 41);
    assert_eq!(physical["region"]["startColumn"], 25);
    assert_eq!(mak["properties"]["key"]["masked"], "*****-*****-*****-*****-3PPQC");
    assert_eq!(mak["properties"]["fix"]["newKey"], ENTERPRISE_GVLK);
    assert_eq!(mak["locations"].as_array().unwrap().len(), 1);

    // A registry finding has no line: line 1, flagged as unknown.
    let registry = result_for(&log, "MG301");
    assert_eq!(
        registry["locations"][0]["physicalLocation"]["region"],
        serde_json::json!({"startLine": 1})
    );
    assert_eq!(registry["properties"]["lineKnown"], false);

    let suppressed = result_for(&log, "MG201");
    assert_eq!(suppressed["suppressions"][0]["kind"], "external");
    assert!(
        suppressed["suppressions"][0]["justification"]
            .as_str()
            .unwrap()
            .contains("CHG-1234")
    );
    assert!(result_for(&log, "MG101").get("suppressions").is_none());

    let odd = result_for(&log, "MG241");
    assert_eq!(
        odd["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "build/mount/Users/caf%E9/notes%2C%2050%25.txt"
    );
    let single_file = result_for(&log, "MG902");
    assert_eq!(
        single_file["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "answer-files/autounattend.xml"
    );

    assert_eq!(run["properties"]["image"]["edition_id"], "Enterprise");
    assert_eq!(run["properties"]["image"]["build"], 22631);
    assert_eq!(run["properties"]["summary"]["exitCode"], 3);
}

#[test]
fn absolute_roots_get_their_own_base() {
    let log = sarif(&sample_report("/mnt/wim"), &options());
    let run = &log["runs"][0];
    assert_eq!(run["originalUriBaseIds"]["ROOT0"]["uri"], "file:///mnt/wim/");
    let location = &result_for(&log, "MG101")["locations"][0]["physicalLocation"]["artifactLocation"];
    assert_eq!(location["uri"], "Windows/Panther/unattend.xml");
    assert_eq!(location["uriBaseId"], "ROOT0");
    let windows = sarif(&sample_report("C:\\Mount\\Win 11"), &options());
    assert_eq!(
        windows["runs"][0]["originalUriBaseIds"]["ROOT0"]["uri"],
        "file:///C:/Mount/Win%2011/"
    );
}

#[test]
fn findings_outside_every_root_keep_relative_uris() {
    let log = sarif(
        &with_policy_finding(clean_report(), "/etc/makguard/makguard.toml"),
        &options(),
    );
    let location = &result_for(&log, "MG502")["locations"][0]["physicalLocation"]["artifactLocation"];
    assert_eq!(location["uri"], "makguard.toml");
    assert_eq!(location["uriBaseId"], "OUTSIDE0");
    assert_eq!(
        log["runs"][0]["originalUriBaseIds"]["OUTSIDE0"]["uri"],
        "file:///etc/makguard/"
    );

    let log = sarif(&with_policy_finding(clean_report(), "ci/makguard.toml"), &options());
    let location = &result_for(&log, "MG502")["locations"][0]["physicalLocation"]["artifactLocation"];
    assert_eq!(location["uri"], "ci/makguard.toml");
    assert_eq!(location["uriBaseId"], "%SRCROOT%");
}

#[test]
fn fingerprints_ignore_lines_but_not_keys_paths_or_rules() {
    let report = sample_report("build/mount");
    let hash = |report: &ScanReport| {
        result_for(&sarif(report, &options()), "MG101")["partialFingerprints"]["primaryLocationLineHash"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let original = hash(&report);
    assert!(original.ends_with(":1") && original.len() == 18, "{original}");

    let mut moved = report.clone();
    let finding = moved.findings.iter_mut().find(|f| f.rule.code == "MG101").unwrap();
    finding.location.span = Span::Point(LineColumn { line: 400, column: 3 });
    assert_eq!(hash(&moved), original, "moving the key to another line keeps the alert");

    let mut other_key = report.clone();
    let finding = other_key.findings.iter_mut().find(|f| f.rule.code == "MG101").unwrap();
    finding.key.as_mut().unwrap().key = ProductKey::parse("YNTHT-YF2BV-TTMDY-RHH7J-VCPQD").unwrap();
    assert_ne!(hash(&other_key), original);

    let mut other_path = report.clone();
    let finding = other_path.findings.iter_mut().find(|f| f.rule.code == "MG101").unwrap();
    finding.location.path = makguard_core::FindingPath::new("Windows/System32/sysprep/unattend.xml");
    assert_ne!(hash(&other_path), original);

    // The same key twice in one file: two alerts, told apart by the occurrence suffix.
    let mut twice = report.clone();
    let copy = twice.findings.iter().find(|f| f.rule.code == "MG101").unwrap().clone();
    twice.findings.push(copy);
    let log = sarif(&twice, &options());
    let hashes: Vec<&str> = log["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["ruleId"] == "MG101")
        .map(|r| r["partialFingerprints"]["primaryLocationLineHash"].as_str().unwrap())
        .collect();
    assert_eq!(hashes.len(), 2);
    assert_eq!(hashes[0], original);
    assert_eq!(hashes[1], original.replace(":1", ":2"));
}

#[test]
fn sarif_never_reveals_keys_even_with_show_keys() {
    let revealing = RenderOptions {
        show_keys: true,
        ..options()
    };
    let output = render(Format::Sarif, &sample_report("build/mount"), &revealing);
    assert_no_secret_key(&output, "sarif with --show-keys");
    assert_eq!(output, render(Format::Sarif, &sample_report("build/mount"), &options()));
}

fn rule_of<'a>(log: &'a Value, code: &str) -> &'a Value {
    log["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == code)
        .unwrap_or_else(|| panic!("no rule {code}"))
}

fn results(log: &Value) -> &Vec<Value> {
    log["runs"][0]["results"].as_array().unwrap()
}

#[test]
fn rules_carry_a_security_severity_github_can_rank_by() {
    let log = sarif(&sample_report("build/mount"), &options());
    for rule in log["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap() {
        let text = rule["properties"]["security-severity"]
            .as_str()
            .unwrap_or_else(|| panic!("{rule}"));
        let score: f64 = text.parse().unwrap();
        assert!((0.0..=10.0).contains(&score), "{text}");
        assert_eq!(text.split_once('.').map(|(_, d)| d.len()), Some(1), "{text}");
    }
    let severity = |code| {
        rule_of(&log, code)["properties"]["security-severity"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap()
    };
    assert!(severity("MG301") >= 9.0, "a MAK installed in the image is critical");
    assert!(
        (7.0..9.0).contains(&severity("MG101")),
        "a MAK in an answer file is high"
    );
    assert!((4.0..7.0).contains(&severity("MG105")), "a warning is medium");
    assert!(severity("MG100") < 4.0, "a note is low");
    let tags = |code| rule_of(&log, code)["properties"]["tags"].clone();
    assert!(tags("MG101").as_array().unwrap().contains(&Value::from("security")));
    assert!(tags("MG901").as_array().unwrap().contains(&Value::from("security")));
    assert!(!tags("MG401").as_array().unwrap().contains(&Value::from("security")));
}

#[test]
fn a_correct_gvlk_is_no_result_unless_notes_fail_the_scan() {
    let log = sarif(&clean_report(), &options());
    assert!(results(&log).is_empty(), "{:#?}", results(&log));
    assert_eq!(log["runs"][0]["properties"]["omitted"]["notes"], 1);
    assert_eq!(log["runs"][0]["properties"]["summary"]["notes"], 1, "still counted");

    let log = sarif(&sample_report("build/mount"), &options());
    assert!(results(&log).iter().all(|r| r["level"] != "note"));
    assert!(results(&log).iter().all(|r| r["ruleId"] != "MG100"));
    // A suppressed finding stays, with its suppression.
    assert_eq!(result_for(&log, "MG201")["suppressions"][0]["kind"], "external");

    let with_notes = RenderOptions {
        fail_on: Severity::Note,
        ..options()
    };
    let log = sarif(&sample_report("build/mount"), &with_notes);
    assert_eq!(result_for(&log, "MG100")["level"], "note");
    assert_eq!(log["runs"][0]["properties"]["omitted"]["notes"], 0);
}

#[test]
fn invocations_carry_the_exit_code_and_every_unreadable_file() {
    let log = sarif(&sample_report("build/mount"), &options());
    let invocation = &log["runs"][0]["invocations"][0];
    assert_eq!(
        invocation["executionSuccessful"], false,
        "MG901 and MG902 make it incomplete"
    );
    assert_eq!(invocation["exitCode"], 3);
    let notifications = invocation["toolExecutionNotifications"].as_array().unwrap();
    let rules: Vec<&str> = notifications
        .iter()
        .map(|n| n["associatedRule"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["MG901", "MG902"]);
    for notification in notifications {
        assert_eq!(notification["level"], "error");
        let index = notification["associatedRule"]["index"].as_u64().unwrap() as usize;
        assert_eq!(
            log["runs"][0]["tool"]["driver"]["rules"][index]["id"],
            notification["associatedRule"]["id"]
        );
        assert!(notification["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].is_string());
    }
    assert!(
        notifications[0]["message"]["text"]
            .as_str()
            .unwrap()
            .contains("Permission denied")
    );

    // The exit code is the process's, as the CLI passes it in.
    let given = RenderOptions {
        exit_code: Some(0),
        ..options()
    };
    assert_eq!(
        sarif(&sample_report("build/mount"), &given)["runs"][0]["invocations"][0]["exitCode"],
        0
    );

    let clean = sarif(&clean_report(), &options());
    let invocation = &clean["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], true);
    assert_eq!(invocation["exitCode"], 0);
    assert!(invocation.get("toolExecutionNotifications").is_none());

    // A suppressed MG9xx does not make the scan incomplete, nor a notification.
    let mut report = sample_report("build/mount");
    for finding in report.findings.iter_mut().filter(|f| f.rule.is_incomplete_scan()) {
        finding.suppressed = Some(makguard_core::Suppression {
            justification: "known".to_string(),
            origin: "makguard.toml:1".to_string(),
        });
    }
    let log = sarif(&report, &options());
    assert_eq!(log["runs"][0]["invocations"][0]["executionSuccessful"], true);
    assert!(
        log["runs"][0]["invocations"][0]
            .get("toolExecutionNotifications")
            .is_none()
    );
}

/// `warnings` partial-key warnings, then `errors` MAK errors, in one answer file, sorted.
fn many_findings(warnings: u32, errors: u32) -> ScanReport {
    let mut report = clean_report();
    report.findings.clear();
    for n in 0..warnings + errors {
        let rule = if n < warnings {
            &makguard_core::rules::UNATTEND_PARTIAL_KEY
        } else {
            &makguard_core::rules::UNATTEND_NON_KMS_KEY
        };
        let mut finding = makguard_core::Finding::new(
            rule,
            makguard_core::FindingPath::new("unattend.xml"),
            format!("finding number {n}"),
        );
        finding.location.span = Span::Point(LineColumn { line: n + 1, column: 1 });
        report.findings.push(finding);
    }
    report.sort();
    report
}

fn small_limits(max_results: usize) -> RenderOptions {
    RenderOptions {
        sarif_limits: SarifLimits {
            max_results,
            ..SarifLimits::GITHUB
        },
        ..options()
    }
}

#[test]
fn results_over_githubs_limit_keep_the_most_severe_and_say_how_many_were_left_out() {
    // 25,010 results: the 10 errors come last in the report, yet all are kept.
    let report = many_findings(25_000, 10);
    let log = sarif(&report, &options());
    let kept = results(&log);
    assert_eq!(kept.len(), 25_000);
    assert_eq!(kept.iter().filter(|r| r["level"] == "error").count(), 10);
    // The report's order is kept, and the warnings left out are the last ones.
    let lines: Vec<u64> = kept
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["region"]["startLine"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert!(lines.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(lines[24_989], 24_990);
    assert_eq!(lines[24_990], 25_001, "warnings 24,991 to 25,000 are left out");
    let run = &log["runs"][0];
    assert_eq!(run["properties"]["omitted"]["overLimits"], 10);
    let notice = run["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["level"] == "warning")
        .expect("a notification about the results left out");
    let text = notice["message"]["text"].as_str().unwrap();
    assert!(text.starts_with("10 of 25010 results were left out"), "{text}");
}

#[test]
fn documents_over_the_gzip_limit_shrink_until_they_fit() {
    let report = many_findings(400, 3);
    let full = gzipped_len(&render(Format::Sarif, &report, &options()));
    // The rules alone take a fixed share: half of what the results add is what fits.
    let without_results = gzipped_len(&render(Format::Sarif, &many_findings(0, 0), &options()));
    let limit = without_results + (full - without_results) / 2;
    let options = RenderOptions {
        sarif_limits: SarifLimits {
            max_results: 25_000,
            max_gzip_bytes: limit,
        },
        ..options()
    };
    let text = render(Format::Sarif, &report, &options);
    assert!(gzipped_len(&text) <= limit, "{} > {limit}", gzipped_len(&text));
    let log: Value = serde_json::from_str(&text).unwrap();
    let kept = results(&log).len();
    assert!(kept > 100 && kept < 403, "{kept}");
    assert_eq!(results(&log).iter().filter(|r| r["level"] == "error").count(), 3);
    assert_eq!(log["runs"][0]["properties"]["omitted"]["overLimits"], 403 - kept);
    // Deterministic: the same input gives the same document.
    assert_eq!(render(Format::Sarif, &report, &options), text);
}

fn gzipped_len(text: &str) -> usize {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap().len()
}

#[test]
fn unc_and_verbatim_roots_get_file_uris_with_a_host_or_a_drive() {
    let base = |root: &str| {
        sarif(&sample_report(root), &options())["runs"][0]["originalUriBaseIds"]["ROOT0"]["uri"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(base(r"\\server\share\Win 11"), "file://server/share/Win%2011/");
    assert_eq!(base(r"\\?\C:\Mount\Win 11"), "file:///C:/Mount/Win%2011/");
    assert_eq!(base(r"\\?\UNC\server\share\img"), "file://server/share/img/");
    assert_eq!(base("C:\\Mount"), "file:///C:/Mount/");
    let log = sarif(&sample_report(r"\\?\UNC\server\share\img"), &options());
    let location = &result_for(&log, "MG101")["locations"][0]["physicalLocation"]["artifactLocation"];
    assert_eq!(location["uri"], "Windows/Panther/unattend.xml");
    assert_eq!(location["uriBaseId"], "ROOT0");
}
