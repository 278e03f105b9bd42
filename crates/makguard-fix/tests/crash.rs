//! The crash test: a child process fixes a tree of many files and is killed with SIGKILL at
//! random moments (seeded, so a failure reproduces). After every kill each file must be
//! wholly old or wholly new, the leftover temporary files must be exactly the ones
//! `cleanup_stale_temp_files` removes, and the next run must complete.
//!
//! The child is this test binary itself, re-run with `--ignored --exact crash_child` and the
//! tree's path in an environment variable.

mod common;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use makguard_core::text;
use makguard_core::{ScanReport, rules};
use makguard_fix::{ApplyOptions, FileStatus, KeyChoice, apply, cleanup_stale_temp_files, plan};
use sha2::{Digest, Sha256};

const CHILD_ENV: &str = "MAKGUARD_FIX_CRASH_CHILD_TREE";
const FILES: usize = 200;
const KILLS: usize = 50;

/// A small deterministic generator (xorshift64*), so the kill schedule is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn sha(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Writes the tree and returns, per relative path, the old and the expected new content.
/// The expected content is computed independently of the fixer: the decoded text with every
/// MAK replaced, encoded again.
fn build_tree(root: &Path) -> HashMap<String, (Vec<u8>, Vec<u8>)> {
    let maks = [MAK_A, MAK_B, MAK_C];
    let mut out = HashMap::new();
    for i in 0..FILES {
        let relative = format!("d{}/unattend-{i}.xml", i % 8);
        let padding = (0..20).fold(String::new(), |mut padding, n| {
            let _ = writeln!(padding, "  <!-- filler line {n} of file {i} -->");
            padding
        });
        let text = format!(
            "<?xml version=\"1.0\"?>\n<unattend>\n{padding}  <Key>{}</Key>\n{padding}</unattend>\n",
            maks[i % 3]
        );
        let variant = VARIANTS[i % VARIANTS.len()];
        let old = variant.encode(&text);
        let decoded = text::decode(&old);
        let new_text = maks
            .iter()
            .fold(decoded.text.clone(), |t, m| t.replace(m, ENTERPRISE_GVLK));
        let new = text::encode(&new_text, decoded.encoding).unwrap();
        let path = root.join(&relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, &old).unwrap();
        out.insert(relative, (old, new));
    }
    out
}

fn files_under(root: &Path) -> Vec<(String, PathBuf)> {
    let mut files: Vec<(String, PathBuf)> = walk(root)
        .into_iter()
        .map(|p| (p.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/"), p))
        .collect();
    files.sort();
    files
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            out.extend(walk(&entry.path()));
        } else {
            out.push(entry.path());
        }
    }
    out
}

/// What `makguard fix` does: remove leftovers, scan, plan, apply.
fn fix_tree(root: &Path) -> makguard_fix::ChangeLog {
    cleanup_stale_temp_files(root);
    let mut findings = Vec::new();
    for (relative, path) in files_under(root) {
        let bytes = fs::read(&path).unwrap();
        findings.extend(findings_for(
            &relative,
            &bytes,
            &rules::UNATTEND_NON_KMS_KEY,
            &Hints::default(),
        ));
    }
    let mut report: ScanReport = report(root, Some(enterprise_image("img")), findings);
    // The tree's files lie beside the image's installation, so the key is named explicitly.
    let choice = KeyChoice::new(None, Some(ENTERPRISE_GVLK), false).unwrap();
    assert!(plan(&mut report, &choice).is_empty());
    apply(&report, &ApplyOptions::default()).unwrap()
}

