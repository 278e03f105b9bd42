//! No byte makguard writes holds a non-GVLK key (reports in every format, diagnostics, fix
//! messages, the policy file `allow` writes), control characters from the image are escaped,
//! and report files are written atomically.

mod common;

use std::path::Path;

use common::*;

const FORMATS: [&str; 7] = ["text", "json", "sarif", "junit", "gitlab", "github", "markdown"];

fn spellings(key: &str) -> Vec<String> {
    let bare = key.replace('-', "");
    vec![key.to_string(), key.to_lowercase(), bare.clone(), bare.to_lowercase()]
}

/// True when `text` holds `key` in any spelling (dashed or not, any case).
fn leaks(text: &str, key: &str) -> bool {
    let plain = text.to_uppercase();
    let bare = key.replace('-', "");
    plain.contains(&key[..17]) || plain.contains(&bare[..20])
}

fn scan_every_format(dir: &Path, target: &str) -> String {
    let mut all = String::new();
    for format in FORMATS {
        let out = run_in(dir, &["scan", target, "--format", format], "", &[]);
        assert!(matches!(out.code, 1 | 3), "{format}: exit {}\n{}", out.code, out.all());
        all.push_str(&out.all());
    }
    all
}

#[test]
fn a_key_as_a_folder_or_file_name_is_masked_in_every_format_and_reported() {
    for spelling in spellings(SECOND_SYNTHETIC_MAK) {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("build").join(&spelling);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("unattend.xml"), answer_file(SYNTHETIC_MAK, SYNTHETIC_MAK)).unwrap();
        std::fs::write(dir.path().join("build").join(format!("{spelling}.txt")), "notes\n").unwrap();
        let all = scan_every_format(dir.path(), "build");
        assert!(!leaks(&all, SECOND_SYNTHETIC_MAK), "{spelling}:\n{all}");
        assert!(!leaks(&all, SYNTHETIC_MAK), "{spelling}:\n{all}");
        let json = run_in(dir.path(), &["scan", "build", "--format", "json"], "", &[]).json();
        let path_findings = findings(&json).into_iter().filter(|f| f["code"] == "MG242").count();
        assert_eq!(path_findings, 2, "{spelling}: {json:#}");
    }
}

#[test]
fn office_product_id_holding_a_key_is_masked_in_fix_messages() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "<Configuration>\n  <Add>\n    <Product ID=\"{SECOND_SYNTHETIC_MAK}\" PIDKEY=\"{SYNTHETIC_MAK}\"/>\n  </Add>\n</Configuration>\n"
    );
    std::fs::write(dir.path().join("configuration.xml"), config).unwrap();
    for args in [&["fix", "--dry-run", "."][..], &["fix", "."][..]] {
        let out = run_in(dir.path(), args, "", &[]);
        assert!(!leaks(&out.all(), SECOND_SYNTHETIC_MAK), "{args:?}:\n{}", out.all());
        assert!(!leaks(&out.all(), SYNTHETIC_MAK), "{args:?}:\n{}", out.all());
    }
}

#[test]
fn allow_never_writes_a_key_into_the_policy_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("autounattend.xml"),
        answer_file(SYNTHETIC_MAK, SYNTHETIC_MAK),
    )
    .unwrap();
    let fp = fingerprint(SYNTHETIC_MAK);
    for spelling in spellings(SYNTHETIC_MAK) {
        let justification = format!("old key {spelling}, approved");
        let out = run_in(dir.path(), &["allow", &fp, "--justification", &justification], "", &[]);
        assert_eq!(out.code, 0, "{}", out.all());
        assert!(!leaks(&out.all(), SYNTHETIC_MAK), "{}", out.all());
    }
    let policy = std::fs::read_to_string(dir.path().join("makguard.toml")).unwrap();
    assert!(!leaks(&policy, SYNTHETIC_MAK), "{policy}");
    assert!(
        policy.contains("old key *****-*****-*****-*****-3PPQC, approved"),
        "{policy}"
    );
    let scan = run_in(dir.path(), &["scan", "autounattend.xml"], "", &[]);
    assert_eq!(scan.code, 0, "{}", scan.all());
    assert!(!leaks(&scan.all(), SYNTHETIC_MAK));

    let glob = format!("{SYNTHETIC_MAK}/*");
    let refused = run_in(
        dir.path(),
        &["allow", &fp, "--justification", "x", "--path", &glob],
        "",
        &[],
    );
    assert_eq!(refused.code, 2, "{}", refused.all());
    assert!(!leaks(&refused.all(), SYNTHETIC_MAK), "{}", refused.all());
}

