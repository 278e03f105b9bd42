//! The scan entry point: for each path given, one walk over an [`ImageSource`] (a mounted tree
//! today), one image discovery, one candidate decision per file, and the per-kind scanners in
//! parallel.
//!
//! The walk is safe: it never follows links (a link leaving the tree is an `MG261` note; one
//! where makguard must read is an `MG906` error), never opens FIFOs, sockets or devices, and
//! turns any file it cannot read into an `MG9xx` finding while the scan goes on. Files stream to
//! worker threads through a bounded channel, so memory does not grow with the size of the tree.
//!
//! What is read: every regular file except those whose extension says they are binary
//! ([`sniff::BINARY_EXTENSIONS`], opened only when large, to catch a renamed container) or an
//! ordinary archive ([`sniff::ARCHIVE_EXTENSIONS`]). Each opened file's first bytes decide what
//! it is ([`sniff`]): a container is an `MG905` error, an archive or other binary data is left
//! to `--deep`, and text of any name is searched to its end.

use std::collections::BTreeMap;

use makguard_core::key::mask_keys_in;
use std::fs;
use std::io::{self, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use makguard_core::rules::{CONTAINER_NOT_OPENED, FILE_UNREADABLE, LINK_OUTSIDE_ROOT, NOT_A_REGULAR_FILE};
use makguard_core::text::{TextEncoding, decode};
use makguard_core::{Detail, Finding, FindingPath, KeyConfigIndex, RootReport, ScanReport};
use thiserror::Error;

use crate::fs_source::FsSource;
use crate::keyconfig;
use crate::kind::{FileKind, candidate_by_name, refine_by_content, scan_decoded};
use crate::sniff::{self, ContainerKind, NameClass};
use crate::source::{Entry, EntryType, ImageSource, Resolved, SourceError, SourcePath, resolve_case_insensitive};
use crate::{FileContext, binary, image, textfile, unreadable_finding};

#[path = "wim_scan.rs"]
mod wim_scan;

/// Why a file was not searched: the keys of [`makguard_core::ScanSummary::skipped`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SkipReason {
    /// Recognisably binary (by extension or content): searched only with `--deep`.
    NotACandidate,
    /// An ordinary archive (`.cab .zip .msi .msp .7z`, or by magic): not opened; `--deep`
    /// searches its raw bytes.
    ArchiveNotOpened,
    /// A disk or image container (an `MG905` finding says what and how to scan it).
    ContainerNotOpened,
    SpecialFile,
    Symlink,
    Excluded,
    /// Could not be opened (an `MG901` finding says why).
    Unreadable,
}

impl SkipReason {
    /// The reason as the JSON summary and the text report spell it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SkipReason::NotACandidate => "not-a-candidate",
            SkipReason::ArchiveNotOpened => "archive-not-opened",
            SkipReason::ContainerNotOpened => "container-not-opened",
            SkipReason::SpecialFile => "special-file",
            SkipReason::Symlink => "symlink",
            SkipReason::Excluded => "excluded",
            SkipReason::Unreadable => "unreadable",
        }
    }
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
    /// Also search binary files (by extension or content) and archives as bytes.
    pub deep: bool,
    /// Text files up to this size are read whole and parsed by their kind's scanner; larger
    /// ones are still searched to the end, in bounded memory: other text with the text rule in
    /// overlapping steps, key-bearing kinds (answer file, script, …) as bytes.
    pub size_cap: u64,
    /// Worker threads; default: the available parallelism.
    pub jobs: Option<usize>,
    /// Unreadable files do not make the scan incomplete (exit 3).
    pub allow_incomplete: bool,
    /// `--pkeyconfig` files, loaded after each image's own key configuration.
    pub key_config_files: Vec<PathBuf>,
    /// Files whose root-relative path matches one of these are searched as text even when
    /// their name or content says they are binary.
    pub include_globs: Vec<String>,
    /// Files and folders whose root-relative path matches one of these are skipped.
    pub exclude_globs: Vec<String>,
    /// Counters to update for a progress display; this library prints nothing either way.
    pub progress: Option<Arc<ScanProgress>>,
    /// Records which of `include_globs`/`exclude_globs` matched a path, so a caller can warn
    /// about a pattern that matched nothing.
    pub glob_hits: Option<Arc<GlobHits>>,
    /// `--index`: which images of a WIM file named on the command line to scan (1-based;
    /// empty: every image). WIMs found inside a tree are always scanned whole.
    pub wim_indexes: Vec<u32>,
    /// How many WIMs deep the current scan is (0 at the top); nested WIMs stop at a fixed depth.
    #[doc(hidden)]
    pub wim_depth: usize,
    /// The benchmark's floor: walk, decide and read every byte a scan would read, but run no
    /// scanner (no findings from file contents). Never set by the command line.
    pub read_only: bool,
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
            glob_hits: None,
            wim_indexes: Vec::new(),
            wim_depth: 0,
            read_only: false,
        }
    }
}

