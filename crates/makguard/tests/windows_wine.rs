//! The Windows build, `makguard.exe`, run under Wine against the same inputs as the Linux
//! binary: drive-letter paths with backslashes, the console output, exit codes, and findings
//! identical to the native run's (same codes, fingerprints, lines and columns).
//!
//! `ci/windows/prepare-wine.sh` (run by `ci/test.sh`) builds `makguard.exe`, and a Wine prefix
//! under `target/wine-prefix` with the `ProcessPrng` stand-in DLL that Wine 8 lacks. Without
//! them these tests print `skipped:` outside CI and fail in CI.
#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Output, run_in};
use makguard_testkit::{skipping_missing_tools, workspace_target};
use serde_json::Value;

struct Wine {
    exe: PathBuf,
    prefix: PathBuf,
}

/// The prepared Wine prefix and `makguard.exe`, or `None` (after saying why) outside CI.
fn wine() -> Option<Wine> {
    let target = workspace_target();
    let wine = Wine {
        exe: target.join("x86_64-pc-windows-gnu/release/makguard.exe"),
        prefix: target.join("wine-prefix"),
    };
    let shim = wine.prefix.join("drive_c/windows/system32/bcryptprimitives.dll");
    let missing = [
        (&wine.exe, "makguard.exe"),
        (&shim, "the Wine prefix's ProcessPrng DLL"),
    ]
    .into_iter()
    .find(|(path, _)| !path.is_file());
    match missing {
        None if makguard_testkit::on_path("wine") => Some(wine),
        found => {
            let what = found.map_or("wine", |(_, what)| what);
            let reason = format!("{what} is missing: run bash ci/windows/prepare-wine.sh");
            assert!(skipping_missing_tools(), "in CI the Windows tests must run: {reason}");
            println!("skipped: {reason}");
            None
        }
    }
}

/// `path` as Windows programs under Wine see it: the `Z:` drive maps `/`.
fn windows_path(path: &Path) -> String {
    let absolute = path.canonicalize().expect("canonical path");
    format!("Z:{}", absolute.to_string_lossy().replace('/', "\\"))
}

impl Wine {
    fn run(&self, args: &[&str], dir: &Path) -> Output {
        self.run_with_stdin(args, dir, std::process::Stdio::null())
    }

    fn run_with_stdin(&self, args: &[&str], dir: &Path, stdin: std::process::Stdio) -> Output {
        let output = Command::new("wine")
            .arg(&self.exe)
            .args(args)
            .current_dir(dir)
            .env("WINEPREFIX", &self.prefix)
            .env("WINEDEBUG", "-all")
            .env("NO_COLOR", "1")
            .env_remove("MAKGUARD_TODAY")
            .stdin(stdin)
            .output()
            .expect("run wine");
        Output {
            code: output.status.code().expect("wine exited by a signal"),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../unattend-samples")
}

/// What must agree between platforms: each finding's rule, fingerprint, position and path
/// (with the platform's separator folded).
fn finding_facts(report: &Value) -> Vec<String> {
    let mut facts: Vec<String> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            format!(
                "{} {} {}:{}:{} {}",
                f["code"].as_str().unwrap_or_default(),
                f["path"].as_str().unwrap_or_default().replace('\\', "/"),
                f["line"],
                f["column"],
                f["range"]["start"],
                f["key"]["fingerprint"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    facts.sort();
    facts
}

#[test]
fn makguard_exe_starts_under_wine_and_prints_its_version() {
    let Some(wine) = wine() else { return };
    let out = wine.run(&["--version"], &samples());
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains(env!("CARGO_PKG_VERSION")), "{}", out.all());
}

#[test]
fn makguard_exe_reports_the_samples_exactly_as_the_linux_build_does() {
    let Some(wine) = wine() else { return };
    let samples = samples();
    let native = run_in(&samples, &["scan", "--format", "json", "."], "", &[]);
    let windows = wine.run(&["scan", "--format", "json", &windows_path(&samples)], &samples);
    assert_eq!(native.code, 1, "{}", native.all());
    assert_eq!(windows.code, native.code, "{}", windows.all());
    let (native, windows) = (native.json(), windows.json());
    assert!(!finding_facts(&native).is_empty());
    assert_eq!(finding_facts(&windows), finding_facts(&native));
    assert_eq!(
        windows["summary"]["files_searched"],
        native["summary"]["files_searched"]
    );
}

#[test]
fn makguard_exe_accepts_a_relative_backslash_path_and_masks_keys_on_the_console() {
    let Some(wine) = wine() else { return };
    let samples = samples();
    let out = wine.run(&["scan", r".\04-mak-specialize.xml"], &samples);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stdout.contains("04-mak-specialize.xml"), "{}", out.all());
    assert!(out.stdout.contains("MG101"), "{}", out.all());
    makguard_testkit::assert_no_synthetic_key(&out.all(), "makguard.exe console output");
}

#[test]
fn makguard_exe_exits_3_on_a_malformed_answer_file_and_2_on_a_bad_option() {
    let Some(wine) = wine() else { return };
    let samples = samples();
    let malformed = wine.run(&["scan", &windows_path(&samples.join("malformed"))], &samples);
    assert_eq!(malformed.code, 3, "{}", malformed.all());
    assert!(malformed.stdout.contains("MG902"), "{}", malformed.all());
    let usage = wine.run(&["scan", "--no-such-option"], &samples);
    assert_eq!(usage.code, 2, "{}", usage.all());
}

/// The MDT task-sequence step (`ci/mdt/makguard-precapture.cmd`) run by Wine's `cmd.exe` from a
/// deployment share's `Tools\makguard`: exit 1 and reports in `Logs\makguard` for a MAK, 0 for a
/// clean file, 2 when it is not told what to scan.
#[test]
fn mdt_precapture_step_gates_on_makguards_exit_code_and_writes_reports_to_the_share() {
    let Some(wine) = wine() else { return };
    let share = tempfile::tempdir().unwrap();
    let tools = share.path().join("Tools/makguard");
    std::fs::create_dir_all(&tools).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ci/mdt/makguard-precapture.cmd");
    std::fs::copy(&script, tools.join("makguard-precapture.cmd")).unwrap();
    std::fs::copy(&wine.exe, tools.join("makguard.exe")).unwrap();
    let step = |target: &str| {
        let output = Command::new("wine")
            .args(["cmd", "/c", &windows_path(&tools.join("makguard-precapture.cmd"))])
            .args((!target.is_empty()).then_some(target))
            .env("WINEPREFIX", &wine.prefix)
            .env("WINEDEBUG", "-all")
            .env("DEPLOYROOT", windows_path(share.path()))
            .output()
            .expect("run wine cmd");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.code().unwrap_or(-1), text)
    };
    let samples = samples();
    let (code, text) = step(&windows_path(&samples.join("04-mak-specialize.xml")));
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("not capturing"), "{text}");
    makguard_testkit::assert_no_synthetic_key(&text, "MDT step output");
    let json =
        std::fs::read_to_string(share.path().join("Logs/makguard/makguard.json")).expect("JSON report in the share");
    let report: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["findings"][0]["code"], "MG101");
    assert!(share.path().join("Logs/makguard/makguard.xml").is_file());
    let (code, text) = step(&windows_path(&samples.join("01-client-gvlk.xml")));
    assert_eq!(code, 0, "{text}");
    let (code, text) = step("");
    assert_eq!(code, 2, "{text}");
}

