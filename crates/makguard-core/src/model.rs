//! The result of a scan as every report format sees it: the image's identity, the roots
//! scanned, the files searched, the findings and the summary, and the exit code they imply.

use std::collections::BTreeMap;

use crate::finding::{Finding, Severity};

/// What makguard learned about a Windows image root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageInfo {
    /// The root as given on the command line.
    pub root: String,
    /// The SOFTWARE hive's `EditionID`, e.g. `Enterprise`; `None` when unread or absent.
    pub edition_id: Option<String>,
    /// The hive's `ProductName`; `None` when unread or absent.
    pub product_name: Option<String>,
    /// `CurrentBuild` (or `CurrentBuildNumber`).
    pub build: Option<u32>,
    /// The update build revision (`UBR`), the number after the build's dot; `None` when absent.
    pub ubr: Option<u32>,
    /// The hive's `DisplayVersion`, e.g. `23H2`; `None` when absent.
    pub display_version: Option<String>,
    /// The hive's `InstallationType`, e.g. `Client` or `Server`; `None` when absent.
    pub installation_type: Option<String>,
    /// Key-configuration files read for classification, relative to the root.
    pub key_configuration_files: Vec<String>,
}

impl ImageInfo {
    /// `Windows 11 Enterprise (Enterprise), build 22631.4460`, or what is known of it.
    pub fn describe(&self) -> String {
        let mut out = self.product_name.clone().unwrap_or_else(|| "Windows image".to_string());
        if let Some(edition) = &self.edition_id {
            out.push_str(&format!(" ({edition})"));
        }
        if let Some(build) = self.build {
            out.push_str(&format!(", build {build}"));
            if let Some(ubr) = self.ubr {
                out.push_str(&format!(".{ubr}"));
            }
        }
        if let Some(version) = &self.display_version {
            out.push_str(&format!(" ({version})"));
        }
        out
    }
}

/// One path given on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootReport {
    /// The path as given.
    pub path: String,
    /// What is known of the Windows image at the root; `None` when it is not an image root.
    pub image: Option<ImageInfo>,
    /// Candidate files searched, relative to the root (`JUnit` test cases).
    pub searched: Vec<String>,
    /// True when `path` names a single file: its findings' paths are then its file name,
    /// and reports name the file by `path` alone instead of joining the two.
    pub is_file: bool,
    /// When the root is one image of an image file (a WIM) read directly: which one. `path`
    /// is then the image file, and findings' paths are inside the image.
    pub container: Option<ContainerImage>,
    /// The policy file that applied to this root, as found or given (`None`: no policy).
    pub policy: Option<String>,
}

/// One image of an image file, as the file's own metadata (the WIM's XML) describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerImage {
    /// The format: `wim`.
    pub format: String,
    /// 1-based image index.
    pub index: u32,
    /// Images in the file.
    pub image_count: u32,
    /// The image's `NAME` from the file's XML; `None` when it has none.
    pub name: Option<String>,
    /// `EDITIONID` and `BUILD` from the file's XML; the image's SOFTWARE hive is the authority
    /// (`RootReport::image`), and reports say when the two disagree.
    pub edition_id: Option<String>,
    /// `BUILD` from the file's XML; `None` when it gives none.
    pub build: Option<u32>,
}

impl ContainerImage {
    /// `install.wim, image 3 of 6 "Windows 11 Enterprise"`.
    pub fn describe_in(&self, file: &str) -> String {
        let name = self
            .name
            .as_ref()
            .map(|name| format!(" \"{name}\""))
            .unwrap_or_default();
        format!("{file}, image {} of {}{name}", self.index, self.image_count)
    }

