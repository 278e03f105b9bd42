//! End-to-end tests of the built `makguard` binary on real test images: the JSON report of the
//! whole test image (every candidate kind, a SOFTWARE hive written by hivex with an installed
//! MAK, and the synthetic key configuration), its SARIF checked by Microsoft's SARIF Multitool,
//! and `makguard fix` through a WIM captured, mounted and committed by `wimlib-imagex`.
//! Unix only: wimlib's FUSE mounts and the file modes and owners these tests compare.
#![cfg(unix)]

mod common;
#[path = "../../makguard-scan/tests/common_hive/mod.rs"]
mod common_hive;
#[path = "../../makguard-scan/tests/common/mod.rs"]
mod scan_common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use common::{Output, run_in};
use common_hive::{digital_product_id, digital_product_id4, enterprise_identity_values, reg_hex};
use makguard_core::ProductKey;
use makguard_testkit::{WimMount, fuse_available, wim_capture};
use serde_json::Value;

const CURRENT_VERSION: &str = r"[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion]";
const SOFTWARE_PROTECTION: &str =
    r"[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion\SoftwareProtectionPlatform]";

/// The MAK installed in the hive (`DigitalProductId`) and the one left as the backup key.
const INSTALLED_MAK: &str = "FKV9N-PQMDY-2VWBR-MMT4X-GCYT2";
const BACKUP_MAK: &str = "X8JHN-BMPRJ-29XJM-7MC4J-69BT3";
const ENTERPRISE_GVLK: &str = "NPPR9-FWDCX-D2C8J-H872K-2YT43";
/// Mounts keep Unix modes and owners, which the fix round trip compares.
const UNIX_DATA: &[&str] = &["--unix-data"];
const PROPLUS_2021_GVLK: &str = "FXYTK-NJJ8C-GB6DW-3DYQT-6F7TH";

/// `.reg` text for an Enterprise 23H2 image with `INSTALLED_MAK` installed (`DigitalProductId`
/// and a `Volume:MAK` `DigitalProductId4`) and `BACKUP_MAK` as `BackupProductKeyDefault`.
fn installed_mak_reg() -> String {
    let value = ProductKey::parse(INSTALLED_MAK).unwrap().decode().unwrap().value;
    format!(
        "{CURRENT_VERSION}\n{}\n\"DigitalProductId\"={}\n\"DigitalProductId4\"={}\n\n\
         {SOFTWARE_PROTECTION}\n\"BackupProductKeyDefault\"=\"{BACKUP_MAK}\"\n",
        enterprise_identity_values(),
        reg_hex("hex", &digital_product_id(value, true)),
        reg_hex("hex", &digital_product_id4("Enterprise", "Volume:MAK")),
    )
}

/// Puts the synthetic key configuration where Windows keeps its own (found without regard to
/// letter case, so it sits beside whatever `System32` spelling the image uses).
fn plant_key_configuration(system32: &Path) {
    let dir = system32.join("spp/tokens/pkeyconfig");
    fs::create_dir_all(&dir).unwrap();
    fs::copy(common_hive::PKEYCONFIG_FIXTURE, dir.join("pkeyconfig.xrm-ms")).expect("copy pkeyconfig fixture");
}

/// The full test image (scan crate's builder) with the installed-MAK hive and the key
/// configuration; `None` when a tool is missing and skipping is allowed.
fn build_full_image(dir: &Path) -> Option<PathBuf> {
    let image = scan_common::build(dir)?;
    common_hive::build_software_hive(&image.root.join("WINDOWS/system32/config"), &installed_mak_reg());
    plant_key_configuration(&image.root.join("WINDOWS/system32"));
    Some(image.root)
}

/// Fails if any synthetic key shows in full, with or without dashes, in any letter case.
fn assert_no_full_key(text: &str, what: &str) {
    let keys = makguard_testkit::synthetic_keys();
    assert!(keys.len() > 10, "synthetic-keys.tsv looks truncated: {keys:?}");
    makguard_testkit::assert_no_synthetic_key(text, what);
}

