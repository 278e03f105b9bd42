//! The command line on an image root (a folder with `Windows/System32/config/SOFTWARE`, written
//! by hivex's `hivexregedit`, never by makguard): `fix` chooses the GVLK from the image's
//! `EditionID`, and the policy's `[editions]` overrides it. Also `key --pkeyconfig` against the
//! scan crate's synthetic key configuration.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use makguard_testkit::require_tool;

const MINIMAL_HIVE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpus/hives/libguestfs__hivex__images__minimal"
);

const PKEYCONFIG_FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../makguard-scan/tests/fixtures/pkeyconfig/pkeyconfig.xrm-ms"
);

const LTSC_GVLK: &str = "M7XTQ-FN8P6-TTKYV-9D4CC-J462D";

/// An image root whose SOFTWARE hive says `EditionID`=`edition` (no build), with an answer
/// file in `Windows/Panther` holding the synthetic MAK.
fn image_root(edition: &str) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let config = root.path().join("Windows/System32/config");
    std::fs::create_dir_all(&config).unwrap();
    let hive = config.join("SOFTWARE");
    std::fs::copy(MINIMAL_HIVE, &hive).expect("hivex's minimal hive (is ../shared/corpus present?)");
    let reg = root.path().join("merge.reg");
    let prefix = r"HKEY_LOCAL_MACHINE\SOFTWARE";
    std::fs::write(
        &reg,
        format!(
            "Windows Registry Editor Version 5.00\n\n[{prefix}\\Microsoft]\n\n[{prefix}\\Microsoft\\Windows NT]\n\n\
             [{prefix}\\Microsoft\\Windows NT\\CurrentVersion]\n\"EditionID\"=\"{edition}\"\n\
             \"ProductName\"=\"Windows 10 Enterprise LTSC\"\n\"InstallationType\"=\"Client\"\n\n"
        ),
    )
    .unwrap();
    let output = Command::new("hivexregedit")
        .arg("--merge")
        .arg("--prefix")
        .arg(prefix)
        .arg(&hive)
        .arg(&reg)
        .output()
        .expect("run hivexregedit");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    std::fs::remove_file(&reg).unwrap();
    let panther = root.path().join("Windows/Panther");
    std::fs::create_dir_all(&panther).unwrap();
    std::fs::copy(fixture("mak/unattend.xml"), panther.join("unattend.xml")).unwrap();
    root
}

fn answer_file_of(root: &Path) -> PathBuf {
    root.join("Windows/Panther/unattend.xml")
}

#[test]
fn fix_cannot_guess_the_ltsc_release_without_a_build() {
    if !require_tool("hivexregedit") {
        return;
    }
    let root = image_root("EnterpriseS");
    let out = run_in(root.path(), &["fix", "."], "", &[]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(
        out.stderr.contains("cannot fix") && out.stderr.contains("EnterpriseS"),
        "the reason names the image's edition: {}",
        out.stderr
    );
    assert!(
        std::fs::read_to_string(answer_file_of(root.path()))
            .unwrap()
            .contains(SYNTHETIC_MAK)
    );
}

#[test]
fn policy_editions_choose_the_gvlk_for_the_image() {
    if !require_tool("hivexregedit") {
        return;
    }
    let root = image_root("EnterpriseS");
    std::fs::write(
        root.path().join("makguard.toml"),
        format!("[editions]\nEnterpriseS = \"{LTSC_GVLK}\"\n"),
    )
    .unwrap();
    let out = run_in(root.path(), &["fix", "--report", "changes.json", "."], "", &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    let text = std::fs::read_to_string(answer_file_of(root.path())).unwrap();
    assert!(text.contains(LTSC_GVLK) && !text.contains(SYNTHETIC_MAK), "{text}");
    let log = std::fs::read_to_string(root.path().join("changes.json")).unwrap();
    assert!(log.contains("makguard.toml [editions] EnterpriseS"), "{log}");
    assert!(!out.all().contains(SYNTHETIC_MAK) && !log.contains(SYNTHETIC_MAK));
}

/// Each image root is fixed by its own policy's `[editions]`: the first root's choice does not
/// leak into a second root whose policy has none.
#[test]
fn each_root_is_fixed_with_its_own_policys_editions() {
    if !require_tool("hivexregedit") {
        return;
    }
    let chosen = image_root("EnterpriseS");
    let other = image_root("EnterpriseS");
    std::fs::write(
        chosen.path().join("makguard.toml"),
        format!("[editions]\nEnterpriseS = \"{LTSC_GVLK}\"\n"),
    )
    .unwrap();
    std::fs::write(other.path().join("makguard.toml"), "[severity]\nMG100 = \"note\"\n").unwrap();
    let other_path = other.path().to_str().unwrap();
    let out = run_in(chosen.path(), &["fix", "--format", "json", ".", other_path], "", &[]);
    assert_eq!(
        out.code,
        1,
        "the second root's MAK stays: its policy chooses nothing\n{}",
        out.all()
    );
    let fixed = std::fs::read_to_string(answer_file_of(chosen.path())).unwrap();
    assert!(fixed.contains(LTSC_GVLK) && !fixed.contains(SYNTHETIC_MAK), "{fixed}");
    let untouched = std::fs::read_to_string(answer_file_of(other.path())).unwrap();
    assert!(untouched.contains(SYNTHETIC_MAK), "{untouched}");
    assert!(out.stderr.contains("cannot fix"), "{}", out.stderr);
    let report = out.json();
    assert_eq!(report["roots"][0]["policy"], "makguard.toml");
    assert_eq!(
        report["roots"][1]["policy"],
        other.path().join("makguard.toml").to_str().unwrap()
    );
}

#[test]
fn key_uses_a_key_configuration_file() {
    let out = run(&[
        "key",
        "--format",
        "json",
        "--pkeyconfig",
        PKEYCONFIG_FIXTURE,
        SYNTHETIC_MAK,
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    let list = out.json();
    assert_eq!(list[0]["class"], "mak", "{list:#}");
    assert!(list[0].get("key").is_none());
    assert!(!out.all().contains(SYNTHETIC_MAK));

    let out = run(&["key", "--pkeyconfig", "/no/such/pkeyconfig.xrm-ms", SYNTHETIC_MAK]);
    assert_eq!(out.code, 2, "{}", out.all());
}
