//! The scan entry point: walks each path given, finds image roots, decides candidates from
//! directory entries, and searches them in parallel with the scanner for their kind.
//!
//! The walk is safe: it never follows links (a link leaving the tree is an `MG261` note),
//! never opens FIFOs, sockets or devices, and turns any file it cannot read into an `MG901`
//! finding while the scan goes on. Candidates stream to worker threads through a bounded
//! channel, so memory does not grow with the size of the tree.

use std::collections::BTreeMap;

use makguard_core::key::mask_keys_in;
use std::fs::{self, File};
use std::io::{self, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use makguard_core::rules::{FILE_UNREADABLE, KEY_CONFIGURATION_UNREADABLE, LINK_OUTSIDE_ROOT};
use makguard_core::text::decode;
use makguard_core::{Finding, FindingPath, KeyConfigIndex, RootReport, ScanReport};
use thiserror::Error;
use walkdir::{DirEntry, WalkDir};

use crate::keyconfig::{self, KeyConfigError};
use crate::kind::{FileKind, candidate_by_name, refine_by_content, scan_decoded};
use crate::{FileContext, binary, image, unreadable_finding};

/// Skip reasons in [`makguard_core::ScanSummary::skipped`].
pub mod skip_reason {
    pub const NOT_A_CANDIDATE: &str = "not-a-candidate";
    pub const OVER_SIZE_CAP: &str = "over-size-cap";
    pub const SPECIAL_FILE: &str = "special-file";
    pub const SYMLINK: &str = "symlink";
    pub const EXCLUDED: &str = "excluded";
    /// Could not be opened (an `MG901` finding says why).
    pub const UNREADABLE: &str = "unreadable";
}

/// Live counters a caller may read while [`scan_paths`] runs, to show progress.
#[derive(Debug, Default)]
pub struct ScanProgress {
    files_walked: AtomicU64,
    files_searched: AtomicU64,
}

impl ScanProgress {
    /// Files walked and files searched so far.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.files_walked.load(Ordering::Relaxed),
            self.files_searched.load(Ordering::Relaxed),
        )
    }
}

fn count_walked(options: &ScanOptions) {
    if let Some(progress) = &options.progress {
        progress.files_walked.fetch_add(1, Ordering::Relaxed);
    }
}

fn count_searched(options: &ScanOptions, files: u64) {
    if let Some(progress) = &options.progress {
        progress.files_searched.fetch_add(files, Ordering::Relaxed);
    }
}

/// How to scan.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Search every regular file as bytes, not only candidates.
    pub deep: bool,
    /// Text files larger than this are skipped (`over-size-cap`); larger files of a key-bearing
    /// kind (answer file, script, …) are searched as bytes in bounded memory instead.
    pub size_cap: u64,
    /// Worker threads; default: the available parallelism.
    pub jobs: Option<usize>,
    /// Unreadable files do not make the scan incomplete (exit 3).
    pub allow_incomplete: bool,
    /// `--pkeyconfig` files, loaded after each image's own key configuration.
    pub key_config_files: Vec<PathBuf>,
    /// Extra candidates: files whose root-relative path matches one of these are searched as
    /// text even when their name makes them no candidate (e.g. `**/*.pkr.hcl`).
    pub include_globs: Vec<String>,
    /// Files and folders whose root-relative path matches one of these are skipped.
    pub exclude_globs: Vec<String>,
    /// Counters to update for a progress display; this library prints nothing either way.
    pub progress: Option<Arc<ScanProgress>>,
}

/// The default text size cap: 16 MiB.
pub const DEFAULT_SIZE_CAP: u64 = 16 * 1024 * 1024;

impl Default for ScanOptions {
    fn default() -> ScanOptions {
        ScanOptions {
            deep: false,
            size_cap: DEFAULT_SIZE_CAP,
            jobs: None,
            allow_incomplete: false,
            key_config_files: Vec::new(),
            include_globs: Vec::new(),
            exclude_globs: Vec::new(),
            progress: None,
        }
    }
}

/// Why scan options are unusable.
#[derive(Debug, Error)]
pub enum ScanOptionsError {
    #[error("invalid glob pattern '{pattern}': {source}")]
    Glob {
        pattern: String,
        #[source]
        source: globset::Error,
    },
}