fn scan(dir: &Path, args: &[&str]) -> Output {
    run_in(dir, args, "", &[])
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// `text` with the image root and the temporary folder around it replaced by placeholders.
fn redact(text: &str, root: &Path, dir: &Path) -> String {
    text.replace(path_str(root), "[ROOT]").replace(path_str(dir), "[TMP]")
}

fn findings(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().expect("findings array")
}

fn key_class(finding: &Value) -> Option<(&str, &str)> {
    let key = finding.get("key")?;
    Some((key["class"].as_str()?, key["classified_by"].as_str()?))
}

#[test]
fn json_report_of_the_whole_test_image() {
    let dir = tempfile::tempdir().unwrap();
    let Some(root) = build_full_image(dir.path()) else {
        return;
    };
    let out = scan(
        dir.path(),
        &["scan", path_str(&root), "--format", "json", "--no-progress"],
    );
    // The test image's FIFO at an answer-file path (MG906) makes the scan incomplete (3).
    assert_eq!(
        out.code, 3,
        "a MAK and an unread answer file fail the gate:\n{}",
        out.stderr
    );
    assert_no_full_key(&out.all(), "makguard scan --format json");
    let report = out.json();

    assert_eq!(report["image"]["edition_id"], "Enterprise", "{:#}", report["image"]);
    assert_eq!(report["image"]["build"], 22631, "{:#}", report["image"]);

    let mak_fingerprints: Vec<String> = common::read_tsv("synthetic-keys.tsv")
        .into_iter()
        .filter(|row| row["use"].starts_with("synthetic MAK"))
        .map(|row| common::fingerprint(&row["key"]))
        .collect();
    let maks: Vec<&Value> = findings(&report)
        .iter()
        .filter(|f| {
            f["key"]["fingerprint"]
                .as_str()
                .is_some_and(|fp| mak_fingerprints.iter().any(|m| m == fp))
        })
        .collect();
    let installed = common::fingerprint(INSTALLED_MAK);
    let backup = common::fingerprint(BACKUP_MAK);
    for wanted in [&installed, &backup] {
        assert!(
            maks.iter().any(|f| f["key"]["fingerprint"] == wanted.as_str()
                && f["path"].as_str().is_some_and(|p| p.ends_with("config/SOFTWARE"))),
            "no registry finding for {wanted}"
        );
    }
    assert!(maks.len() >= 8, "{maks:#?}");
    // The installed key's own `DigitalProductId4` names its type, which outranks the key
    // configuration (the scan crate's documented order); every other MAK is told by the image's
    // key configuration.
    for finding in &maks {
        let source = if finding["code"] == "MG301" {
            "registry key type"
        } else {
            "image key configuration"
        };
        assert_eq!(key_class(finding), Some(("mak", source)), "{finding:#}");
    }
    assert!(maks.iter().any(|f| f["code"] == "MG301"), "{maks:#?}");

    let redacted = redact(&out.stdout, &root, dir.path());
    assert!(!redacted.contains(path_str(dir.path())));
    let mut snapshot: Value = serde_json::from_str(&redacted).unwrap();
    // A release must not churn the snapshot.
    assert_eq!(snapshot["tool"]["version"], env!("CARGO_PKG_VERSION"));
    snapshot["tool"]["version"] = "[VERSION]".into();
    let pretty = serde_json::to_string_pretty(&snapshot).unwrap();

    // One worker or many: the same report.
    let single = scan(
        dir.path(),
        &[
            "scan",
            path_str(&root),
            "--format",
            "json",
            "--no-progress",
            "--jobs",
            "1",
        ],
    );
    assert_eq!(single.code, 3);
    assert_eq!(redact(&single.stdout, &root, dir.path()), redacted);

    insta::assert_snapshot!(pretty);
}

/// Validates `sarif_file` with the Multitool (SARIF rules and GitHub's ingestion rules, as
/// configured for the report crate's SARIF test) and returns every result it reports as
/// (level, rule id, message).
fn multitool_problems(tool: &Path, sarif_file: &Path, work: &Path) -> Vec<(String, String, String)> {
    makguard_testkit::run_multitool(tool, &[sarif_file.to_path_buf()], work)
        .into_iter()
        .map(|(_, problem)| problem)
        .collect()
}

#[test]
fn sarif_of_a_test_image_validates_with_the_multitool() {
    let Some(tool) = makguard_testkit::sarif_multitool() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let Some(root) = build_full_image(dir.path()) else {
        return;
    };
    let sarif_file = dir.path().join("makguard.sarif");
    let out = scan(
        dir.path(),
        &[
            "scan",
            path_str(&root),
            "--format",
            &format!("sarif={}", path_str(&sarif_file)),
            "--no-progress",
        ],
    );
    assert_eq!(
        out.code,
        3,
        "a MAK and an unread answer file fail the gate:\n{}",
        out.all()
    );
    let text = fs::read_to_string(&sarif_file).expect("the SARIF file was written");
    assert_no_full_key(&out.all(), "makguard scan --format sarif=FILE");
    assert_no_full_key(&text, "the SARIF log");

    let log: Value = serde_json::from_str(&text).expect("SARIF is JSON");
    let run = &log["runs"][0];
    let image = &run["properties"]["image"];
    assert_eq!(image["edition_id"], "Enterprise", "{image:#}");
    assert_eq!(image["build"], 22631, "{image:#}");
    assert_eq!(image["display_version"], "23H2", "{image:#}");
    let results = run["results"].as_array().expect("results");
    assert!(results.len() >= 20, "{} results", results.len());
    for result in results {
        let location = &result["locations"][0]["physicalLocation"];
        let uri = location["artifactLocation"]["uri"]
            .as_str()
            .unwrap_or_else(|| panic!("no uri: {result:#}"));
        assert!(
            !uri.is_empty() && !uri.starts_with('/') && !uri.contains(':'),
            "not a relative uri: {uri}"
        );
        assert!(
            location["artifactLocation"]["uriBaseId"].is_string(),
            "a relative uri needs its base: {result:#}"
        );
        assert!(
            location["region"]["startLine"].as_u64().is_some_and(|l| l >= 1),
            "{result:#}"
        );
    }
    for code in ["MG101", "MG201", "MG211", "MG301", "MG305"] {
        assert!(results.iter().any(|r| r["ruleId"] == code), "no {code} result");
    }

    let problems = multitool_problems(&tool, &sarif_file, dir.path());
    let serious: Vec<_> = problems.iter().filter(|(level, _, _)| level != "note").collect();
    assert!(serious.is_empty(), "the Multitool reports {serious:#?}");
    for (_, id, message) in &problems {
        println!("note {id}: {message}");
    }
}

/// One file's bytes and its Unix mode and owner.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileState {
    bytes: Vec<u8>,
    mode: u32,
    owner: (u32, u32),
}