/// Why scan options are unusable.
#[derive(Debug, Error)]
pub enum ScanOptionsError {
    /// An include or exclude glob does not compile.
    #[error("invalid glob pattern '{pattern}': {source}")]
    Glob {
        /// The pattern as the options hold it.
        pattern: String,
        /// What the glob compiler objected to.
        #[source]
        source: globset::Error,
    },
}

impl ScanOptions {
    /// Checks the glob patterns. `scan_paths` ignores a pattern that does not compile, which
    /// only widens the scan; callers should reject such options before scanning.
    ///
    /// # Errors
    ///
    /// [`ScanOptionsError::Glob`] for the first include or exclude pattern that does not
    /// compile.
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

/// The `include_globs`/`exclude_globs` patterns that matched at least one path in a scan.
#[derive(Debug, Default)]
pub struct GlobHits {
    matched: Mutex<std::collections::BTreeSet<String>>,
}

impl GlobHits {
    /// True when `pattern` (as given in the options) matched some file or folder.
    pub fn matched(&self, pattern: &str) -> bool {
        self.matched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(pattern)
    }

    fn record(&self, pattern: &str) {
        let mut matched = self.matched.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !matched.contains(pattern) {
            matched.insert(pattern.to_string());
        }
    }
}

/// A compiled pattern list that remembers, for [`GlobHits`], which pattern each glob came from.
struct PatternSet {
    set: GlobSet,
    patterns: Vec<String>,
}

fn build_glob_set(patterns: &[String]) -> Option<PatternSet> {
    let mut builder = GlobSetBuilder::new();
    let mut compiled = Vec::new();
    for (pattern, glob) in patterns.iter().filter_map(|p| Some((p, build_glob(p).ok()?))) {
        builder.add(glob);
        compiled.push(pattern.clone());
    }
    if compiled.is_empty() {
        return None;
    }
    Some(PatternSet {
        set: builder.build().ok()?,
        patterns: compiled,
    })
}

struct Filters {
    include: Option<PatternSet>,
    exclude: Option<PatternSet>,
    hits: Option<Arc<GlobHits>>,
}

impl Filters {
    fn new(options: &ScanOptions) -> Filters {
        Filters {
            include: build_glob_set(&options.include_globs),
            exclude: build_glob_set(&options.exclude_globs),
            hits: options.glob_hits.clone(),
        }
    }

    fn matches(&self, patterns: Option<&PatternSet>, rel: &str) -> bool {
        let Some(patterns) = patterns else { return false };
        if !patterns.set.is_match(rel) {
            return false;
        }
        if let Some(hits) = &self.hits {
            for index in patterns.set.matches(rel) {
                hits.record(&patterns.patterns[index]);
            }
        }
        true
    }

    fn excluded(&self, rel: &str) -> bool {
        self.matches(self.exclude.as_ref(), rel)
    }

