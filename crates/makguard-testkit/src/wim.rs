//! WIM images mounted with `wimlib-imagex mount`/`mountrw` (FUSE), unmounted on
//! drop so a failing test never leaves a mount behind; and the `/dev/fuse` check that decides
//! whether mount-based tests run at all.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs an external tool and fails the test with its stderr when it fails.
///
/// # Panics
///
/// When the tool cannot be started or exits unsuccessfully.
pub fn run_tool(program: &str, args: &[&OsStr]) {
    let output = Command::new(program).args(args).output().expect("run external tool");
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// True when `/dev/fuse` exists; otherwise prints
/// `skipped: /dev/fuse is absent, so a WIM cannot be mounted here` and returns false (an absent
/// FUSE device skips mount-based tests even in CI).
pub fn fuse_available() -> bool {
    if Path::new("/dev/fuse").exists() {
        return true;
    }
    println!("skipped: /dev/fuse is absent, so a WIM cannot be mounted here");
    false
}

/// A mounted WIM image; unmounted (changes discarded) on drop unless [`WimMount::unmount`]
/// ran first.
pub struct WimMount {
    dir: PathBuf,
    mounted: bool,
}

impl WimMount {
    /// Mounts image 1 of `wim` at `dir` (created if missing), read-write when `writable`, with
    /// `extra_args` (e.g. `--unix-data`) appended. Fails the test if wimlib fails.
    ///
    /// # Panics
    ///
    /// When `dir` cannot be created or `wimlib-imagex` fails.
    pub fn new(wim: &Path, dir: &Path, writable: bool, extra_args: &[&str]) -> WimMount {
        std::fs::create_dir_all(dir).expect("create mount point");
        let verb = if writable { "mountrw" } else { "mount" };
        let mut args: Vec<&OsStr> = vec![verb.as_ref(), wim.as_os_str(), "1".as_ref(), dir.as_os_str()];
        args.extend(extra_args.iter().map(OsStr::new));
        run_tool("wimlib-imagex", &args);
        WimMount {
            dir: dir.to_path_buf(),
            mounted: true,
        }
    }

    /// The mount point.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Unmounts, committing the changes when `commit`. Fails the test if wimlib fails.
    pub fn unmount(mut self, commit: bool) {
        let mut args: Vec<&OsStr> = vec!["unmount".as_ref(), self.dir.as_os_str()];
        if commit {
            args.push("--commit".as_ref());
        }
        // A failed unmount panics with `mounted` still set, so drop tries once more.
        run_tool("wimlib-imagex", &args);
        self.mounted = false;
    }
}

impl Drop for WimMount {
    fn drop(&mut self) {
        if self.mounted {
            let status = Command::new("wimlib-imagex").arg("unmount").arg(&self.dir).status();
            if !status.is_ok_and(|s| s.success()) {
                eprintln!("warning: could not unmount {}", self.dir.display());
            }
        }
    }
}

/// Runs `wimlib-imagex args…`, failing the test with its stderr when it fails; returns stdout.
///
/// # Panics
///
/// When `wimlib-imagex` cannot be started or exits unsuccessfully.
pub fn wimlib(args: &[&OsStr]) -> String {
    let output = Command::new("wimlib-imagex")
        .args(args)
        .output()
        .expect("run wimlib-imagex");
    assert!(
        output.status.success(),
        "wimlib-imagex {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `wimlib-imagex capture source wim name extra_args…`: captures `source` as image 1 of a new
/// WIM. Fails the test if wimlib fails.
pub fn wim_capture(source: &Path, wim: &Path, name: &str, extra_args: &[&str]) {
    let mut args: Vec<&OsStr> = vec!["capture".as_ref(), source.as_os_str(), wim.as_os_str(), name.as_ref()];
    args.extend(extra_args.iter().map(OsStr::new));
    wimlib(&args);
}