/// The child: fixes the tree named by the environment; run alone, fixes a fresh tree and
/// checks it.
#[test]
#[ignore = "the crash test runs this as its child process"]
fn crash_child() {
    if let Ok(tree) = std::env::var(CHILD_ENV) {
        let log = fix_tree(Path::new(&tree));
        assert!(log.files.iter().all(|f| f.status == FileStatus::Written));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let expected = build_tree(dir.path());
    let log = fix_tree(dir.path());
    assert_eq!(log.files.len(), FILES);
    for (relative, (_, new)) in &expected {
        assert_eq!(&fs::read(dir.path().join(relative)).unwrap(), new, "{relative}");
    }
}

/// A fresh directory for a tree: on tmpfs or on disk. A process kill (unlike a power cut)
/// does not depend on what fsync reached the disk, so tmpfs is as valid and much cheaper; on
/// disk the fsyncs widen the window in which a temporary file exists, so kills there leave
/// leftovers for the cleanup to find.
fn tree_dir(on_tmpfs: bool) -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if on_tmpfs
        && shm.is_dir()
        && let Ok(dir) = tempfile::Builder::new().prefix("makguard-crash-").tempdir_in(shm)
    {
        return dir;
    }
    tempfile::tempdir().unwrap()
}

fn spawn_child(tree: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "crash_child", "--test-threads=1", "--quiet"])
        .env(CHILD_ENV, tree)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the test binary re-runs itself as the child")
}

fn temp_files(root: &Path) -> Vec<PathBuf> {
    walk(root)
        .into_iter()
        .filter(|p| makguard_fix::write::is_temp_name(&p.file_name().unwrap().to_string_lossy()))
        .collect()
}

/// Asserts every file is wholly old or wholly new; returns how many are new.
fn check_tree(root: &Path, expected: &HashMap<String, (Vec<u8>, Vec<u8>)>, context: &str) -> usize {
    let mut new_count = 0;
    for (relative, (old, new)) in expected {
        let now = sha(&fs::read(root.join(relative)).unwrap());
        if now == sha(new) {
            new_count += 1;
        } else {
            assert_eq!(
                now,
                sha(old),
                "{context}: {relative} is neither the old nor the new content (torn)"
            );
        }
    }
    new_count
}

#[test]
fn killed_fix_leaves_every_file_wholly_old_or_wholly_new() {
    // Measure one whole child run on each medium to spread the kills over it (a
    // measurement, not a limit).
    let mut full_runs = [Duration::ZERO; 2];
    for (medium, full_run) in full_runs.iter_mut().enumerate() {
        let scratch = tree_dir(medium == 1);
        let expected = build_tree(scratch.path());
        let started = Instant::now();
        let status = spawn_child(scratch.path()).wait().unwrap();
        *full_run = started.elapsed();
        assert!(status.success(), "the child failed on an undisturbed run");
        assert_eq!(check_tree(scratch.path(), &expected, "undisturbed run"), FILES);
    }

    let mut rng = Rng(0x5EED_CAFE_F00D_0001);
    let mut partial_states = 0;
    let mut leftovers_seen = 0;
    for kill in 0..KILLS {
        let medium = kill % 2;
        let dir = tree_dir(medium == 1);
        let expected = build_tree(dir.path());
        let delay_micros = rng.next() % (full_runs[medium].as_micros() as u64 + 1);
        let mut child = spawn_child(dir.path());
        std::thread::sleep(Duration::from_micros(delay_micros));
        let _ = child.kill(); // SIGKILL on Unix; the child may already have finished.
        let _ = child.wait();

        let context = format!("kill {kill} after {delay_micros} µs");
        let new_count = check_tree(dir.path(), &expected, &context);
        if new_count > 0 && new_count < FILES {
            partial_states += 1;
        }
        let leftovers = temp_files(dir.path());
        leftovers_seen += leftovers.len();
        assert_eq!(cleanup_stale_temp_files(dir.path()), leftovers.len(), "{context}");
        assert!(temp_files(dir.path()).is_empty(), "{context}");

        // The next run completes and finishes the job.
        if kill % 10 < 2 {
            let status = spawn_child(dir.path()).wait().unwrap();
            assert!(status.success(), "{context}: the next run failed");
            assert_eq!(check_tree(dir.path(), &expected, &context), FILES, "{context}");
            assert!(temp_files(dir.path()).is_empty(), "{context}");
        }
    }
    println!(
        "{KILLS} kills over runs of {full_runs:?} (disk, tmpfs): {partial_states} left a partly fixed tree, \
{leftovers_seen} temporary files cleaned up"
    );
}