    /// What the WIM's XML claims when it contradicts the image's own SOFTWARE hive (`info`):
    /// the hive is the authority, so a disagreement is worth a look, not a verdict.
    pub fn disagreement(&self, info: &ImageInfo) -> Option<String> {
        let edition = match (&self.edition_id, &info.edition_id) {
            (Some(xml), Some(hive)) if !xml.eq_ignore_ascii_case(hive) => Some(format!("edition {xml}")),
            _ => None,
        };
        let build = match (self.build, info.build) {
            (Some(xml), Some(hive)) if xml != hive => Some(format!("build {xml}")),
            _ => None,
        };
        let claims: Vec<String> = edition.into_iter().chain(build).collect();
        (!claims.is_empty()).then(|| {
            format!(
                "the WIM's XML says {}, the image's registry does not",
                claims.join(", ")
            )
        })
    }

    /// `install.wim:3:/Windows/Panther/unattend.xml`: where a finding at `inner` (relative,
    /// `/`-separated) of this image of `file` is.
    pub fn locate(&self, file: &str, inner: &str) -> String {
        format!("{file}:{}:/{}", self.index, inner.trim_start_matches('/'))
    }
}

/// Counts for the summary line and the JSON `summary` object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanSummary {
    /// Entries the walk saw that are not folders; always `files_scanned` plus the skipped.
    pub files_walked: u64,
    /// Files whose content was searched.
    pub files_scanned: u64,
    /// Files not searched, by reason (`not-a-candidate`, `over-size-cap`, `special-file`,
    /// `symlink`, `excluded`, `unreadable`).
    pub skipped: BTreeMap<String, u64>,
    /// Bytes read from the scanned files.
    pub bytes_read: u64,
}

/// Everything a scan produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// One per path given; [`crate::Location::root`] indexes it.
    pub roots: Vec<RootReport>,
    /// Every finding, suppressed ones included.
    pub findings: Vec<Finding>,
    /// Counts over all roots.
    pub summary: ScanSummary,
    /// `--allow-incomplete`: unreadable files do not force exit 3.
    pub allow_incomplete: bool,
    /// `--fail-on never` / `--exit-zero`: findings never fail the run (no exit 1); an
    /// incomplete scan still exits 3.
    pub report_only: bool,
}

/// The process exit codes (a contract; see docs/exit-codes.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// No finding fails the run.
    Clean = 0,
    /// An unsuppressed finding at or above the failing severity.
    Findings = 1,
    /// A usage or configuration error.
    Usage = 2,
    /// Some file that may hold a key could not be read or parsed (an unsuppressed `MG9xx`
    /// finding), and `--allow-incomplete` was not given.
    Incomplete = 3,
}

impl ScanReport {
    /// The first image root's identity (the JSON `image` object).
    pub fn image(&self) -> Option<&ImageInfo> {
        self.roots.iter().find_map(|r| r.image.as_ref())
    }

    fn active(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.suppressed.is_none())
    }

    /// Unsuppressed findings at exactly `severity`.
    pub fn count(&self, severity: Severity) -> usize {
        self.active().filter(|f| f.severity == severity).count()
    }

    /// Findings a policy exception covers.
    pub fn suppressed_count(&self) -> usize {
        self.findings.iter().filter(|f| f.suppressed.is_some()).count()
    }

    /// True when some file that may hold a key could not be read or parsed.
    pub fn incomplete(&self) -> bool {
        self.active().any(|f| f.rule.is_incomplete_scan())
    }

    /// Exit 3 for an incomplete scan (unless allowed), else 1 for an unsuppressed finding at
    /// or above `fail_on` (never for a report-only run), else 0.
    pub fn exit_status(&self, fail_on: Severity) -> ExitStatus {
        if self.incomplete() && !self.allow_incomplete {
            ExitStatus::Incomplete
        } else if !self.report_only && self.active().any(|f| f.severity >= fail_on) {
            ExitStatus::Findings
        } else {
            ExitStatus::Clean
        }
    }

    /// Sorts findings by path, position and rule, so every format is deterministic.
    pub fn sort(&mut self) {
        self.findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    }
}