impl ScanOptions {
    /// Checks the glob patterns. `scan_paths` ignores a pattern that does not compile, which
    /// only widens the scan; callers should reject such options before scanning.
    pub fn validate(&self) -> Result<(), ScanOptionsError> {
        for pattern in self.include_globs.iter().chain(&self.exclude_globs) {
            build_glob(pattern).map_err(|source| ScanOptionsError::Glob {
                pattern: pattern.clone(),
                source,
            })?;
        }
        Ok(())
    }
}

fn build_glob(pattern: &str) -> Result<globset::Glob, globset::Error> {
    GlobBuilder::new(pattern).case_insensitive(true).build()
}

fn build_glob_set(patterns: &[String]) -> Option<GlobSet> {
    let mut builder = GlobSetBuilder::new();
    let mut any = false;
    for glob in patterns.iter().filter_map(|p| build_glob(p).ok()) {
        builder.add(glob);
        any = true;
    }
    if any { builder.build().ok() } else { None }
}

struct Filters {
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
}

impl Filters {
    fn new(options: &ScanOptions) -> Filters {
        Filters {
            include: build_glob_set(&options.include_globs),
            exclude: build_glob_set(&options.exclude_globs),
        }
    }

    fn excluded(&self, rel: &str) -> bool {
        self.exclude.as_ref().is_some_and(|set| set.is_match(rel))
    }

    fn included(&self, rel: &str) -> bool {
        self.include.as_ref().is_some_and(|set| set.is_match(rel))
    }
}

/// What searching some files produced; merged into the report at the end.
#[derive(Default)]
struct Tally {
    findings: Vec<Finding>,
    searched: Vec<String>,
    files_walked: u64,
    files_scanned: u64,
    bytes_read: u64,
    skipped: BTreeMap<String, u64>,
}

impl Tally {
    fn skip(&mut self, reason: &str) {
        *self.skipped.entry(reason.to_string()).or_default() += 1;
    }

    fn merge(&mut self, other: Tally) {
        self.findings.extend(other.findings);
        self.searched.extend(other.searched);
        self.files_walked += other.files_walked;
        self.files_scanned += other.files_scanned;
        self.bytes_read += other.bytes_read;
        for (reason, count) in other.skipped {
            *self.skipped.entry(reason).or_default() += count;
        }
    }
}

/// `--pkeyconfig` files loaded once for files outside any image root (an image root loads them
/// itself, after its own key configuration), with the findings for files that failed to load.
fn load_extra_key_config(options: &ScanOptions) -> (Option<KeyConfigIndex>, Vec<Finding>) {
    if options.key_config_files.is_empty() {
        return (None, Vec::new());
    }
    let mut index = KeyConfigIndex::default();
    let mut findings = Vec::new();
    for path in &options.key_config_files {
        let display = path.to_string_lossy();
        match keyconfig::load_key_config_file(path, &display) {
            Ok(loaded) => index.extend(loaded),
            Err(error) => {
                let rule = match error {
                    KeyConfigError::Io { .. } => &FILE_UNREADABLE,
                    _ => &KEY_CONFIGURATION_UNREADABLE,
                };
                findings.push(Finding::new(
                    rule,
                    FindingPath::new(display),
                    format!("{error}; keys are classified without this file"),
                ));
            }
        }
    }
    (Some(index), findings)
}

