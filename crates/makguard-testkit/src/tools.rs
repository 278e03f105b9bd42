//! The project's policy for tests that need an external tool (wimlib-imagex, hivexregedit,
//! the SARIF Multitool, python junitparser, …): a missing tool fails the test with a clear
//! message, unless `MAKGUARD_SKIP_MISSING_TOOLS=1`, in which case the test prints
//! `skipped: <reason>` and returns.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether missing tools skip tests (`MAKGUARD_SKIP_MISSING_TOOLS=1`) instead of failing them.
pub fn skipping_missing_tools() -> bool {
    std::env::var("MAKGUARD_SKIP_MISSING_TOOLS").as_deref() == Ok("1")
}

/// Whether an executable file named `tool` is in a directory of `PATH`.
pub fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
}

/// True when `tool` is on `PATH`. Otherwise fails the test with a clear message, or, with
/// `MAKGUARD_SKIP_MISSING_TOOLS=1`, prints `skipped: <tool> is not installed` and returns false.
pub fn require_tool(tool: &str) -> bool {
    if on_path(tool) {
        return true;
    }
    if skipping_missing_tools() {
        println!("skipped: {tool} is not installed");
        return false;
    }
    panic!(
        "{tool} is required by this test but is not installed (install it, e.g. via .ci/run, \
or set MAKGUARD_SKIP_MISSING_TOOLS=1 to skip)"
    );
}

/// [`require_tool`] with the reason the test needs the tool, printed in the skip and failure
/// messages (`skipped: <tool> is not installed (<why>)`).
pub fn require_tool_for(tool: &str, why: &str) -> bool {
    if on_path(tool) {
        return true;
    }
    if skipping_missing_tools() {
        println!("skipped: {tool} is not installed ({why})");
        return false;
    }
    panic!("{tool} is required ({why}); install it, or set MAKGUARD_SKIP_MISSING_TOOLS=1 to skip");
}

/// The first of `candidates` that is a file, or `None` (after printing `skipped: …`) when none
/// is and `MAKGUARD_SKIP_MISSING_TOOLS=1`. Panics with `install` instructions otherwise.
pub fn external_tool(what: &str, candidates: &[PathBuf], install: &str) -> Option<PathBuf> {
    if let Some(found) = candidates.iter().find(|path| path.is_file()) {
        return Some(found.clone());
    }
    let reason = format!("{what} not found (looked at {candidates:?}); install it with: {install}");
    if skipping_missing_tools() {
        println!("skipped: {reason}");
        None
    } else {
        panic!("{reason} (or set MAKGUARD_SKIP_MISSING_TOOLS=1 to skip)");
    }
}

/// The workspace's target directory (where .ci/run installs test tools): `CARGO_TARGET_DIR`
/// when set, else `<workspace>/target`.
pub fn workspace_target() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => crate::workspace_root().join("target"),
    }
}

/// Whether `program args…` runs and exits successfully (a probe such as `--version`).
pub fn runs(program: impl AsRef<Path>, args: &[&str]) -> bool {
    Command::new(program.as_ref())
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}