/// `makguard.exe scan install.wim` under Wine reads the WIM itself (no DISM, no rights) and
/// reports what the Linux build reports for the same file.
#[test]
fn makguard_exe_reads_a_wim_file_directly_like_the_linux_build() {
    let Some(wine) = wine() else { return };
    if !makguard_testkit::require_tool("wimlib-imagex") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("Windows/Panther")).unwrap();
    std::fs::copy(
        samples().join("04-mak-specialize.xml"),
        tree.join("Windows/Panther/unattend.xml"),
    )
    .unwrap();
    let wim = dir.path().join("install.wim");
    makguard_testkit::wim_capture(&tree, &wim, "Test", &["--compress=lzx"]);
    let native = run_in(dir.path(), &["scan", "--format", "json", "install.wim"], "", &[]);
    let windows = wine.run(&["scan", "--format", "json", &windows_path(&wim)], dir.path());
    assert_eq!(windows.code, native.code, "{}", windows.all());
    let (native, windows) = (native.json(), windows.json());
    assert!(
        finding_facts(&native)
            .iter()
            .any(|f| f.starts_with("MG101 Windows/Panther/unattend.xml"))
    );
    assert_eq!(finding_facts(&windows), finding_facts(&native));
    assert_eq!(windows["roots"][0]["kind"], "image");
}

/// `makguard.exe scan -` reads an answer file from a Windows standard input, names it by
/// `--stdin-filename`, and colours only when told to (`NO_COLOR` is set for every run here).
#[test]
fn makguard_exe_scans_standard_input_and_colours_only_when_told() {
    let Some(wine) = wine() else { return };
    let sample = samples().join("04-mak-specialize.xml");
    let stdin = || std::process::Stdio::from(std::fs::File::open(&sample).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let out = wine.run_with_stdin(&["scan", "-", "--stdin-filename", "unattend.xml"], dir.path(), stdin());
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(
        out.stdout.contains("unattend.xml:78:25: MG101 [error]"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains('\u{1b}'), "NO_COLOR is honoured:\n{}", out.stdout);
    makguard_testkit::assert_no_synthetic_key(&out.all(), "makguard.exe scan -");
    let out = wine.run_with_stdin(&["scan", "--color", "always", "-"], dir.path(), stdin());
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stdout.contains("\u{1b}["), "--color always wins:\n{}", out.stdout);
}
