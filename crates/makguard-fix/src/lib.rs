//! makguard-fix: rewrites embedded keys to the right GVLK, changing only the key's bytes.
//!
//! The flow is [`plan`] (choose a GVLK for each fixable finding and attach a [`Fix`]), then
//! [`apply`] (per file: leave out every fix below the run's [`Applicability`], re-read, check
//! the keys are still there, rewrite in memory with [`edit::rewrite`], which leaves out an
//! edit overlapping an earlier one, prove every other byte is unchanged, re-parse, and write
//! atomically with [`write::atomic_write`]). Failures stay per file in the [`ChangeLog`]; a run
//! never stops half-way because one file is odd. See docs/fixing.md.
//!
//! [`Fix`]: makguard_core::Fix

#![warn(missing_docs)]

pub mod changelog;
pub mod choose;
pub mod edit;
pub mod write;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use makguard_core::catalog::{self, Family};
use makguard_core::{Applicability, ByteRange, Finding, FindingPath, ScanReport};
use makguard_scan::FileContext;
use makguard_scan::InstallCommand;
use sha2::{Digest, Sha256};
use thiserror::Error;

pub use changelog::{ChangeLog, FileChange, FileStatus, KeyReplacement, unified_diff};
pub use choose::{KeyChoice, KeyChoiceError, Unfixable, edition_from_image_name, edition_mismatches, plan};
pub use write::{TEMP_MARKER, cleanup_stale_temp_files};

/// The backup suffix `--backup` uses when none is given.
pub const DEFAULT_BACKUP_SUFFIX: &str = ".makguard-orig";

/// How [`apply`] runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Compute and check every rewrite, write nothing.
    pub dry_run: bool,
    /// `--backup[=SUFFIX]`: copy each original to `<name><SUFFIX>` (atomically) before
    /// replacing it. The backup still holds the old key.
    pub backup_suffix: Option<String>,
    /// `--unsafe-fixes`: apply unsafe fixes too, not only safe ones.
    pub unsafe_fixes: bool,
}

impl ApplyOptions {
    /// The least [`Applicability`] a fix needs to be applied in this run.
    pub fn required_applicability(&self) -> Applicability {
        if self.unsafe_fixes {
            Applicability::Unsafe
        } else {
            Applicability::Safe
        }
    }

    /// Why a fix of `applicability` is not applied in this run, if it is not: THE applicability
    /// check, made when edits are applied, whatever planned them.
    fn refusal(&self, applicability: Applicability) -> Option<String> {
        if applicability >= self.required_applicability() {
            return None;
        }
        Some(match applicability {
            Applicability::DisplayOnly => "a display-only fix: makguard shows it but never applies it".to_string(),
            Applicability::Unsafe | Applicability::Safe => "an unsafe fix: pass --unsafe-fixes to apply it".to_string(),
        })
    }
}

/// A failure of the whole run (per-file failures go into the [`ChangeLog`]).
#[derive(Debug, Error)]
pub enum FixError {
    /// The report has findings with fixes but lists no scanned roots, so their paths name no
    /// file.
    #[error("the report has fixes but no roots to resolve their paths against")]
    NoRoots,
}

/// A scanned root, resolved once.
struct Root {
    display: String,
    path: PathBuf,
    /// A single file given on the command line.
    is_file: bool,
    /// The canonical directory every write must stay inside.
    canonical_dir: Result<PathBuf, String>,
}

fn resolve_roots(report: &ScanReport) -> Vec<Root> {
    report
        .roots
        .iter()
        .map(|r| {
            let path = PathBuf::from(&r.path);
            let is_file = r.is_file || fs::metadata(&path).is_ok_and(|m| m.is_file());
            let dir = if is_file {
                match path.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    _ => PathBuf::from("."),
                }
            } else {
                path.clone()
            };
            let canonical_dir = fs::canonicalize(&dir).map_err(|e| format!("cannot resolve root {}: {e}", r.path));
            Root {
                display: r.path.clone(),
                path,
                is_file,
                canonical_dir,
            }
        })
        .collect()
}