/// Every regular file under `root` by `/`-separated relative path.
fn read_tree(root: &Path) -> BTreeMap<String, FileState> {
    use std::os::unix::fs::MetadataExt;
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(root).unwrap().to_str().unwrap().to_string();
                let state = FileState {
                    bytes: fs::read(&path).unwrap(),
                    mode: meta.mode(),
                    owner: (meta.uid(), meta.gid()),
                };
                out.insert(relative, state);
            }
        }
    }
    out
}

const ANSWER_FILE: &str = "Windows/Panther/unattend.xml";
const SETUP_COMPLETE: &str = "Windows/Setup/Scripts/SetupComplete.cmd";
const OFFICE_CONFIG: &str = "Deploy/Office/configuration.xml";

/// An image with MAKs in an answer file, SetupComplete.cmd and an Office configuration.xml, an
/// installed MAK in its hive, the key configuration, and files without keys (one owned by
/// another user, one private) that must come back untouched.
fn build_fix_image(root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    common_hive::build_image_root(root, &installed_mak_reg(), true);
    let files: Vec<(&str, Vec<u8>)> = vec![
        (
            ANSWER_FILE,
            common::answer_file(scan_common::K_AUTOUNATTEND, scan_common::K_PANTHER).into_bytes(),
        ),
        (
            SETUP_COMPLETE,
            format!(
                "@echo off\r\ncscript //b %windir%\\system32\\slmgr.vbs /ipk {}\r\ncscript //b %windir%\\system32\\slmgr.vbs /ato\r\n",
                scan_common::K_SETUPCOMPLETE
            )
            .into_bytes(),
        ),
        (
            OFFICE_CONFIG,
            format!(
                "<Configuration>\n  <Add OfficeClientEdition=\"64\" Channel=\"PerpetualVL2021\">\n    <Product ID=\"ProPlus2021Volume\" PIDKEY=\"{}\">\n      <Language ID=\"en-us\" />\n    </Product>\n  </Add>\n  <Display Level=\"None\" AcceptEULA=\"TRUE\" />\n</Configuration>\n",
                scan_common::K_C2R
            )
            .into_bytes(),
        ),
        ("Windows/System32/drivers/etc/hosts", b"127.0.0.1 localhost\n".to_vec()),
        ("Users/Public/readme.txt", "\u{feff}Nothing to see here.\r\n".as_bytes().to_vec()),
        ("Windows/System32/tool.bin", (0u8..=255).cycle().take(70_000).collect()),
        (
            "Windows/Setup/Scripts/kms.cmd",
            format!("slmgr /ipk {ENTERPRISE_GVLK}\r\nslmgr /skms kms.example.invalid\r\n").into_bytes(),
        ),
    ];
    for (relative, bytes) in files {
        let path = root.join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }
    // A fix keeps each file's mode; files it does not fix keep their owner too (a rewritten
    // file gets the writer's: a documented limit, docs/fixing.md).
    fs::set_permissions(root.join(SETUP_COMPLETE), fs::Permissions::from_mode(0o750)).unwrap();
    fs::set_permissions(root.join(ANSWER_FILE), fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(root.join("Users/Public/readme.txt"), Some(1000), Some(1000)).unwrap();
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display())))
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The change log's written files by path, each with its changed byte ranges.
fn written_files(log: &Value) -> BTreeMap<String, Vec<(usize, usize)>> {
    log["files"]
        .as_array()
        .expect("files array")
        .iter()
        .filter(|f| f["status"] == "written")
        .map(|f| {
            let ranges = f["changed_byte_ranges"]
                .as_array()
                .expect("changed_byte_ranges")
                .iter()
                .map(|r| {
                    (
                        r["start"].as_u64().unwrap() as usize,
                        r["end"].as_u64().unwrap() as usize,
                    )
                })
                .collect();
            (f["path"].as_str().unwrap().to_string(), ranges)
        })
        .collect()
}