/// Scans every path (a directory tree, an image root, or a single file) and reports what it
/// found. Never panics on any input; unreadable files become `MG901` findings.
pub fn scan_paths(paths: &[PathBuf], options: &ScanOptions) -> ScanReport {
    let mut report = ScanReport {
        allow_incomplete: options.allow_incomplete,
        ..ScanReport::default()
    };
    let filters = Filters::new(options);
    let (extra_key_config, mut extra_key_config_errors) = load_extra_key_config(options);
    let extra_key_config = extra_key_config.as_ref();
    let mut images_scanned = 0usize;
    let jobs = options
        .jobs
        .unwrap_or_else(|| thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    for (root_index, path) in paths.iter().enumerate() {
        let mut root = RootReport {
            path: path.to_string_lossy().into_owned(),
            ..RootReport::default()
        };
        let mut tally = Tally::default();
        match fs::metadata(path) {
            Ok(meta) if meta.is_dir() => {
                let setup = TreeSetup {
                    options,
                    filters: &filters,
                    jobs,
                    fallback_key_config: extra_key_config,
                };
                images_scanned += scan_tree(path, &root.path.clone(), &setup, &mut root, &mut tally);
            }
            Ok(meta) if meta.is_file() => {
                root.is_file = true;
                scan_single_file(path, options, extra_key_config, &mut tally);
            }
            Ok(_) => {
                root.is_file = true;
                tally.skip(skip_reason::SPECIAL_FILE);
            }
            Err(error) => {
                root.is_file = true;
                tally.findings.push(unreadable_finding(&file_name_path(path), &error));
            }
        }
        // Image roots report their own --pkeyconfig problems; otherwise the first root does.
        if images_scanned == 0 && root_index + 1 == paths.len() {
            for mut finding in extra_key_config_errors.drain(..) {
                finding.root = 0;
                report.findings.push(finding);
            }
        }
        for mut finding in tally.findings {
            finding.root = root_index;
            report.findings.push(finding);
        }
        tally.searched.sort();
        tally.searched.dedup();
        root.searched = tally.searched;
        let summary = &mut report.summary;
        summary.files_walked += tally.files_walked;
        summary.files_scanned += tally.files_scanned;
        summary.bytes_read += tally.bytes_read;
        for (reason, count) in tally.skipped {
            *summary.skipped.entry(reason).or_default() += count;
        }
        report.roots.push(root);
    }
    for finding in &mut report.findings {
        mask_quoted_keys(finding);
    }
    report.sort();
    report
}

/// Masks any non-GVLK key quoted in a finding's free text. Scanners build messages from masked
/// keys already; this is the backstop for text quoted from a file (a parser error naming an
/// element, a path) that no scanner thought could hold a key.
fn mask_quoted_keys(finding: &mut Finding) {
    finding.message = mask_keys_in(&finding.message);
    if let Some(remediation) = &mut finding.remediation {
        *remediation = mask_keys_in(remediation);
    }
    if let Some(xml) = &mut finding.xml {
        for field in [&mut xml.pass, &mut xml.component, &mut xml.architecture]
            .into_iter()
            .flatten()
        {
            *field = mask_keys_in(field);
        }
        xml.element_path = mask_keys_in(&xml.element_path);
    }
}

/// A single file given on the command line: searched whatever its name (as text, or as bytes
/// with `--deep` when its name makes it no candidate).
fn scan_single_file(path: &Path, options: &ScanOptions, key_config: Option<&KeyConfigIndex>, tally: &mut Tally) {
    let rel = file_name_path(path);
    tally.files_walked += 1;
    let by_name =
        candidate_by_name(&rel.display).unwrap_or(if options.deep { FileKind::Binary } else { FileKind::Text });
    let mut outcome = search_file(path, &rel, by_name, key_config, options);
    if outcome.files_scanned > 0 && outcome.searched.is_empty() {
        outcome.searched.push(rel.display.clone());
    }
    tally.merge(outcome);
}

fn file_name_path(path: &Path) -> FindingPath {
    match path.file_name() {
        Some(name) => finding_path(&[name]),
        None => FindingPath::new(path.to_string_lossy()),
    }
}

/// A root-relative `/`-separated path, with the raw bytes kept when a name is not valid UTF-8.
fn finding_path(components: &[&std::ffi::OsStr]) -> FindingPath {
    let display = components
        .iter()
        .map(|c| c.to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    let raw_bytes = components.iter().any(|c| c.to_str().is_none()).then(|| {
        components
            .iter()
            .map(|c| c.as_encoded_bytes())
            .collect::<Vec<_>>()
            .join(&b'/')
    });
    FindingPath { display, raw_bytes }
}

fn relative_path(root: &Path, path: &Path) -> FindingPath {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let components: Vec<&std::ffi::OsStr> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name),
            _ => None,
        })
        .collect();
    finding_path(&components)
}

/// An image root found under a scanned directory, with what its registry scan produced.
struct ImageRootContext {
    /// Lower-case root-relative prefix (`""` or `"name/"`).
    prefix_lower: String,
    key_config: KeyConfigIndex,
    /// Files the image scan read (hives, key configuration), root-relative: the walk counts
    /// them as searched, not as `not-a-candidate`.
    files_read: Vec<String>,
    /// Hive logs the image scan already searched as raw bytes: `--deep` would only repeat it.
    logs_searched: Vec<String>,
}

fn has_child_dir(dir: &Path, name: &str) -> Option<PathBuf> {
    fs::read_dir(dir).ok()?.filter_map(Result::ok).find_map(|entry| {
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        (is_dir && entry.file_name().to_string_lossy().eq_ignore_ascii_case(name)).then(|| entry.path())
    })
}