fn relative_path(path: &FindingPath) -> PathBuf {
    #[cfg(unix)]
    if let Some(raw) = &path.raw_bytes {
        use std::os::unix::ffi::OsStringExt;
        return PathBuf::from(std::ffi::OsString::from_vec(raw.clone()));
    }
    PathBuf::from(&path.display)
}

/// The file a finding's path names under `root`, if it exists there (links included: the
/// safety check refuses them later, with a reason).
fn locate(root: &Root, relative: &Path) -> Result<Option<PathBuf>, write::PathRefusal> {
    let candidate = if root.is_file {
        if root.path.file_name() != Some(relative.as_os_str()) {
            return Ok(None);
        }
        root.path.clone()
    } else {
        write::join_relative(&root.path, relative)?
    };
    Ok(fs::symlink_metadata(&candidate).is_ok().then_some(candidate))
}

fn sha256_hex(bytes: &[u8]) -> String {
    makguard_core::hex::encode(&Sha256::digest(bytes))
}

/// Applies every fix in `report` (as filled by [`plan`] or [`edition_mismatches`]), one file
/// at a time. Suppressed findings are never applied.
///
/// # Errors
///
/// [`FixError::NoRoots`] when the report has fixes but no roots; a failure of one file is
/// not an error but that file's [`FileStatus`] in the log.
pub fn apply(report: &ScanReport, options: &ApplyOptions) -> Result<ChangeLog, FixError> {
    apply_with_images(report, options, None).map(|(log, _)| log)
}

/// Reads the files of roots that are images inside an image file (a WIM), for
/// [`apply_with_images`].
pub trait ImageFiles {
    /// The bytes of the file at `path` inside the image of root `root`.
    ///
    /// # Errors
    ///
    /// Why the file could not be read (the fix skips that file with this reason).
    fn read(&self, root: usize, path: &FindingPath) -> Result<Vec<u8>, String>;
}

/// New contents for a file inside an image: the caller writes them into the image file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRewrite {
    /// The index in the report's roots of the image holding the file.
    pub root: usize,
    /// The file's path inside the image, `/`-separated, as the finding names it.
    pub path: String,
    /// The file's whole new content, in its original encoding.
    pub new_bytes: Vec<u8>,
}

/// [`apply`], and for files inside image roots (read through `images`), their new bytes
/// instead of a write: the changes come back as [`ImageRewrite`]s, marked written in the log
/// (or dry-run), for the caller to write into the image file in one go. Without `images`, such
/// files are skipped with what to do.
///
/// # Errors
///
/// [`FixError::NoRoots`] when the report has fixes but no roots.
pub fn apply_with_images(
    report: &ScanReport,
    options: &ApplyOptions,
    images: Option<&dyn ImageFiles>,
) -> Result<(ChangeLog, Vec<ImageRewrite>), FixError> {
    type FileId = (usize, String, Option<Vec<u8>>);
    let mut by_file: BTreeMap<FileId, Vec<&Finding>> = BTreeMap::new();
    for finding in &report.findings {
        if finding.suppressed.is_none() && finding.fix.is_some() && finding.key.is_some() {
            by_file
                .entry((
                    finding.location.root,
                    finding.path().display.clone(),
                    finding.path().raw_bytes.clone(),
                ))
                .or_default()
                .push(finding);
        }
    }
    let mut log = ChangeLog {
        dry_run: options.dry_run,
        files: Vec::new(),
    };
    let mut rewrites = Vec::new();
    if by_file.is_empty() {
        return Ok((log, rewrites));
    }
    if report.roots.is_empty() {
        return Err(FixError::NoRoots);
    }
    let roots = resolve_roots(report);
    for ((root, ..), findings) in &by_file {
        // A file inside an image of a WIM is not on disk: writing "it" would write the WIM.
        if report.roots.get(*root).is_some_and(|r| r.container.is_some()) {
            let (change, rewrite) = match images {
                Some(images) => fix_in_image(report, *root, findings, images, options),
                None => (inside_image_file(report, *root, findings, options), None),
            };
            log.files.push(change);
            rewrites.extend(rewrite);
            continue;
        }
        log.files.push(fix_file(roots.get(*root), findings, options));
    }
    Ok((log, rewrites))
}