/// Runs `makguard fix` on a fresh read-write mount, commits, and returns the run and its log.
fn fix_in_wim(wim: &Path, work: &Path, name: &str) -> (Output, Value) {
    let mount_dir = work.join(format!("{name}-mnt"));
    let log_file = work.join(format!("{name}-log.json"));
    let mount = WimMount::new(wim, &mount_dir, true, UNIX_DATA);
    let out = scan(
        work,
        &[
            "fix",
            path_str(&mount_dir),
            "--report",
            path_str(&log_file),
            "--no-progress",
        ],
    );
    mount.unmount(true);
    assert_no_full_key(&out.all(), "makguard fix");
    let log_text = fs::read_to_string(&log_file).expect("fix wrote its change log");
    assert_no_full_key(&log_text, "the change log");
    (out, read_json(&log_file))
}

#[test]
fn fix_round_trip_through_a_real_wim() {
    if !fuse_available() {
        return;
    }
    if !common_hive::require_tool("wimlib-imagex") || !common_hive::require_tool("hivexregedit") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("image");
    build_fix_image(&source);
    let original = read_tree(&source);
    let wim = work.path().join("img.wim");
    wim_capture(&source, &wim, "Test", UNIX_DATA);

    // The installed MAK is not a file edit: fix leaves it and still fails the gate.
    let (out, log) = fix_in_wim(&wim, work.path(), "first");
    assert_eq!(out.code, 1, "the registry MAK stays:\n{}", out.all());
    let written = written_files(&log);
    assert_eq!(
        written.keys().map(String::as_str).collect::<Vec<_>>(),
        [OFFICE_CONFIG, ANSWER_FILE, SETUP_COMPLETE],
        "{log:#}"
    );
    assert_eq!(log["summary"]["keys_replaced"], 4, "{log:#}");
    assert_eq!(log["summary"]["files"], 3, "nothing skipped or failed: {log:#}");
    for file in log["files"].as_array().unwrap() {
        let wanted = if file["path"] == OFFICE_CONFIG {
            PROPLUS_2021_GVLK
        } else {
            ENTERPRISE_GVLK
        };
        for edit in file["edits"].as_array().unwrap() {
            assert_eq!(edit["new_gvlk"], wanted, "{file:#}");
        }
    }

    // Mount the committed image read-only and scan it.
    let check_dir = work.path().join("check");
    let check = WimMount::new(&wim, &check_dir, false, UNIX_DATA);
    let out = scan(
        work.path(),
        &["scan", path_str(&check_dir), "--format", "json", "--no-progress"],
    );
    assert_eq!(out.code, 1, "{}", out.all());
    assert_no_full_key(&out.all(), "makguard scan after fix");
    let report = out.json();
    let failing: Vec<&Value> = findings(&report)
        .iter()
        .filter(|f| f["severity"] == "error" || f["severity"] == "warning")
        .collect();
    let mut codes: Vec<&str> = failing.iter().map(|f| f["code"].as_str().unwrap()).collect();
    codes.sort_unstable();
    assert_eq!(codes, ["MG301", "MG305"], "{failing:#?}");
    for finding in &failing {
        assert_eq!(finding["path"], "Windows/System32/config/SOFTWARE", "{finding:#}");
        let remediation = finding["remediation"].as_str().unwrap_or_default();
        assert!(remediation.contains(ENTERPRISE_GVLK), "{finding:#}");
    }
    let names: Vec<&str> = failing.iter().map(|f| f["rule"].as_str().unwrap()).collect();
    assert!(
        names.iter().any(|n| n.contains("installed")) && names.iter().any(|n| n.contains("backup")),
        "{names:?}"
    );

    // Every file is the original except the key spans the change log names.
    let fixed = read_tree(&check_dir);
    assert_eq!(fixed.keys().collect::<Vec<_>>(), original.keys().collect::<Vec<_>>());
    for (relative, old) in &original {
        let new = &fixed[relative];
        assert_eq!(new.mode, old.mode, "{relative}: mode changed");
        let Some(ranges) = written.get(relative) else {
            assert!(
                new.bytes == old.bytes,
                "{relative} changed but the change log does not name it"
            );
            assert_eq!(new.owner, old.owner, "{relative}: owner changed");
            continue;
        };
        assert_eq!(new.bytes.len(), old.bytes.len(), "{relative}");
        let mut differing = Vec::new();
        for (i, (a, b)) in old.bytes.iter().zip(&new.bytes).enumerate() {
            if a != b {
                match differing.last_mut() {
                    Some((_, end)) if *end == i => *end = i + 1,
                    _ => differing.push((i, i + 1)),
                }
            }
        }
        for (start, end) in &differing {
            assert!(
                ranges.iter().any(|(s, e)| s <= start && end <= e),
                "{relative}: bytes {start}..{end} changed outside the logged key spans {ranges:?}"
            );
        }
        for (start, end) in ranges {
            let span = std::str::from_utf8(&new.bytes[*start..*end]).unwrap();
            assert!(
                span == ENTERPRISE_GVLK || span == PROPLUS_2021_GVLK,
                "{relative}: {start}..{end} does not hold a GVLK"
            );
        }
    }
    check.unmount(false);

    // A second fix has nothing to do.
    let (out, log) = fix_in_wim(&wim, work.path(), "second");
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(written_files(&log).is_empty(), "{log:#}");
    assert_eq!(log["summary"]["keys_replaced"], 0, "{log:#}");
    let again_dir = work.path().join("again");
    let again = WimMount::new(&wim, &again_dir, false, UNIX_DATA);
    assert!(read_tree(&again_dir) == fixed, "the second fix changed the image");
    again.unmount(false);
}