/// True when `dir` holds `Windows/System32` in any case.
pub fn is_image_root(dir: &Path) -> bool {
    has_child_dir(dir, "Windows").is_some_and(|windows| has_child_dir(&windows, "System32").is_some())
}

/// The image roots of a scanned directory: itself, or else its immediate subdirectories (a
/// folder of mounted images). Returned as (absolute path, root-relative prefix).
fn find_image_roots(root: &Path) -> Vec<(PathBuf, FindingPath)> {
    if is_image_root(root) {
        return vec![(root.to_path_buf(), FindingPath::new(""))];
    }
    let Ok(entries) = fs::read_dir(root) else {
        return Vec::new();
    };
    let mut roots: Vec<(PathBuf, FindingPath)> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()) && is_image_root(&entry.path()))
        .map(|entry| {
            let name = entry.file_name();
            let mut prefix = finding_path(&[name.as_os_str()]);
            prefix.display.push('/');
            if let Some(raw) = prefix.raw_bytes.as_mut() {
                raw.push(b'/');
            }
            (entry.path(), prefix)
        })
        .collect();
    roots.sort_by(|a, b| a.1.cmp(&b.1));
    roots
}

fn prefixed(prefix: &FindingPath, path: &FindingPath) -> FindingPath {
    if prefix.display.is_empty() {
        return path.clone();
    }
    let raw_bytes = (prefix.raw_bytes.is_some() || path.raw_bytes.is_some()).then(|| {
        let mut raw = prefix
            .raw_bytes
            .clone()
            .unwrap_or_else(|| prefix.display.as_bytes().to_vec());
        raw.extend_from_slice(path.raw_bytes.as_deref().unwrap_or(path.display.as_bytes()));
        raw
    });
    FindingPath {
        display: format!("{}{}", prefix.display, path.display),
        raw_bytes,
    }
}

/// One candidate handed to a worker.
struct WorkItem {
    path: PathBuf,
    rel: FindingPath,
    by_name: FileKind,
    image: Option<usize>,
}

/// What every tree scan of one `scan_paths` call shares.
struct TreeSetup<'a> {
    options: &'a ScanOptions,
    filters: &'a Filters,
    jobs: usize,
    /// `--pkeyconfig` data for files outside any image root.
    fallback_key_config: Option<&'a KeyConfigIndex>,
}

/// Scans one directory; returns how many image roots it held.
fn scan_tree(
    root: &Path,
    root_display: &str,
    setup: &TreeSetup<'_>,
    report: &mut RootReport,
    tally: &mut Tally,
) -> usize {
    let TreeSetup {
        options,
        filters,
        jobs,
        fallback_key_config,
    } = *setup;
    let mut images = Vec::new();
    for (image_path, prefix) in find_image_roots(root) {
        let display = if prefix.display.is_empty() {
            root_display.to_string()
        } else {
            Path::new(root_display)
                .join(prefix.display.trim_end_matches('/'))
                .to_string_lossy()
                .into_owned()
        };
        let scan = image::scan_image_root(&image_path, &display, &options.key_config_files);
        if report.image.is_none() {
            report.image = Some(scan.info);
        }
        for mut finding in scan.findings {
            finding.path = prefixed(&prefix, &finding.path);
            tally.findings.push(finding);
        }
        let files_read: Vec<String> = scan
            .files_read
            .iter()
            .map(|f| format!("{}{f}", prefix.display))
            .collect();
        tally.searched.extend(files_read.iter().cloned());
        let logs_searched = scan
            .logs_searched
            .iter()
            .map(|f| format!("{}{f}", prefix.display))
            .collect();
        images.push(ImageRootContext {
            prefix_lower: prefix.display.to_lowercase(),
            key_config: scan.key_config,
            files_read,
            logs_searched,
        });
    }

    let (sender, receiver) = sync_channel::<WorkItem>(jobs * 16);
    let receiver = Mutex::new(receiver);
    thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs)
            .map(|_| scope.spawn(|| work(&receiver, options, &images, fallback_key_config)))
            .collect();
        walk(root, options, filters, &images, &sender, tally);
        drop(sender);
        for worker in workers {
            match worker.join() {
                Ok(outcome) => tally.merge(outcome),
                // `work` catches panics per file; a worker that still dies loses nothing
                // silently: the scan is marked incomplete.
                Err(_) => tally.findings.push(Finding::new(
                    &FILE_UNREADABLE,
                    FindingPath::new("."),
                    "A worker thread failed; some files may not have been searched",
                )),
            }
        }
    });
    images.len()
}