/// A change not made yet: `status` says why (or is replaced once it is made).
fn pending_change(path: &FindingPath, edits: Vec<KeyReplacement>, status: FileStatus) -> FileChange {
    FileChange {
        root: String::new(),
        path: path.display.clone(),
        edits,
        encoding: None,
        sha256_before: None,
        sha256_after: None,
        backup: None,
        status,
        texts: None,
    }
}

/// The status of a file none of whose replacements this run may apply: the first reason.
fn nothing_to_apply(change: &FileChange) -> Option<FileStatus> {
    let mut reasons = change.edits.iter().map(|e| e.not_applied.as_deref());
    let first = reasons.next()??;
    reasons
        .all(|reason| reason.is_some())
        .then(|| FileStatus::Skipped(format!("no fix here may be applied in this run: {first}")))
}

/// The change for a file inside a WIM image when no [`ImageFiles`] reader was given: it is
/// not on disk, so it is left alone with what to do.
fn inside_image_file(report: &ScanReport, root: usize, findings: &[&Finding], options: &ApplyOptions) -> FileChange {
    let wim = &report.roots[root].path;
    let mut change = pending_change(
        findings[0].path(),
        replacements(findings, options),
        FileStatus::Skipped(format!(
            "the file is inside {wim}, which this caller cannot rewrite: run `makguard fix {wim}`, or mount the \
image read-write (`wimlib-imagex mountrw {wim} INDEX DIR`, or DISM /Mount-Image without /ReadOnly), fix the \
mount, and commit the unmount"
        )),
    );
    change.root.clone_from(wim);
    if let Some(status) = nothing_to_apply(&change) {
        change.status = status;
    }
    change
}

/// A file inside an image root: read through `images`, rewritten in memory.
fn fix_in_image(
    report: &ScanReport,
    root: usize,
    findings: &[&Finding],
    images: &dyn ImageFiles,
    options: &ApplyOptions,
) -> (FileChange, Option<ImageRewrite>) {
    let path = findings[0].path();
    let wim = &report.roots[root];
    let mut change = pending_change(
        path,
        replacements(findings, options),
        FileStatus::Skipped(String::new()),
    );
    change.root.clone_from(&wim.path);
    // Two images can hold the same path: the log names the image too (`install.wim:2:/...`).
    if let Some(image) = &wim.container {
        change.path = image.locate(&wim.path, &path.display);
    }
    if let Some(status) = nothing_to_apply(&change) {
        change.status = status;
        return (change, None);
    }
    let bytes = match images.read(root, path) {
        Ok(bytes) => bytes,
        Err(reason) => {
            change.status = FileStatus::Failed(format!("cannot read the file in the image: {reason}"));
            return (change, None);
        }
    };
    let name = path.display.rsplit('/').next().unwrap_or_default().to_string();
    match rewrite_bytes(path, &name, &bytes, &mut change) {
        Ok(rewrite) => {
            change.status = if options.dry_run {
                FileStatus::DryRun
            } else {
                FileStatus::Written
            };
            let rewrite = ImageRewrite {
                root,
                path: path.display.clone(),
                new_bytes: rewrite.new_bytes,
            };
            (change, Some(rewrite))
        }
        Err(status) => {
            change.status = status;
            (change, None)
        }
    }
}

/// Every replacement the findings' fixes plan, each refused here when its fix is below the
/// run's applicability.
fn replacements(findings: &[&Finding], options: &ApplyOptions) -> Vec<KeyReplacement> {
    let mut out = Vec::new();
    for finding in findings {
        let (Some(fix), Some(info)) = (&finding.fix, &finding.key) else {
            continue;
        };
        for edit in &fix.edits {
            let mut replacement = KeyReplacement::new(finding.rule, info.key.clone(), edit.clone(), fix);
            replacement.not_applied = options.refusal(fix.applicability);
            out.push(replacement);
        }
    }
    out
}

