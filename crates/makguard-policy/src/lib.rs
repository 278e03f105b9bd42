//! makguard-policy: the policy file `makguard.toml` and what it does to a scan, for every
//! front end (the `makguard` command today; a library user or a service tomorrow).
//!
//! - [`discover`]: which file governs which scanned path (`--config`, `MAKGUARD_CONFIG`, the
//!   nearest `makguard.toml` walking up, the working directory).
//! - [`policy`]: parsing and validating one file; errors name file, line and column and never
//!   echo a rejected key.
//! - [`edit`]: adding an `[[allow]]` entry (`makguard allow`), keeping the file's comments.
//! - [`Workspace`]: the policies of one run; it scans each path with its own policy's `[scan]`
//!   settings and judges each root's findings by that policy (severity overrides, `[[allow]]`
//!   exceptions with expiry, `MG501`-`MG503`), and plans fixes with each root's `[editions]`.
//!
//! docs/policy.md is the reference for the format and the discovery; keep them in step.

#![warn(missing_docs)]

mod apply;
pub mod date;
pub mod discover;
pub mod edit;
mod editions;
pub mod error;
pub mod glob;
pub mod policy;
mod size;
mod workspace;

pub use apply::PolicyHome;
pub use date::CivilDate;
pub use discover::{CONFIG_ENV, Discovery, Origin, PolicyLocation};
pub use edit::{EditError, NewException, add_exception};
pub use editions::UnfixableReason;
pub use error::{ConfigError, PolicyError};
pub use policy::{POLICY_FILE_NAME, Policy, is_fingerprint};
pub use size::parse_size;
pub use workspace::{JudgedScan, ScanRequest, Workspace};