/// The image root a root-relative path lies in (the longest matching prefix).
fn image_for(images: &[ImageRootContext], rel_lower: &str) -> Option<usize> {
    images
        .iter()
        .enumerate()
        .filter(|(_, image)| rel_lower.starts_with(&image.prefix_lower))
        .max_by_key(|(_, image)| image.prefix_lower.len())
        .map(|(i, _)| i)
}

fn walk(
    root: &Path,
    options: &ScanOptions,
    filters: &Filters,
    images: &[ImageRootContext],
    sender: &SyncSender<WorkItem>,
    tally: &mut Tally,
) {
    let root_abs = std::path::absolute(root).map_or_else(|_| root.to_path_buf(), |p| lexical_normalize(&p));
    let entries = WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_entry(|entry| {
            entry.depth() == 0
                || filters.exclude.is_none()
                || !entry.file_type().is_dir()
                || !filters.excluded(&relative_path(root, entry.path()).display)
        });
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                let rel = error
                    .path()
                    .map_or_else(|| FindingPath::new("."), |p| relative_path(root, p));
                let io_error = error.io_error().map_or_else(
                    || io::Error::other(error.to_string()),
                    |e| io::Error::new(e.kind(), e.to_string()),
                );
                tally.findings.push(unreadable_finding(&rel, &io_error));
                continue;
            }
        };
        tally.findings.extend(crate::path_keys::keys_in_path(
            &relative_path(root, entry.path()).display,
        ));
        let file_type = entry.file_type();
        if file_type.is_dir() {
            continue;
        }
        let rel = relative_path(root, entry.path());
        // Every entry that is not a folder counts as walked, so that walked = searched + skipped.
        tally.files_walked += 1;
        count_walked(options);
        if file_type.is_symlink() {
            tally.skip(skip_reason::SYMLINK);
            if let Some(finding) = link_outside_finding(&root_abs, &entry, &rel) {
                tally.findings.push(finding);
            }
            continue;
        }
        if !file_type.is_file() {
            tally.skip(skip_reason::SPECIAL_FILE);
            continue;
        }
        if filters.excluded(&rel.display) {
            tally.skip(skip_reason::EXCLUDED);
            continue;
        }
        if images.iter().any(|image| {
            image.files_read.contains(&rel.display) && (!options.deep || image.logs_searched.contains(&rel.display))
        }) {
            // Read by the image scan already (the registry hive, the key configuration).
            tally.files_scanned += 1;
            tally.bytes_read += entry.metadata().map_or(0, |m| m.len());
            continue;
        }
        let by_name = match candidate_by_name(&rel.display) {
            Some(kind) => kind,
            None if filters.included(&rel.display) => FileKind::Text,
            None if options.deep => FileKind::Binary,
            _ => {
                tally.skip(skip_reason::NOT_A_CANDIDATE);
                continue;
            }
        };
        let image = image_for(images, &rel.display.to_lowercase());
        let item = WorkItem {
            path: entry.into_path(),
            rel,
            by_name,
            image,
        };
        if sender.send(item).is_err() {
            // Every worker is gone (they only stop early by dying); joining them reports it.
            break;
        }
    }
}

/// An `MG261` note when the link at `entry` points outside the scanned tree.
fn link_outside_finding(root_abs: &Path, entry: &DirEntry, rel: &FindingPath) -> Option<Finding> {
    let target = fs::read_link(entry.path()).ok()?;
    let resolved = if target.is_absolute() {
        target.clone()
    } else {
        let parent = entry.path().parent().unwrap_or(Path::new(""));
        std::path::absolute(parent.join(&target)).ok()?
    };
    if lexical_normalize(&resolved).starts_with(root_abs) {
        return None;
    }
    Some(Finding::new(
        &LINK_OUTSIDE_ROOT,
        rel.clone(),
        format!(
            "The link points outside the scanned tree (to {}) and was not followed",
            target.to_string_lossy()
        ),
    ))
}