fn fix_file(root: Option<&Root>, findings: &[&Finding], options: &ApplyOptions) -> FileChange {
    let path = findings[0].path();
    let relative = relative_path(path);
    let mut change = pending_change(
        path,
        replacements(findings, options),
        FileStatus::Skipped(String::new()),
    );

    let Some(root) = root else {
        change.status = FileStatus::Skipped("the finding names a root the report does not have".to_string());
        return change;
    };
    change.root.clone_from(&root.display);
    if let Some(status) = nothing_to_apply(&change) {
        change.status = status;
        return change;
    }
    let target = match locate(root, &relative) {
        Ok(Some(target)) => target,
        Ok(None) => {
            change.status = FileStatus::Skipped("the file is not under its root any more".to_string());
            return change;
        }
        Err(write::PathRefusal::Unsafe(reason)) => {
            change.status = FileStatus::Skipped(reason);
            return change;
        }
    };
    change.status = match fix_located(path, root, &target, options, &mut change) {
        Ok(status) | Err(status) => status,
    };
    change
}

/// Re-scans the rewritten bytes with the scanner for the file's kind; `Some(reason)` when
/// the new content fails to parse where the old one did.
fn rescan_breaks(path: &FindingPath, old: &[u8], new: &[u8]) -> Option<String> {
    let kind = makguard_scan::detect_kind(&path.display, old)?;
    let ctx = FileContext { path, key_config: None };
    let parse_failures = |bytes: &[u8]| {
        makguard_scan::scan_file_bytes(kind, bytes, &ctx)
            .iter()
            .filter(|f| f.rule.is_incomplete_scan())
            .count()
    };
    (parse_failures(new) > parse_failures(old)).then(|| {
        format!(
            "the rewritten file no longer parses as {}; nothing was written",
            kind.as_str()
        )
    })
}

/// The file's new bytes with the change's applicable edits made, checked (the file still
/// parses, no Windows GVLK goes to `ospp.vbs`), with the change's hashes, encoding, byte ranges
/// and left-out edits filled in.
fn rewrite_bytes(
    finding_path: &FindingPath,
    name: &str,
    bytes: &[u8],
    change: &mut FileChange,
) -> Result<edit::Rewrite, FileStatus> {
    change.sha256_before = Some(sha256_hex(bytes));

    let pending: Vec<usize> = (0..change.edits.len())
        .filter(|&i| change.edits[i].not_applied.is_none())
        .collect();
    let key_edits: Vec<edit::KeyEdit> = pending
        .iter()
        .map(|&i| (&change.edits[i].edit, &change.edits[i].old_key))
        .collect();
    let rewrite = edit::rewrite(name, bytes, &key_edits).map_err(|e| match e {
        edit::RewriteError::Skipped(r) => FileStatus::Skipped(r),
        edit::RewriteError::RolledBack(r) => FileStatus::RolledBack(r),
    })?;
    change.encoding = Some(rewrite.encoding.name());
    if let Some(reason) = rescan_breaks(finding_path, bytes, &rewrite.new_bytes) {
        return Err(FileStatus::RolledBack(reason));
    }
    for ((edit, _), outcome) in key_edits.iter().zip(&rewrite.outcomes) {
        if matches!(outcome, edit::EditOutcome::Applied(_)) {
            ospp_gets_no_windows_key(&rewrite.old_text, edit)?;
        }
    }

    for (&index, outcome) in pending.iter().zip(&rewrite.outcomes) {
        let replacement = &mut change.edits[index];
        match outcome {
            edit::EditOutcome::Applied(range) => replacement.byte_range = Some(*range),
            edit::EditOutcome::NotApplied(reason) => replacement.not_applied = Some(reason.clone()),
        }
    }
    change.sha256_after = Some(sha256_hex(&rewrite.new_bytes));
    change.texts = Some((rewrite.old_text.clone(), rewrite.new_text.clone()));

    Ok(rewrite)
}