    fn included(&self, rel: &str) -> bool {
        self.matches(self.include.as_ref(), rel)
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
    fn skip(&mut self, reason: SkipReason) {
        *self.skipped.entry(reason.as_str().to_string()).or_default() += 1;
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
            Err(error) => findings.push(error.finding(&display)),
        }
    }
    (Some(index), findings)
}

/// Scans every path (a directory tree, an image root, or a single file) and reports what it
/// found. Never panics on any input; unreadable files become `MG9xx` findings.
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
        .unwrap_or_else(|| thread::available_parallelism().map_or(1, std::num::NonZero::get))
        .max(1);
    let setup = TreeSetup {
        options,
        filters: &filters,
        jobs,
        fallback_key_config: extra_key_config,
    };
    for (path_index, path) in paths.iter().enumerate() {
        let display = path.to_string_lossy().into_owned();
        let roots = scan_one_path(path, &display, &setup, &mut images_scanned);
        // Image roots report their own --pkeyconfig problems; otherwise the first root does.
        let first_root = report.roots.len();
        if images_scanned == 0 && path_index + 1 == paths.len() {
            for mut finding in extra_key_config_errors.drain(..) {
                finding.location.root = 0;
                report.findings.push(finding);
            }
        }
        for (offset, (mut root, mut tally)) in roots.into_iter().enumerate() {
            for mut finding in tally.findings {
                finding.location.root = first_root + offset;
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
    }
    for finding in &mut report.findings {
        mask_quoted_keys(finding);
    }
    report.sort();
    report
}

/// Scans one file held in memory (standard input, for `makguard scan -`) as a single file
/// named `name` on the command line: its kind follows the name's last component, else its
/// content. The report's one root is `name`.
pub fn scan_memory_file(name: &str, bytes: Vec<u8>, options: &ScanOptions) -> ScanReport {
    let mut report = ScanReport {
        allow_incomplete: options.allow_incomplete,
        ..ScanReport::default()
    };
    let (key_config, key_config_errors) = load_extra_key_config(options);
    let file_name = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let mut tally = Tally::default();
    let source = crate::memory_source::MemoryFile::new(file_name, bytes);
    scan_single_source(
        &source,
        FindingPath::new(file_name),
        options,
        key_config.as_ref(),
        &mut tally,
    );
    report.findings.extend(key_config_errors);
    report.findings.extend(tally.findings);
    report.summary.files_walked = tally.files_walked;
    report.summary.files_scanned = tally.files_scanned;
    report.summary.bytes_read = tally.bytes_read;
    report.summary.skipped = tally.skipped.into_iter().collect();
    report.roots.push(RootReport {
        path: name.to_string(),
        searched: tally.searched,
        is_file: true,
        ..RootReport::default()
    });
    for finding in &mut report.findings {
        mask_quoted_keys(finding);
    }
    report.sort();
    report
}

/// The roots one command-line path makes: a directory or a single file is one root, a WIM
/// file one root per image.
fn scan_one_path(
    path: &Path,
    display: &str,
    setup: &TreeSetup<'_>,
    images_scanned: &mut usize,
) -> Vec<(RootReport, Tally)> {
    let mut root = RootReport {
        path: display.to_string(),
        ..RootReport::default()
    };
    let mut tally = Tally::default();
    // A path given on the command line is followed if it is a link: the user named it.
    match fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {
            let source = FsSource::new(path);
            *images_scanned += scan_tree(&source, display, setup, &mut root, &mut tally);
        }
        Ok(meta) if meta.is_file() && wim_scan::is_wim_file(path) => {
            let roots = wim_scan::scan_wim_file_roots(path, display, setup);
            *images_scanned += roots.iter().filter(|(root, _)| root.image.is_some()).count();
            return roots;
        }
        Ok(meta) if meta.is_file() => {
            root.is_file = true;
            scan_single_file(path, setup.options, setup.fallback_key_config, &mut tally);
        }
        Ok(_) => {
            root.is_file = true;
            tally.files_walked += 1;
            tally.skip(SkipReason::SpecialFile);
            tally
                .findings
                .push(not_regular_finding(&file_name_path(path), EntryType::Special));
        }
        Err(error) => {
            root.is_file = true;
            tally.findings.push(unreadable_finding(&file_name_path(path), &error));
        }
    }
    vec![(root, tally)]
}

/// Masks any non-GVLK key quoted in a finding's free text. Scanners build messages from masked
/// keys already; this is the backstop for text quoted from a file (a parser error naming an
/// element, a path) that no scanner thought could hold a key.
fn mask_quoted_keys(finding: &mut Finding) {
    finding.message = mask_keys_in(&finding.message);
    for text in finding.detail.texts_mut() {
        *text = mask_keys_in(text);
    }
}

/// A single file given on the command line: searched whatever its name, by its content (as
/// text, or as bytes when it is binary); a container is an `MG905` error.
fn scan_single_file(path: &Path, options: &ScanOptions, key_config: Option<&KeyConfigIndex>, tally: &mut Tally) {
    scan_single_source(&FsSource::new(path), file_name_path(path), options, key_config, tally);
}

/// The one file at the root of `source`, named `rel` in findings, searched as
/// [`scan_single_file`] searches a file named on the command line.
fn scan_single_source(
    source: &dyn ImageSource,
    rel: FindingPath,
    options: &ScanOptions,
    key_config: Option<&KeyConfigIndex>,
    tally: &mut Tally,
) {
    tally.files_walked += 1;
    let item = WorkItem {
        path: SourcePath::root(),
        rel,
        size: 0,
        image: None,
        forced_text: false,
        explicit: true,
    };
    let mut outcome = search_entry(source, &item, key_config, options);
    if outcome.files_scanned > 0 && outcome.searched.is_empty() {
        outcome.searched.push(item.rel.display.clone());
    }
    tally.merge(outcome);
}

fn file_name_path(path: &Path) -> FindingPath {
    match path.file_name() {
        Some(name) => SourcePath::from_names([name]).finding_path(),
        None => FindingPath::new(path.to_string_lossy()),
    }
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

/// True when `dir` of `source` holds `Windows/System32` in any case. A link or special file in
/// place of `Windows` or `System32` still makes an image root: the image scan then reports
/// that what it must read is not there to read.
pub(crate) fn is_image_root_in(source: &dyn ImageSource, dir: &SourcePath) -> bool {
    match resolve_case_insensitive(source, dir, &["Windows", "System32"]) {
        Resolved::Found(_) => true,
        Resolved::Blocked { entry_type, .. } => entry_type != EntryType::File,
        Resolved::Missing | Resolved::Unreadable { .. } => false,
    }
}

/// The image roots of a scanned source: its root, or else its immediate subdirectories (a
/// folder of mounted images), sorted by name.
pub(crate) fn find_image_roots(source: &dyn ImageSource) -> Vec<SourcePath> {
    let root = SourcePath::root();
    if is_image_root_in(source, &root) {
        return vec![root];
    }
    let Ok(entries) = source.list(&root) else {
        return Vec::new();
    };
    let mut roots: Vec<SourcePath> = entries
        .into_iter()
        .filter(|entry| entry.entry_type == EntryType::Dir)
        .map(|entry| root.join(entry.name))
        .filter(|dir| is_image_root_in(source, dir))
        .collect();
    roots.sort();
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

/// One file handed to a worker.
struct WorkItem {
    path: SourcePath,
    rel: FindingPath,
    /// Size as listed (0 when unknown); the open file's size decides how it is read.
    size: u64,
    image: Option<usize>,
    /// Matched an include glob: searched as text whatever its content.
    forced_text: bool,
    /// Named on the command line: opened and searched whatever its name.
    explicit: bool,
}

/// What every tree scan of one `scan_paths` call shares.
#[derive(Clone, Copy)]
struct TreeSetup<'a> {
    options: &'a ScanOptions,
    filters: &'a Filters,
    jobs: usize,
    /// `--pkeyconfig` data for files outside any image root.
    fallback_key_config: Option<&'a KeyConfigIndex>,
}

/// Scans one source; returns how many image roots it held.
fn scan_tree(
    source: &dyn ImageSource,
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
    for image_root in find_image_roots(source) {
        let mut prefix = image_root.finding_path();
        let display = if prefix.display.is_empty() {
            root_display.to_string()
        } else {
            Path::new(root_display)
                .join(&prefix.display)
                .to_string_lossy()
                .into_owned()
        };
        if !prefix.display.is_empty() {
            prefix.display.push('/');
            if let Some(raw) = prefix.raw_bytes.as_mut() {
                raw.push(b'/');
            }
        }
        let scan = image::scan_image_source(source, &image_root, &display, &options.key_config_files);
        if report.image.is_none() {
            report.image = Some(scan.info);
        }
        for mut finding in scan.findings {
            finding.location.path = prefixed(&prefix, &finding.location.path);
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

    let (sender, receiver) = sync_channel::<Vec<WorkItem>>(jobs * 4);
    let receiver = Mutex::new(receiver);
    thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs)
            .map(|_| scope.spawn(|| work(source, &receiver, options, &images, fallback_key_config)))
            .collect();
        walk(source, options, filters, &images, &sender, tally);
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

/// True where makguard must read a file: a link or special file here is an `MG906` error, not a
/// note (answer files Setup reads, scripts, deployment ini files, Office configurations).
fn must_read(rel: &str) -> bool {
    candidate_by_name(rel).is_some_and(FileKind::is_strong_candidate)
}

/// Files handed to a worker at once: one channel hand-off per file made the two threads
/// spend more time waking each other than reading (futex calls were a sixth of a scan's
/// samples on a 164,000-file tree).
const WORK_BATCH: usize = 32;

/// Walks `source` depth-first, never following links, and hands every regular file to the
/// workers, in batches of [`WORK_BATCH`].
fn walk(
    source: &dyn ImageSource,
    options: &ScanOptions,
    filters: &Filters,
    images: &[ImageRootContext],
    sender: &SyncSender<Vec<WorkItem>>,
    tally: &mut Tally,
) {
    let mut batch = Vec::with_capacity(WORK_BATCH);
    let mut folders = vec![SourcePath::root()];
    while let Some(folder) = folders.pop() {
        let mut entries = match source.list(&folder) {
            Ok(entries) => entries,
            Err(error) => {
                let mut rel = folder.finding_path();
                if rel.display.is_empty() {
                    rel.display.push('.');
                }
                tally.findings.push(source_error_finding(&rel, &error));
                continue;
            }
        };
        // Reverse order onto the stack, so folders are visited in name order.
        entries.sort_by(|a, b| b.name.cmp(&a.name));
        for entry in entries {
            let path = folder.join(entry.name.clone());
            let rel = path.finding_path();
            // A key in a file or folder name leaks with the image like one in a file.
            tally.findings.extend(crate::path_keys::keys_in_path(&rel.display));
            if entry.entry_type == EntryType::Dir {
                if !filters.excluded(&rel.display) {
                    folders.push(path);
                }
                continue;
            }
            let Some(item) = visit_file(source, &entry, path, rel, options, filters, images, tally) else {
                continue;
            };
            batch.push(item);
            if batch.len() == WORK_BATCH && sender.send(std::mem::take(&mut batch)).is_err() {
                // Every worker is gone (they only stop early by dying); joining them reports it.
                return;
            }
        }
    }
    if !batch.is_empty() {
        // As above: a send fails only when every worker is gone, which joining them reports.
        let _ = sender.send(batch);
    }
}

/// Counts one entry that is not a folder and decides what becomes of it: `Some` to search it.
#[allow(clippy::too_many_arguments)]
fn visit_file(
    source: &dyn ImageSource,
    entry: &Entry,
    path: SourcePath,
    rel: FindingPath,
    options: &ScanOptions,
    filters: &Filters,
    images: &[ImageRootContext],
    tally: &mut Tally,
) -> Option<WorkItem> {
    // Every entry that is not a folder counts as walked, so that walked = searched + skipped.
    tally.files_walked += 1;
    count_walked(options);
    match entry.entry_type {
        EntryType::Link => {
            tally.skip(SkipReason::Symlink);
            if must_read(&rel.display) {
                tally.findings.push(not_regular_finding(&rel, EntryType::Link));
            } else if let Some(target) = source.link_leaves_source(&path) {
                tally.findings.push(Finding::new(
                    &LINK_OUTSIDE_ROOT,
                    rel,
                    format!("The link points outside the scanned tree (to {target}) and was not followed"),
                ));
            }
            return None;
        }
        EntryType::Special => {
            tally.skip(SkipReason::SpecialFile);
            if must_read(&rel.display) {
                tally.findings.push(not_regular_finding(&rel, EntryType::Special));
            }
            return None;
        }
        EntryType::File | EntryType::Dir => {}
    }
    if filters.excluded(&rel.display) {
        tally.skip(SkipReason::Excluded);
        return None;
    }
    if images.iter().any(|image| {
        image.files_read.contains(&rel.display) && (!options.deep || image.logs_searched.contains(&rel.display))
    }) {
        // Read by the image scan already (the registry hive, the key configuration, hive logs).
        tally.files_scanned += 1;
        tally.bytes_read += entry.size;
        return None;
    }
    let image = image_for(images, &rel.display.to_lowercase());
    let forced_text = filters.included(&rel.display);
    Some(WorkItem {
        path,
        rel,
        size: entry.size,
        image,
        forced_text,
        explicit: false,
    })
}

fn work(
    source: &dyn ImageSource,
    receiver: &Mutex<Receiver<Vec<WorkItem>>>,
    options: &ScanOptions,
    images: &[ImageRootContext],
    fallback_key_config: Option<&KeyConfigIndex>,
) -> Tally {
    let mut tally = Tally::default();
    loop {
        let batch = match receiver.lock() {
            Ok(guard) => guard.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        let Ok(batch) = batch else {
            break;
        };
        for item in batch {
            search_item(source, &item, options, images, fallback_key_config, &mut tally);
        }
    }
    tally
}

/// Searches one file for a worker, a panic included: it becomes an `MG901` for that file.
fn search_item(
    source: &dyn ImageSource,
    item: &WorkItem,
    options: &ScanOptions,
    images: &[ImageRootContext],
    fallback_key_config: Option<&KeyConfigIndex>,
    tally: &mut Tally,
) {
    let key_config = match item.image.and_then(|i| images.get(i)) {
        Some(image) => Some(&image.key_config),
        None => fallback_key_config,
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| search_entry(source, item, key_config, options)));
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

/// The finding for a path the source could not read.
fn source_error_finding(rel: &FindingPath, error: &SourceError) -> Finding {
    match error {
        SourceError::NotRegular(entry_type) => not_regular_finding(rel, *entry_type),
        SourceError::Io(error) => unreadable_finding(rel, error),
        SourceError::Corrupt(_) => unreadable_finding(rel, &io::Error::other(error.to_string())),
    }
}

/// An `MG906` finding: a link or special file where makguard must read a file.
pub(crate) fn not_regular_finding(rel: &FindingPath, entry_type: EntryType) -> Finding {
    Finding::new(
        &NOT_A_REGULAR_FILE,
        rel.clone(),
        format!(
            "This is {}, where makguard must read a file; it was neither opened nor followed, so what \
Windows would read here was not checked",
            entry_type.describe()
        ),
    )
}

/// An `MG905` finding: a container makguard cannot look inside yet.
fn container_finding(rel: &FindingPath, kind: ContainerKind) -> Finding {
    let mut finding = Finding::new(
        &CONTAINER_NOT_OPENED,
        rel.clone(),
        format!(
            "This is {} (recognised by its content); makguard cannot look inside it yet, so nothing in it was scanned",
            kind.describe()
        ),
    );
    finding.detail = Detail::Remediation(format!("To scan it today, {}.", kind.how_to_scan()));
    finding
}

/// Reads from `reader` into `buf` until it holds `want` bytes or the file ends.
fn fill_to(reader: &mut impl Read, buf: &mut Vec<u8>, want: usize) -> io::Result<()> {
    let missing = want.saturating_sub(buf.len()) as u64;
    reader.take(missing).read_to_end(buf).map(drop)
}

/// The last 512 bytes of a large file whose size is a whole number of sectors (where a fixed
/// VHD keeps its only footer), read through random access.
fn vhd_footer(source: &dyn ImageSource, path: &SourcePath, len: u64) -> Option<Vec<u8>> {
    if len < 64 * 1024 || !len.is_multiple_of(sniff::VHD_FOOTER_LEN) {
        return None;
    }
    let file = source.open_random(path).ok()?;
    let mut footer = vec![0u8; sniff::VHD_FOOTER_LEN as usize];
    let read = file.read_at(len - sniff::VHD_FOOTER_LEN, &mut footer).ok()?;
    footer.truncate(read);
    Some(footer)
}

/// Opens one file and searches it by what its content is: a container is an `MG905` error, an
/// archive or other binary data is left to `--deep`, and text of any name is searched by the
/// scanner its name or content selects, in bounded memory whatever its size.
fn search_entry(
    source: &dyn ImageSource,
    item: &WorkItem,
    key_config: Option<&KeyConfigIndex>,
    options: &ScanOptions,
) -> Tally {
    let mut tally = Tally::default();
    let rel = &item.rel;
    let by_name = candidate_by_name(&rel.display);
    let name_class = match by_name {
        Some(_) => NameClass::Unknown,
        None if item.forced_text || item.explicit => NameClass::Unknown,
        None => sniff::class_by_name(&rel.display.rsplit('/').next().unwrap_or("").to_lowercase()),
    };
    if !options.deep {
        match name_class {
            NameClass::Archive => {
                tally.skip(SkipReason::ArchiveNotOpened);
                return tally;
            }
            NameClass::Binary if item.size < sniff::BINARY_EXTENSION_SNIFF_MIN => {
                tally.skip(SkipReason::NotACandidate);
                return tally;
            }
            _ => {}
        }
    }
    let opened = match source.open(&item.path) {
        Ok(opened) => opened,
        Err(error) => {
            tally.skip(SkipReason::Unreadable);
            tally.findings.push(source_error_finding(rel, &error));
            return tally;
        }
    };
    let len = opened.len;
    let mut reader = CountingReader {
        inner: opened.reader,
        count: 0,
    };
    let outcome = search_opened(source, item, &mut reader, len, by_name, name_class, key_config, options);
    tally.merge(outcome);
    tally.bytes_read += reader.count;
    tally
}

#[allow(clippy::too_many_arguments)]
fn search_opened(
    source: &dyn ImageSource,
    item: &WorkItem,
    reader: &mut CountingReader<Box<dyn Read + Send>>,
    len: u64,
    by_name: Option<FileKind>,
    name_class: NameClass,
    key_config: Option<&KeyConfigIndex>,
    options: &ScanOptions,
) -> Tally {
    let mut tally = Tally::default();
    let rel = &item.rel;
    let ctx = FileContext { path: rel, key_config };
    let unreadable = |mut tally: Tally, error: &io::Error| {
        tally.skip(SkipReason::Unreadable);
        tally.findings.push(unreadable_finding(rel, error));
        tally
    };
    let mut head = Vec::with_capacity(sniff::BINARY_PROBE_LEN);
    if let Err(error) = fill_to(reader, &mut head, sniff::BINARY_PROBE_LEN) {
        return unreadable(tally, &error);
    }
    let binary_content = sniff::looks_binary(&head);
    // Only binary data can be a disc image (its first 32 KiB are a system area).
    if binary_content
        && head.len() == sniff::BINARY_PROBE_LEN
        && let Err(error) = fill_to(reader, &mut head, sniff::HEAD_LEN)
    {
        return unreadable(tally, &error);
    }
    let footer = if binary_content {
        vhd_footer(source, &item.path, len)
    } else {
        None
    };
    tally.bytes_read += footer.as_ref().map_or(0, |f| f.len() as u64);
    let container = sniff::detect_container(&head, footer.as_deref());
    if container == Some(ContainerKind::Wim) {
        return search_nested_wim(tally, source, item, key_config, options);
    }
    if let Some(kind) = container {
        tally.findings.push(container_finding(rel, kind));
        if !options.deep {
            tally.skip(SkipReason::ContainerNotOpened);
            return tally;
        }
    }
    let archive = sniff::detect_archive(&head);
    let binary = container.is_some()
        || archive.is_some()
        || name_class == NameClass::Binary
        || (binary_content && !item.forced_text && by_name.is_none());
    if binary {
        if !options.deep && !item.explicit {
            tally.skip(match archive {
                Some(_) => SkipReason::ArchiveNotOpened,
                None => SkipReason::NotACandidate,
            });
            return tally;
        }
        tally.files_scanned += 1;
        if options.read_only {
            return read_to_end_only(tally, reader, rel);
        }
        let mut rest = io::Cursor::new(head).chain(reader);
        if let Err(error) = binary::scan_reader_sized(&mut rest, &ctx, &mut tally.findings, len) {
            tally.findings.push(unreadable_finding(rel, &error));
        }
        return tally;
    }
    search_text(
        tally,
        by_name.unwrap_or(FileKind::Text),
        head,
        reader,
        len,
        &ctx,
        options,
    )
}

/// A WIM inside the scan is read, not refused: every image, in place.
fn search_nested_wim(
    mut tally: Tally,
    source: &dyn ImageSource,
    item: &WorkItem,
    key_config: Option<&KeyConfigIndex>,
    options: &ScanOptions,
) -> Tally {
    let rel = &item.rel;
    tally.files_scanned += 1;
    tally.searched.push(rel.display.clone());
    let nested = match source.open_random(&item.path) {
        Ok(reader) => {
            let filters = Filters::new(options);
            let setup = TreeSetup {
                options,
                filters: &filters,
                jobs: 1,
                fallback_key_config: key_config,
            };
            wim_scan::scan_nested_wim(reader, rel, &setup)
        }
        Err(error) => {
            let mut failed = Tally::default();
            failed.findings.push(source_error_finding(rel, &error));
            failed
        }
    };
    // The nested images' files are counted by their own walks.
    tally.merge(nested);
    tally
}

/// A text candidate of `kind`, `head` read of it so far: searched whole by its kind's scanner
/// up to the size cap, and past it to the end in bounded memory, never skipped.
fn search_text(
    mut tally: Tally,
    kind: FileKind,
    mut head: Vec<u8>,
    reader: &mut CountingReader<Box<dyn Read + Send>>,
    len: u64,
    ctx: &FileContext<'_>,
    options: &ScanOptions,
) -> Tally {
    let rel = ctx.path;
    tally.files_scanned += 1;
    tally.searched.push(rel.display.clone());
    if options.read_only {
        return read_to_end_only(tally, reader, rel);
    }
    let cap = usize::try_from(options.size_cap).unwrap_or(usize::MAX);
    // Read at most one byte past the cap: a file that grew since the stat is still bounded.
    if let Err(error) = fill_to(reader, &mut head, cap.saturating_add(1)) {
        tally.findings.push(unreadable_finding(rel, &error));
        return tally;
    }
    if head.len() <= cap {
        let decoded = decode(&head);
        let kind = refine_by_content(kind, &decoded);
        let found = scan_decoded(kind, &decoded, ctx);
        if options.deep && decoded.encoding == TextEncoding::SingleByte {
            // Neither UTF-8 nor UTF-16: possibly binary data without NULs up front, where a
            // UTF-16 key would not show as text. `--deep` searches its bytes too.
            tally.findings.extend(keys_only_bytes_hold(&head, ctx, &found));
        }
        tally.findings.extend(found);
        return tally;
    }
    // Larger than the cap: searched to the end in bounded memory, never skipped.
    let rest = io::Cursor::new(head).chain(reader);
    if kind.is_strong_candidate() {
        if let Err(error) = binary::scan_reader_sized(rest, ctx, &mut tally.findings, len) {
            tally.findings.push(unreadable_finding(rel, &error));
        }
    } else {
        let streamed = textfile::scan_stream(rest, ctx);
        tally.findings.extend(streamed.findings);
        if let Some(error) = streamed.error {
            tally.findings.push(unreadable_finding(rel, &error));
        }
    }
    tally
}

/// The keys a search of `bytes` as binary data finds that the text scan's `found` did not.
fn keys_only_bytes_hold(bytes: &[u8], ctx: &FileContext<'_>, found: &[Finding]) -> Vec<Finding> {
    let mut as_bytes = Vec::new();
    if binary::scan_reader(bytes, ctx, &mut as_bytes).is_err() {
        return Vec::new();
    }
    let known: Vec<_> = found
        .iter()
        .filter_map(|f| f.key.as_ref().map(|k| k.key.clone()))
        .collect();
    as_bytes.retain(|f| f.key.as_ref().is_none_or(|k| !known.contains(&k.key)));
    as_bytes
}

/// [`ScanOptions::read_only`]: reads the rest of the file as a scan would, searching nothing.
/// Through `io::copy`'s small stack buffer: a fresh zeroed 1 MiB buffer per file made the floor spend
/// an eighth of its time in `memset`, which is no cost of reading.
fn read_to_end_only(mut tally: Tally, reader: &mut impl Read, rel: &FindingPath) -> Tally {
    if let Err(error) = io::copy(reader, &mut io::sink()) {
        tally.findings.push(unreadable_finding(rel, &error));
    }
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
    fn skip_reasons_keep_their_json_names() {
        let names: Vec<&str> = [
            SkipReason::NotACandidate,
            SkipReason::ArchiveNotOpened,
            SkipReason::ContainerNotOpened,
            SkipReason::SpecialFile,
            SkipReason::Symlink,
            SkipReason::Excluded,
            SkipReason::Unreadable,
        ]
        .into_iter()
        .map(SkipReason::as_str)
        .collect();
        assert_eq!(
            names,
            [
                "not-a-candidate",
                "archive-not-opened",
                "container-not-opened",
                "special-file",
                "symlink",
                "excluded",
                "unreadable"
            ]
        );
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
