//! The project's policy for tests that need an external tool (wimlib-imagex, hivexregedit,
//! the SARIF Multitool, python junitparser, Wine, …): in CI (`CI` set to anything but
//! `false`/`0`) or with `MAKGUARD_REQUIRE_TOOLS=1` a missing tool fails the test with a clear
//! message, because every oracle must run there; elsewhere (a developer's machine without
//! root or npm) the test prints `skipped: <reason>` and returns.
//! `MAKGUARD_SKIP_MISSING_TOOLS=1` skips even in CI.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether missing tools skip tests instead of failing them: not in CI, unless told otherwise.
pub fn skipping_missing_tools() -> bool {
    let flag = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty() && v != "0" && v != "false")
    };
    if flag("MAKGUARD_SKIP_MISSING_TOOLS").is_some() {
        return true;
    }
    flag("CI").is_none() && flag("MAKGUARD_REQUIRE_TOOLS").is_none()
}

/// Whether an executable file named `tool` is in a directory of `PATH`.
pub fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
}

/// True when `tool` is on `PATH`. Otherwise fails the test with a clear message, or, with
/// `MAKGUARD_SKIP_MISSING_TOOLS=1`, prints `skipped: <tool> is not installed` and returns false.
///
/// # Panics
///
/// When `tool` is not on `PATH` and missing tools are not skipped.
pub fn require_tool(tool: &str) -> bool {
    if on_path(tool) {
        return true;
    }
    if skipping_missing_tools() {
        println!("skipped: {tool} is not installed");
        return false;
    }
    panic!(
        "{tool} is required by this test but is not installed (install it with \
bash ci/install-test-tools.sh, or unset CI to skip)"
    );
}

/// [`require_tool`] with the reason the test needs the tool, printed in the skip and failure
/// messages (`skipped: <tool> is not installed (<why>)`).
///
/// # Panics
///
/// When `tool` is not on `PATH` and missing tools are not skipped.
pub fn require_tool_for(tool: &str, why: &str) -> bool {
    if on_path(tool) {
        return true;
    }
    if skipping_missing_tools() {
        println!("skipped: {tool} is not installed ({why})");
        return false;
    }
    panic!("{tool} is required ({why}); install it with bash ci/install-test-tools.sh, or unset CI to skip");
}

/// The first of `candidates` that is a file, or `None` (after printing `skipped: …`) when none
/// is and `MAKGUARD_SKIP_MISSING_TOOLS=1`. Panics with `install` instructions otherwise.
///
/// # Panics
///
/// When no candidate is a file and missing tools are not skipped.
pub fn external_tool(what: &str, candidates: &[PathBuf], install: &str) -> Option<PathBuf> {
    if let Some(found) = candidates.iter().find(|path| path.is_file()) {
        return Some(found.clone());
    }
    let reason = format!("{what} not found (looked at {candidates:?}); install it with: {install}");
    if skipping_missing_tools() {
        println!("skipped: {reason}");
        None
    } else {
        panic!("{reason} (or unset CI to skip)");
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