/// `ospp.vbs /inpkey:` installs Office keys only; a Windows GVLK there is a wrong guess.
fn ospp_gets_no_windows_key(old_text: &str, edit: &makguard_core::Edit) -> Result<(), FileStatus> {
    let windows_key = makguard_core::ProductKey::parse(&edit.replacement)
        .ok()
        .and_then(|k| catalog::lookup_key(&k))
        .is_some_and(|e| e.family == Family::Windows);
    if windows_key && makguard_scan::install_command_before(old_text, edit.range.start) == Some(InstallCommand::Ospp) {
        return Err(FileStatus::Skipped(
            "ospp.vbs /inpkey installs an Office key, but a Windows GVLK was chosen: pass --gvlk with the Office product's GVLK"
                .to_string(),
        ));
    }
    Ok(())
}

fn fix_located(
    finding_path: &FindingPath,
    root: &Root,
    target: &Path,
    options: &ApplyOptions,
    change: &mut FileChange,
) -> Result<FileStatus, FileStatus> {
    let canonical_root = root
        .canonical_dir
        .as_ref()
        .map_err(|e| FileStatus::Skipped(e.clone()))?;
    let meta = write::check_writable_target(target, canonical_root)
        .map_err(|write::PathRefusal::Unsafe(r)| FileStatus::Skipped(r))?;
    let bytes =
        makguard_scan::read_regular(target).map_err(|e| FileStatus::Failed(format!("cannot read the file: {e}")))?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let rewrite = rewrite_bytes(finding_path, &name, &bytes, change)?;

    if options.dry_run {
        return Ok(FileStatus::DryRun);
    }
    if let Some(suffix) = &options.backup_suffix {
        let suffix = if suffix.is_empty() {
            DEFAULT_BACKUP_SUFFIX
        } else {
            suffix
        };
        let mut backup_name = target.file_name().unwrap_or_default().to_os_string();
        backup_name.push(suffix);
        let backup = target.with_file_name(backup_name);
        if fs::symlink_metadata(&backup).is_ok() {
            return Err(FileStatus::Skipped(format!(
                "the backup {} already exists; move it away or choose another --backup suffix",
                backup.display()
            )));
        }
        write::atomic_write(&backup, &bytes, Some(meta.permissions()))
            .map_err(|e| FileStatus::Failed(write_failure("cannot write the backup", &e)))?;
        change.backup = Some(backup.to_string_lossy().into_owned());
    }
    // The file must not have changed between the read and the rename.
    let current =
        makguard_scan::read_regular(target).map_err(|e| FileStatus::Failed(format!("cannot re-read the file: {e}")))?;
    if current != bytes {
        return Err(FileStatus::Skipped(
            "the file changed while makguard was fixing it; scan again".to_string(),
        ));
    }
    write::atomic_write(target, &rewrite.new_bytes, Some(meta.permissions()))
        .map_err(|e| FileStatus::Failed(write_failure("cannot write the file", &e)))?;
    Ok(FileStatus::Written)
}

/// Why a write failed, and what to do when the image is mounted read-only (the usual cause).
fn write_failure(what: &str, error: &std::io::Error) -> String {
    let read_only = error.kind() == std::io::ErrorKind::ReadOnlyFilesystem;
    if read_only {
        format!(
            "{what}: the file system is read-only ({error}); mount the image writable and run fix again: `wimlib-imagex mountrw WIM INDEX DIR`, DISM /Mount-Image without /ReadOnly, or `mount -o remount,rw DIR`"
        )
    } else if error.kind() == std::io::ErrorKind::PermissionDenied {
        format!("{what}: permission denied ({error}); run fix as a user who may write the image's files")
    } else {
        format!("{what}: {error}")
    }
}

/// The byte ranges where `old` and `new` differ, coalesced; for proving a change log accounts
/// for every byte changed.
pub fn differing_byte_ranges(old: &[u8], new: &[u8]) -> Vec<ByteRange> {
    let mut out: Vec<ByteRange> = Vec::new();
    let common = old.len().min(new.len());
    for i in 0..common {
        if old[i] != new[i] {
            match out.last_mut() {
                Some(last) if last.end == i => last.end = i + 1,
                _ => out.push(ByteRange::new(i, i + 1)),
            }
        }
    }
    if old.len() != new.len() {
        out.push(ByteRange::new(common, old.len().max(new.len())));
    }
    out
}
