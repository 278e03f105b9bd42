//! The GitHub action's release download (ci/github/download-release.sh): a verified release
//! binary when there is one, and a warning and a cargo build (nothing written) otherwise. The
//! releases are fakes laid out as the release workflow publishes them, served by `file://`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use makguard_testkit::require_tool;

const TARGET: &str = "x86_64-unknown-linux-gnu";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ci/github/download-release.sh")
}

/// Publishes release `version` under `releases/` as the release workflow does: a tar.gz holding
/// `makguard-VERSION-TARGET/makguard` (here a script that prints a version) and its `.sha256`.
fn publish(releases: &Path, version: &str) -> PathBuf {
    let name = format!("makguard-{version}-{TARGET}");
    let stage = releases.join("stage");
    std::fs::create_dir_all(stage.join(&name)).unwrap();
    let exe = stage.join(&name).join("makguard");
    std::fs::write(&exe, format!("#!/bin/sh\necho 'makguard {version}'\n")).unwrap();
    Command::new("chmod").arg("+x").arg(&exe).status().unwrap();
    let dir = releases.join(version);
    std::fs::create_dir_all(&dir).unwrap();
    let archive = dir.join(format!("{name}.tar.gz"));
    let tar = Command::new("tar")
        .arg("czf")
        .arg(&archive)
        .arg("-C")
        .arg(&stage)
        .arg(&name)
        .status()
        .unwrap();
    assert!(tar.success());
    let sum = Command::new("sha256sum")
        .arg(&archive)
        .current_dir(&dir)
        .output()
        .unwrap();
    let line = String::from_utf8(sum.stdout).unwrap();
    let hash = line.split_whitespace().next().unwrap();
    std::fs::write(
        dir.join(format!("{name}.tar.gz.sha256")),
        format!("{hash}  {name}.tar.gz\n"),
    )
    .unwrap();
    archive
}

struct Run {
    out: Output,
    github_output: String,
    github_env: String,
}

impl Run {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned() + &String::from_utf8_lossy(&self.out.stderr)
    }
}

fn download(work: &Path, env: &[(&str, &str)]) -> Run {
    let output = work.join("github-output");
    let github_env = work.join("github-env");
    std::fs::write(&output, "").unwrap();
    std::fs::write(&github_env, "").unwrap();
    let runner_temp = work.join("runner-temp");
    std::fs::create_dir_all(&runner_temp).unwrap();
    let mut command = Command::new("/bin/bash");
    command
        .arg(script())
        .current_dir(work)
        .stdin(Stdio::null())
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_ENV", &github_env)
        .env("RUNNER_TEMP", &runner_temp)
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env(
            "GITHUB_ACTION_PATH",
            "/home/runner/work/_actions/acme/makguard/main/ci/github",
        );
    for (name, value) in env {
        command.env(name, value);
    }
    let out = command.output().unwrap();
    Run {
        out,
        github_output: std::fs::read_to_string(&output).unwrap(),
        github_env: std::fs::read_to_string(&github_env).unwrap(),
    }
}

fn tools() -> bool {
    ["curl", "tar", "sha256sum"].into_iter().all(require_tool)
}

#[test]
fn a_published_release_is_downloaded_verified_and_used() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let releases = dir.path().join("releases");
    publish(&releases, "v1.2.3");
    let base = format!("file://{}", releases.display());
    let run = download(
        dir.path(),
        &[("MAKGUARD_VERSION", "v1.2.3"), ("MAKGUARD_RELEASES", &base)],
    );
    assert!(run.out.status.success(), "{}", run.text());
    let bin = run
        .github_output
        .strip_prefix("bin=")
        .unwrap_or_else(|| panic!("no bin output: {}\n{}", run.github_output, run.text()))
        .trim();
    assert!(bin.ends_with(&format!("makguard-v1.2.3-{TARGET}/makguard")), "{bin}");
    assert_eq!(run.github_env.trim(), format!("MAKGUARD_BIN={bin}"));
    let version = Command::new(bin).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), "makguard v1.2.3");
    assert!(!run.text().contains("::warning"), "{}", run.text());
}

#[test]
fn auto_uses_the_actions_own_release_tag_and_builds_for_a_branch() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let releases = dir.path().join("releases");
    publish(&releases, "v2.0.1");
    let base = format!("file://{}", releases.display());
    // github.action_ref is empty in some composite actions: the ref comes from the action path.
    let tagged = download(
        dir.path(),
        &[
            ("MAKGUARD_VERSION", "auto"),
            ("MAKGUARD_RELEASES", &base),
            ("MAKGUARD_ACTION_REF", ""),
            (
                "GITHUB_ACTION_PATH",
                "/home/runner/work/_actions/acme/makguard/v2.0.1/ci/github",
            ),
        ],
    );
    assert!(tagged.github_output.starts_with("bin="), "{}", tagged.text());
    for reference in ["main", "v2"] {
        let branch = download(
            dir.path(),
            &[
                ("MAKGUARD_VERSION", "auto"),
                ("MAKGUARD_RELEASES", &base),
                ("MAKGUARD_ACTION_REF", reference),
            ],
        );
        assert!(branch.out.status.success());
        assert_eq!(branch.github_output, "", "{reference} is no release: build with cargo");
        assert!(!branch.text().contains("::warning"), "{}", branch.text());
    }
}

#[test]
fn a_bad_checksum_a_missing_release_or_an_unbuilt_runner_falls_back_to_cargo() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let releases = dir.path().join("releases");
    let archive = publish(&releases, "v1.2.3");
    let base = format!("file://{}", releases.display());
    let version = [("MAKGUARD_VERSION", "v1.2.3"), ("MAKGUARD_RELEASES", base.as_str())];

    let other_runner = download(dir.path(), &[version[0], version[1], ("RUNNER_OS", "macOS")]);
    let missing = download(dir.path(), &[("MAKGUARD_VERSION", "v9.9.9"), version[1]]);
    // A tampered archive: its published checksum no longer matches.
    let mut bytes = std::fs::read(&archive).unwrap();
    bytes.push(0);
    std::fs::write(&archive, bytes).unwrap();
    let tampered = download(dir.path(), &version);
    for (what, run, says) in [
        ("macOS", &other_runner, "no makguard release is built for macOS/X64"),
        ("missing", &missing, "cannot download"),
        ("tampered", &tampered, "does not match its published SHA-256 checksum"),
    ] {
        assert!(
            run.out.status.success(),
            "{what}: the step must not fail: {}",
            run.text()
        );
        assert_eq!(run.github_output, "", "{what}: no binary is used");
        assert_eq!(run.github_env, "", "{what}");
        assert!(
            run.text().contains("::warning title=makguard::") && run.text().contains(says),
            "{what}: {}",
            run.text()
        );
        assert!(run.text().contains("building makguard with cargo instead"), "{what}");
    }
}
