//! `scan` and `fix` agree: whatever `fix` would change, `scan` reports first under the same
//! rule; a GVLK is never rewritten by a safe fix; a file beside an image is never judged by
//! its edition. Also the README's fix example, keys written with character references, a
//! read-only mount and the temporaries a killed fix leaves behind.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use makguard_testkit::require_tool;

const MINIMAL_HIVE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpus/hives/libguestfs__hivex__images__minimal"
);
const PRO_GVLK: &str = "W269N-WFGWX-YVC9B-4J6C9-T83GX";
const SERVER_2022_DATACENTER_GVLK: &str = "WX4NM-KYWYW-QJJR4-XV3QB-6VM33";

/// An image root whose SOFTWARE hive (written by hivexregedit) says Enterprise, build 22631.
fn enterprise_image() -> tempfile::TempDir {
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
             [{prefix}\\Microsoft\\Windows NT\\CurrentVersion]\n\"EditionID\"=\"Enterprise\"\n\
             \"CurrentBuild\"=\"22631\"\n\"ProductName\"=\"Windows 11 Enterprise\"\n\n"
        ),
    )
    .unwrap();
    let output = Command::new("hivexregedit")
        .args(["--merge", "--prefix", prefix])
        .arg(&hive)
        .arg(&reg)
        .output()
        .expect("run hivexregedit");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    std::fs::remove_file(&reg).unwrap();
    root
}

fn put(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).unwrap()
}

const PANTHER: &str = "Windows/Panther/unattend.xml";
const SHARE: &str = "DeploymentShare/Control/SRV2022/Unattend.xml";

#[test]
fn scan_reports_every_gvlk_fix_would_change_and_fix_needs_unsafe_fixes() {
    if !require_tool("hivexregedit") {
        return;
    }
    let image = enterprise_image();
    let root = image.path();
    put(root, PANTHER, &answer_file(PRO_GVLK, PRO_GVLK));
    put(
        root,
        SHARE,
        &answer_file(SERVER_2022_DATACENTER_GVLK, SERVER_2022_DATACENTER_GVLK),
    );

    let scan = run_in(root, &["scan", ".", "--format", "json"], "", &[]);
    assert_eq!(scan.code, 1, "{}", scan.all());
    let mismatches: Vec<String> = findings(&scan.json())
        .iter()
        .filter(|f| f["code"] == "MG401")
        .map(|f| f["path"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        mismatches,
        vec![PANTHER.to_string(), PANTHER.to_string()],
        "{}",
        scan.stdout
    );

    // A safe fix rewrites no GVLK; the scan after it still reports them.
    let safe = run_in(root, &["fix", "."], "", &[]);
    assert_eq!(safe.code, 1, "{}", safe.all());
    assert!(safe.stderr.contains("--unsafe-fixes"), "{}", safe.stderr);
    assert!(read(root, PANTHER).contains(PRO_GVLK));

    // Opting in fixes the image's own answer file and never the deployment share's.
    let unsafe_fix = run_in(root, &["fix", "--unsafe-fixes", "."], "", &[]);
    assert_eq!(unsafe_fix.code, 0, "{}", unsafe_fix.all());
    assert!(read(root, PANTHER).contains(ENTERPRISE_GVLK) && !read(root, PANTHER).contains(PRO_GVLK));
    assert_eq!(
        read(root, SHARE),
        answer_file(SERVER_2022_DATACENTER_GVLK, SERVER_2022_DATACENTER_GVLK)
    );
}

#[test]
fn a_mak_beside_the_image_is_not_fixed_with_the_image_edition() {
    if !require_tool("hivexregedit") {
        return;
    }
    let image = enterprise_image();
    let root = image.path();
    put(root, SHARE, &answer_file(SYNTHETIC_MAK, SYNTHETIC_MAK));
    let out = run_in(root, &["fix", "."], "", &[]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stderr.contains("--edition"), "{}", out.stderr);
    assert!(read(root, SHARE).contains(SYNTHETIC_MAK));
    assert!(!out.all().contains(SYNTHETIC_MAK));
}

#[test]
fn the_readme_fix_example_works_in_the_file_folder() {
    let dir = tempfile::tempdir().unwrap();
    put(
        dir.path(),
        "autounattend.xml",
        &answer_file(SYNTHETIC_MAK, SYNTHETIC_MAK),
    );
    let out = run_in(
        dir.path(),
        &["fix", "--edition", "Enterprise", "--build", "22631", "autounattend.xml"],
        "",
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(
        read(dir.path(), "autounattend.xml"),
        answer_file(ENTERPRISE_GVLK, ENTERPRISE_GVLK)
    );
}

#[test]
fn a_key_written_with_character_references_is_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let referenced = format!("&#x{:x};{}", SYNTHETIC_MAK.as_bytes()[0], &SYNTHETIC_MAK[1..]);
    put(dir.path(), "autounattend.xml", &answer_file(&referenced, SYNTHETIC_MAK));
    let out = run_in(dir.path(), &["fix", "--gvlk", ENTERPRISE_GVLK, "."], "", &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(!out.stderr.contains("changed since the scan"), "{}", out.stderr);
    assert_eq!(
        read(dir.path(), "autounattend.xml"),
        answer_file(ENTERPRISE_GVLK, ENTERPRISE_GVLK)
    );
}

struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn mount(args: &[&str], dir: &Path) -> bool {
    Command::new("mount")
        .args(args)
        .arg(dir)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn fix_on_a_read_only_mount_says_what_to_do_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    if !mount(&["-t", "tmpfs", "-o", "size=1m", "tmpfs"], dir.path()) {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    }
    let _mounted = Mount(dir.path().to_path_buf());
    put(
        dir.path(),
        "autounattend.xml",
        &answer_file(SYNTHETIC_MAK, SYNTHETIC_MAK),
    );
    assert!(mount(&["-o", "remount,ro"], dir.path()), "remount read-only");
    let out = run_in(dir.path(), &["fix", "--gvlk", ENTERPRISE_GVLK, "."], "", &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("read-only") && out.stderr.contains("wimlib-imagex mountrw"),
        "{}",
        out.stderr
    );
    assert!(!out.all().contains(SYNTHETIC_MAK));
}

#[test]
fn fix_removes_only_the_temporaries_of_dead_runs() {
    let dir = tempfile::tempdir().unwrap();
    put(
        dir.path(),
        "autounattend.xml",
        &answer_file(SYNTHETIC_MAK, SYNTHETIC_MAK),
    );
    // A killed `fix --backup` left its backup's temporary file, MAKs included; a running
    // process (this test) owns another.
    let dead = ".autounattend.xml.makguard-orig.makguard-tmp-999999999-0";
    let alive = format!(".autounattend.xml.makguard-tmp-{}-0", std::process::id());
    put(dir.path(), dead, &answer_file(SYNTHETIC_MAK, SYNTHETIC_MAK));
    put(dir.path(), &alive, "in use\n");
    let out = run_in(
        dir.path(),
        &["fix", "--gvlk", ENTERPRISE_GVLK, "autounattend.xml"],
        "",
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(!dir.path().join(dead).exists(), "{}", out.all());
    assert!(dir.path().join(&alive).exists());
    assert!(out.stderr.contains("removed 1 temporary file"), "{}", out.stderr);
}