#[test]
fn control_characters_in_file_names_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("build").join("evil\u{1b}[2J\u{7}");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("unattend.xml"), answer_file(SYNTHETIC_MAK, SYNTHETIC_MAK)).unwrap();
    for format in ["text", "github", "markdown"] {
        let out = run_in(dir.path(), &["scan", "build", "--format", format], "", &[]);
        assert_eq!(out.code, 1, "{}", out.all());
        assert!(
            !out.all().contains('\u{1b}') && !out.all().contains('\u{7}'),
            "{format}:\n{}",
            out.all()
        );
    }
    let text = run_in(dir.path(), &["scan", "build"], "", &[]);
    assert!(
        text.stdout.contains("evil\\x1b[2J\\x07/unattend.xml"),
        "{}",
        text.stdout
    );
    let junit = run_in(dir.path(), &["scan", "build", "--format", "junit"], "", &[]);
    assert!(
        !junit
            .stdout
            .chars()
            .any(|c| (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r'))
    );
}

#[test]
fn a_report_that_cannot_be_written_is_exit_2_and_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("autounattend.xml"),
        answer_file(SYNTHETIC_MAK, SYNTHETIC_MAK),
    )
    .unwrap();
    if Path::new("/dev/full").exists() {
        let out = run_in(dir.path(), &["scan", ".", "--format", "json=/dev/full"], "", &[]);
        assert_eq!(out.code, 2, "{}", out.all());
        assert!(out.stderr.contains("cannot write the json report"), "{}", out.stderr);
    }
    // A directory the report cannot be created in: nothing is left behind.
    let missing = dir.path().join("no-such-dir").join("r.json");
    let arg = format!("json={}", missing.display());
    let out = run_in(dir.path(), &["scan", ".", "--format", &arg], "", &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    // An existing report is replaced whole.
    let report = dir.path().join("r.sarif");
    std::fs::write(&report, "old").unwrap();
    let arg = format!("sarif={}", report.display());
    let out = run_in(dir.path(), &["scan", ".", "--format", &arg], "", &[]);
    assert_eq!(out.code, 1, "{}", out.all());
    let written = std::fs::read_to_string(&report).unwrap();
    assert!(written.contains("\"version\""), "{written}");
    // A link to a report stays a link; the file it names gets the new report.
    #[cfg(unix)]
    {
        let target = dir.path().join("real.json");
        std::fs::write(&target, "old").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let arg = format!("json={}", link.display());
        let out = run_in(dir.path(), &["scan", "autounattend.xml", "--format", &arg], "", &[]);
        assert_eq!(out.code, 1, "{}", out.all());
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert!(std::fs::read_to_string(&target).unwrap().contains("\"findings\""));
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("makguard-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// A tmpfs of 16 KiB that a large report cannot fit on; `None` where mounting is not allowed.
fn tiny_filesystem() -> Option<(tempfile::TempDir, TinyMount)> {
    let dir = tempfile::tempdir().ok()?;
    let status = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16k", "tmpfs"])
        .arg(dir.path())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    status.success().then(|| {
        let mount = TinyMount(dir.path().to_path_buf());
        (dir, mount)
    })
}

struct TinyMount(std::path::PathBuf);

impl Drop for TinyMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_report_onto_a_full_disk_keeps_the_old_report_whole() {
    let Some((mount_dir, _mount)) = tiny_filesystem() else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Many findings make a SARIF report far larger than the 16 KiB file system.
    for n in 0..60 {
        std::fs::write(
            dir.path().join(format!("answer-{n}.xml")),
            answer_file(SYNTHETIC_MAK, SECOND_SYNTHETIC_MAK),
        )
        .unwrap();
    }
    let report = mount_dir.path().join("report.sarif");
    std::fs::write(&report, "previous report\n").unwrap();
    let arg = format!("sarif={}", report.display());
    let out = run_in(dir.path(), &["scan", ".", "--format", &arg], "", &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert_eq!(std::fs::read_to_string(&report).unwrap(), "previous report\n");
    let names: Vec<String> = std::fs::read_dir(mount_dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["report.sarif".to_string()]);
}