/// Resolves `.` and `..` without touching the file system (links are never followed).
fn lexical_normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn work(
    receiver: &Mutex<Receiver<WorkItem>>,
    options: &ScanOptions,
    images: &[ImageRootContext],
    fallback_key_config: Option<&KeyConfigIndex>,
) -> Tally {
    let mut tally = Tally::default();
    loop {
        let item = match receiver.lock() {
            Ok(guard) => guard.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        let Ok(item) = item else {
            break;
        };
        let key_config = match item.image.and_then(|i| images.get(i)) {
            Some(image) => Some(&image.key_config),
            None => fallback_key_config,
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            search_file(&item.path, &item.rel, item.by_name, key_config, options)
        }));
        match outcome {
            Ok(outcome) => {
                count_searched(options, outcome.files_scanned);
                tally.merge(outcome);
            }
            Err(_) => tally.findings.push(unreadable_finding(
                &item.rel,
                &io::Error::other("internal error while searching the file"),
            )),
        }
    }
    tally
}

/// Opens and searches one candidate. Only regular files reach here; the open is checked
/// again so a file swapped for something else mid-scan is not read.
fn search_file(
    path: &Path,
    rel: &FindingPath,
    by_name: FileKind,
    key_config: Option<&KeyConfigIndex>,
    options: &ScanOptions,
) -> Tally {
    let mut tally = Tally::default();
    let ctx = FileContext { path: rel, key_config };
    let file = match File::open(path) {
        Ok(file) => file,
        Err(error) => {
            tally.skip(skip_reason::UNREADABLE);
            tally.findings.push(unreadable_finding(rel, &error));
            return tally;
        }
    };
    let size = match file.metadata() {
        Ok(meta) if meta.is_file() => meta.len(),
        Ok(_) => {
            tally.skip(skip_reason::SPECIAL_FILE);
            return tally;
        }
        Err(error) => {
            tally.skip(skip_reason::UNREADABLE);
            tally.findings.push(unreadable_finding(rel, &error));
            return tally;
        }
    };
    let as_bytes =
        by_name == FileKind::Binary || (size > options.size_cap && (options.deep || by_name.is_strong_candidate()));
    if !as_bytes && size > options.size_cap {
        tally.skip(skip_reason::OVER_SIZE_CAP);
        return tally;
    }
    tally.files_scanned += 1;
    // Only candidates are listed: with --deep every file is searched, and a list of them all
    // would grow with the tree.
    if by_name != FileKind::Binary {
        tally.searched.push(rel.display.clone());
    }
    if as_bytes {
        let mut counted = CountingReader { inner: file, count: 0 };
        if let Err(error) = binary::scan_reader_sized(&mut counted, &ctx, &mut tally.findings, size) {
            tally.findings.push(unreadable_finding(rel, &error));
        }
        tally.bytes_read += counted.count;
        return tally;
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    // Read at most one byte past the cap: a file that grew since the stat is still bounded.
    if let Err(error) = file.take(options.size_cap.saturating_add(1)).read_to_end(&mut bytes) {
        tally.bytes_read += bytes.len() as u64;
        tally.findings.push(unreadable_finding(rel, &error));
        return tally;
    }
    tally.bytes_read += bytes.len() as u64;
    let decoded = decode(&bytes);
    drop(bytes);
    let kind = refine_by_content(by_name, &decoded);
    tally.findings.extend(scan_decoded(kind, &decoded, &ctx));
    tally
}

struct CountingReader<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_normalize_resolves_parents() {
        assert_eq!(lexical_normalize(Path::new("/a/b/../c/./d")), PathBuf::from("/a/c/d"));
        assert_eq!(lexical_normalize(Path::new("/a/../../x")), PathBuf::from("/x"));
    }

    #[test]
    fn invalid_globs_are_reported_by_validate() {
        let options = ScanOptions {
            exclude_globs: vec!["a/[".to_string()],
            ..ScanOptions::default()
        };
        assert!(options.validate().is_err());
        assert!(ScanOptions::default().validate().is_ok());
    }

    #[test]
    fn prefixes_keep_raw_bytes() {
        let prefix = FindingPath::new("img/");
        let path = FindingPath {
            display: "a\u{FFFD}.xml".into(),
            raw_bytes: Some(b"a\xff.xml".to_vec()),
        };
        let joined = prefixed(&prefix, &path);
        assert_eq!(joined.display, "img/a\u{FFFD}.xml");
        assert_eq!(joined.raw_bytes.as_deref(), Some(b"img/a\xff.xml".as_slice()));
    }
}