/// Removes what wimlib cannot capture: special files and names that are not UTF-8.
fn remove_what_a_wim_cannot_hold(root: &Path) {
    let unwimmable: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .into_iter()
        .map(Result::unwrap)
        .filter(|entry| {
            let special =
                !entry.file_type().is_file() && !entry.file_type().is_dir() && !entry.file_type().is_symlink();
            special || entry.file_name().to_str().is_none()
        })
        .map(|entry| entry.path().to_path_buf())
        .collect();
    for path in unwimmable {
        fs::remove_file(path).unwrap();
    }
}

/// Every regular file below `root`, relative, with its bytes.
fn tree_files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .map(Result::unwrap)
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| {
            let relative = entry.path().strip_prefix(root).unwrap().to_string_lossy().into_owned();
            (relative, fs::read(entry.path()).unwrap())
        })
        .collect()
}

/// Findings as (code, path, line, column, fingerprint), for comparing two scans of one image.
fn finding_facts(report: &Value) -> Vec<String> {
    let mut facts: Vec<String> = findings(report)
        .iter()
        .map(|f| {
            format!(
                "{} {} {}:{} {}",
                f["code"].as_str().unwrap_or_default(),
                f["path"].as_str().unwrap_or_default(),
                f["line"],
                f["column"],
                f["key"]["fingerprint"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    facts.sort();
    facts
}

/// The differential test of the WIM reader: the full test image captured by wimlib (LZX, and
/// XPRESS as a second image) and scanned directly gives the findings the scan of the tree gives
/// (same codes, paths, lines, columns, fingerprints), except where a WIM cannot hold what the
/// tree has: the tree's FIFOs (wimlib does not capture them) and links leaving the tree (a
/// WIM's reparse point has no outside). Every image is a root with its index and XML name.
#[test]
fn a_wim_scanned_directly_gives_the_findings_of_the_tree_it_was_captured_from() {
    let dir = tempfile::tempdir().unwrap();
    let Some(root) = build_full_image(dir.path()) else {
        return;
    };
    remove_what_a_wim_cannot_hold(&root);
    let tree = scan(
        dir.path(),
        &["scan", path_str(&root), "--format", "json", "--no-progress"],
    );
    let wim = dir.path().join("image.wim");
    wim_capture(&root, &wim, "Enterprise test", &["--compress=lzx"]);
    makguard_testkit::wimlib(&[
        "append".as_ref(),
        root.as_os_str(),
        wim.as_os_str(),
        "Second".as_ref(),
        "--compress=xpress".as_ref(),
    ]);
    let direct = scan(
        dir.path(),
        &["scan", path_str(&wim), "--format", "json", "--no-progress"],
    );
    assert_eq!(direct.code, tree.code, "{}", direct.stderr);
    let (tree, direct) = (tree.json(), direct.json());
    let roots = direct["roots"].as_array().unwrap();
    assert_eq!(roots.len(), 2, "{roots:?}");
    for (i, root) in roots.iter().enumerate() {
        assert_eq!(root["kind"], "image");
        assert_eq!(root["source"]["index"], i + 1);
        assert_eq!(root["source"]["image_count"], 2);
        assert_eq!(root["image"]["edition_id"], tree["roots"][0]["image"]["edition_id"]);
    }
    assert_eq!(roots[0]["source"]["name"], "Enterprise test");
    let outside_links =
        |facts: Vec<String>| -> Vec<String> { facts.into_iter().filter(|f| !f.starts_with("MG261 ")).collect() };
    let expected = outside_links(finding_facts(&tree));
    assert!(expected.iter().any(|f| f.starts_with("MG101 ")), "{expected:#?}");
    // Each image holds the tree once: the direct scan reports every finding twice.
    let mut twice: Vec<String> = expected.iter().chain(&expected).cloned().collect();
    twice.sort();
    assert_eq!(outside_links(finding_facts(&direct)), twice);
    assert_no_full_key(&serde_json::to_string(&direct).unwrap(), "the WIM scan's JSON");
}

/// `makguard fix image.wim --output fixed.wim` on the full test image captured with LZX (two
/// images): wimlib verifies the result, the input is untouched, each image applied by wimlib
/// equals the tree that `makguard fix` fixed on disk byte for byte, a rescan finds no fixable
/// key left, and a second fix changes nothing.
#[test]
fn fix_of_a_wim_file_equals_fix_of_the_tree_and_verifies_with_wimlib() {
    let dir = tempfile::tempdir().unwrap();
    let Some(root) = build_full_image(dir.path()) else {
        return;
    };
    remove_what_a_wim_cannot_hold(&root);
    let wim = dir.path().join("image.wim");
    wim_capture(&root, &wim, "Enterprise test", &["--compress=lzx"]);
    makguard_testkit::wimlib(&["append".as_ref(), root.as_os_str(), wim.as_os_str(), "Second".as_ref()]);
    let original = fs::read(&wim).unwrap();
    let fixed = dir.path().join("fixed.wim");
    let out = scan(
        dir.path(),
        &[
            "fix",
            path_str(&wim),
            "--output",
            path_str(&fixed),
            "--no-progress",
            "--format",
            "json",
        ],
    );
    assert!(out.code != 2, "{}", out.all());
    assert_no_full_key(&out.all(), "fix of a WIM");
    assert_eq!(fs::read(&wim).unwrap(), original, "--output leaves the input alone");
    makguard_testkit::wimlib(&["verify".as_ref(), fixed.as_os_str()]);

    // The same fix on the tree itself is the reference.
    let tree_fix = scan(dir.path(), &["fix", path_str(&root), "--no-progress"]);
    assert!(tree_fix.code != 2, "{}", tree_fix.all());
    let expected = tree_files(&root);
    for index in ["1", "2"] {
        let applied = dir.path().join(format!("applied-{index}"));
        makguard_testkit::wimlib(&["apply".as_ref(), fixed.as_os_str(), index.as_ref(), applied.as_os_str()]);
        let got = tree_files(&applied);
        assert_eq!(got.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
        for (path, bytes) in &expected {
            assert!(
                got[path] == *bytes,
                "image {index}: {path} differs from the tree fixed on disk"
            );
        }
    }
    let rescan = scan(
        dir.path(),
        &["scan", path_str(&fixed), "--format", "json", "--no-progress"],
    );
    let rescanned = rescan.json();
    let fixable: Vec<&Value> = findings(&rescanned).iter().filter(|f| !f["fix"].is_null()).collect();
    assert!(fixable.is_empty(), "{fixable:#?}");
    let before = fs::read(&fixed).unwrap();
    let again = scan(dir.path(), &["fix", path_str(&fixed), "--no-progress"]);
    assert!(again.code != 2, "{}", again.all());
    assert_eq!(fs::read(&fixed).unwrap(), before, "a second fix changes nothing");
}
