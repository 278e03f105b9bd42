//! Test-only helpers shared by the test suites of makguard's crates, so the project's test
//! policies live in one place: how a missing external tool fails or skips
//! (`MAKGUARD_SKIP_MISSING_TOOLS=1`), where `../shared/reference` and the workspace's target
//! directory are, how Microsoft's SARIF Multitool is found, and how a WIM is mounted with
//! wimlib and always unmounted again.
//!
//! Everything compiles on every platform (the WIM helpers only run commands; where FUSE is
//! missing, [`fuse_available`] makes the test skip).
//!
//! Never a dependency of library or binary code: only `[dev-dependencies]`.

pub mod reference;
pub mod sarif;
pub mod tools;
pub mod wim;

pub use reference::{assert_no_synthetic_key, read_tsv, reference_path, shared_dir, synthetic_keys, workspace_root};
pub use sarif::{MultitoolProblem, SARIF_MULTITOOL_INSTALL, run_multitool, sarif_multitool, sarif_multitool_config};
pub use tools::{
    external_tool, on_path, require_tool, require_tool_for, runs, skipping_missing_tools, workspace_target,
};
pub use wim::{WimMount, fuse_available, run_tool, wim_capture, wimlib};
