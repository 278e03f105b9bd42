//! Helpers for running the built `makguard` binary and reading the project's reference files.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub(crate) const SYNTHETIC_MAK: &str = "6QWQ4-8NRCW-KHGHV-CR226-3PPQC";
pub(crate) const SECOND_SYNTHETIC_MAK: &str = "NMVQ8-C6P9M-GWX2J-9G4QJ-H82QC";
pub(crate) const ENTERPRISE_GVLK: &str = "NPPR9-FWDCX-D2C8J-H872K-2YT43";

pub(crate) struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub(crate) fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }
}

/// Runs makguard with `args` in `dir`, feeding `stdin`, with `env` set.
pub(crate) fn run_in(dir: &Path, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_makguard"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("MAKGUARD_TODAY")
        .env_remove("MAKGUARD_CONFIG")
        // Under GitHub Actions, the `github` format would append to the job's real summary.
        .env_remove("GITHUB_STEP_SUMMARY")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("run makguard");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let output = child.wait_with_output().expect("wait for makguard");
    Output {
        code: output.status.code().expect("makguard exited by a signal"),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

pub(crate) fn run(args: &[&str]) -> Output {
    run_in(Path::new(env!("CARGO_MANIFEST_DIR")), args, "", &[])
}

pub(crate) fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn reference(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference")
        .join(name)
}

/// Rows of a reference TSV as header-keyed maps.
#[allow(unused_imports)]
pub(crate) use makguard_testkit::read_tsv;

pub(crate) fn fingerprint(key: &str) -> String {
    makguard_core::ProductKey::parse(key).expect("key").fingerprint()
}

/// An answer file with `specialize_key` in Shell-Setup and `pe_key` in windowsPE `UserData`.
pub(crate) fn answer_file(pe_key: &str, specialize_key: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<unattend xmlns="urn:schemas-microsoft-com:unattend">
  <settings pass="windowsPE">
    <component name="Microsoft-Windows-Setup" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" language="neutral" versionScope="nonSxS">
      <UserData>
        <ProductKey>
          <Key>{pe_key}</Key>
        </ProductKey>
        <AcceptEula>true</AcceptEula>
      </UserData>
    </component>
  </settings>
  <settings pass="specialize">
    <component name="Microsoft-Windows-Shell-Setup" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" language="neutral" versionScope="nonSxS">
      <ProductKey>{specialize_key}</ProductKey>
    </component>
  </settings>
</unattend>
"#
    )
}

/// A temporary image-build folder holding `autounattend.xml` with two different synthetic MAKs.
pub(crate) fn two_key_tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("autounattend.xml"),
        answer_file(SYNTHETIC_MAK, SECOND_SYNTHETIC_MAK),
    )
    .expect("write answer file");
    dir
}

/// The findings array of a JSON report.
pub(crate) fn findings(report: &serde_json::Value) -> Vec<serde_json::Value> {
    report["findings"].as_array().expect("findings array").clone()
}

pub(crate) fn codes(report: &serde_json::Value) -> Vec<String> {
    findings(report)
        .iter()
        .map(|f| f["code"].as_str().expect("code").to_string())
        .collect()
}
