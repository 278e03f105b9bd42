//! The Windows image behind an image root: its identity from the offline SOFTWARE hive, its
//! key configuration (`pkeyconfig*.xrm-ms`), the keys installed in its registry, and every
//! key in the hives read (SOFTWARE, SYSTEM, the Default user's NTUSER.DAT) and in their
//! transaction logs. Every byte is read through an [`ImageSource`].
//!
//! A hive whose current state cannot be known (dirty, with no log to replay) is `MG913`: what
//! was read from it is not what Windows would see. Its logs are searched for keys as raw
//! bytes whatever the hive's state, since they hold recent writes.
//!
//! Each image root is read once: the key configuration is parsed here and handed to every
//! per-file scanner of that root (through [`ImageScan::key_config`]), so that every post-2009
//! key in the image is classified by the image's own data.

use std::io::Read;
use std::path::{Path, PathBuf};

use makguard_core::rules;
use makguard_core::{Finding, FindingPath, ImageInfo, KeyConfigIndex};
use makguard_hive::{DirtyState, Hive, HiveError, HiveLog};

use crate::fs_source::FsSource;
use crate::keyconfig::{self, KeyConfigError};
use crate::source::{EntryType, ImageSource, ReadAt, Resolved, SourceError, SourcePath, resolve_case_insensitive};
use crate::{FileContext, binary, registry};

/// The SYSTEM hive's path below an image root.
pub(crate) const SYSTEM_HIVE_COMPONENTS: &[&str] = &["Windows", "System32", "config", "SYSTEM"];
/// The Default user's hive, copied into every new user's profile.
pub(crate) const DEFAULT_USER_HIVE_COMPONENTS: &[&str] = &["Users", "Default", "NTUSER.DAT"];
/// Transaction log suffixes searched beside a hive: the old-format `.LOG` and the new `.LOG1`,
/// `.LOG2`. Only the new-format ones can be replayed.
const LOG_SUFFIXES: &[&str] = &[".log", ".log1", ".log2"];
const REPLAYABLE_LOG_SUFFIXES: &[&str] = &[".log1", ".log2"];

/// What reading an image root's registry and licensing data produced.
#[derive(Debug, Default)]
pub struct ImageScan {
    /// The image's root, its identity (from the SOFTWARE hive) and the key-configuration files
    /// used.
    pub info: ImageInfo,
    /// The key groups of every key-configuration file read, the image's own and any loose ones
    /// given.
    pub key_config: KeyConfigIndex,
    /// Registry findings (`MG3xx`: installed keys, logon commands, strings, hive logs) and
    /// unreadable or unknown-state hive and key-configuration findings (`MG9xx`).
    pub findings: Vec<Finding>,
    /// Files read (hives, key configuration), relative to the root, `/`-separated.
    pub files_read: Vec<String>,
    /// The SOFTWARE hive's path relative to the root, when the image has one.
    pub software_hive: Option<String>,
    /// Hive transaction logs searched as raw bytes (also in `files_read`), relative to the root.
    pub logs_searched: Vec<String>,
    /// Registry keys searched in all hives read.
    pub registry_keys_searched: u64,
}

/// Reads `root` (a directory containing `Windows/System32`): identity, key configuration
/// and installed keys. `extra_key_config` are `--pkeyconfig` files, loaded after the image's own.
pub fn scan_image_root(root: &Path, root_display: &str, extra_key_config: &[PathBuf]) -> ImageScan {
    scan_image_source(
        &FsSource::new(root),
        &SourcePath::root(),
        root_display,
        extra_key_config,
    )
}

/// [`scan_image_root`] for the image at `root` of any source. Every byte is read through the
/// source; paths in the result are relative to `root`.
pub(crate) fn scan_image_source(
    source: &dyn ImageSource,
    root: &SourcePath,
    root_display: &str,
    extra_key_config: &[PathBuf],
) -> ImageScan {
    let mut scan = ImageScan {
        info: ImageInfo {
            root: root_display.to_string(),
            ..ImageInfo::default()
        },
        ..ImageScan::default()
    };
    for file in keyconfig::find_key_config_files_in(source, root) {
        scan.files_read.push(file.display.clone());
        let loaded = source
            .read_all(&file.path)
            .map_err(|error| KeyConfigError::Io {
                path: file.display.clone(),
                source: error.into_io(),
            })
            .and_then(|bytes| keyconfig::parse_key_config(&bytes, &file.display));
        record_key_config(&mut scan, loaded, &file.display);
    }
    // Loose files lie outside the root: named as given, and not among the root's files read.
    for path in extra_key_config {
        let display = path.display().to_string();
        record_key_config(&mut scan, keyconfig::load_key_config_file(path, &display), &display);
    }
    let remediation = read_software(&mut scan, source, root);
    read_system(&mut scan, source, root);
    read_default_user(&mut scan, source, root, &remediation);
    scan
}

fn record_key_config(scan: &mut ImageScan, loaded: Result<KeyConfigIndex, KeyConfigError>, display: &str) {
    match loaded {
        Ok(index) => {
            scan.key_config.extend(index);
            scan.info.key_configuration_files.push(display.to_string());
        }
        Err(error) => scan.findings.push(error.finding(display)),
    }
}

/// `Some(description)` when the hive file is shorter than its own base block says. The reader
/// keeps what is there (cells past the end fail one by one), so without this check a cut that
/// lost only unreferenced space, or space the reader never visits, would pass as complete.
fn truncation(hive_file: &dyn ReadAt) -> Option<String> {
    let expected = makguard_hive::declared_hive_len(hive_file)?;
    let actual = hive_file.len();
    (actual < expected).then(|| format!("{actual} bytes of the {expected} its header gives"))
}

/// The hive's path, or `None` after recording why it cannot be read.
fn locate_software(scan: &mut ImageScan, source: &dyn ImageSource, root: &SourcePath) -> Option<SourcePath> {
    let components = registry::SOFTWARE_HIVE_COMPONENTS;
    match resolve_case_insensitive(source, root, components) {
        Resolved::Found(path) => Some(path),
        Resolved::Blocked { at, entry_type } => {
            let at = names_below(root, &at);
            // A folder or file of the wrong kind is unreadable; a link or special file is one
            // makguard refuses to follow or open.
            let rule = match entry_type {
                EntryType::Link | EntryType::Special => &rules::NOT_A_REGULAR_FILE,
                EntryType::File | EntryType::Dir => &rules::FILE_UNREADABLE,
            };
            scan.findings.push(Finding::new(
                rule,
                FindingPath::new(at.clone()),
                format!(
                    "{at} is {}, not a plain {} makguard can read, so the SOFTWARE hive (the image's edition \
and the keys installed in its registry) was not checked; links are never followed",
                    entry_type.describe(),
                    if at.split('/').count() == components.len() {
                        "file"
                    } else {
                        "folder"
                    }
                ),
            ));
            None
        }
        // Above Windows/System32 the image discovery has listed the folders already.
        Resolved::Unreadable { at, error } if at.names().len() >= root.names().len() + 2 => {
            scan.findings.push(Finding::new(
                &rules::FILE_UNREADABLE,
                FindingPath::new(names_below(root, &at)),
                format!("the folder could not be listed ({error}), so the SOFTWARE hive was not checked"),
            ));
            None
        }
        Resolved::Unreadable { .. } => None,
        Resolved::Missing => {
            // A tree with Windows/System32 but no SOFTWARE hive is a partial extract or mount:
            // the keys installed in its registry cannot be ruled out, so the scan must not
            // look clean.
            if matches!(
                resolve_case_insensitive(source, root, &["Windows", "System32"]),
                Resolved::Found(_)
            ) {
                scan.findings.push(Finding::new(
                    &rules::FILE_UNREADABLE,
                    FindingPath::new(components.join("/")),
                    "the image has Windows/System32 but no config/SOFTWARE hive, so its edition and the keys \
installed in its registry could not be checked (is the image fully mounted or extracted?)",
                ));
            }
            None
        }
    }
}

/// `path` relative to `root`, `/`-separated.
fn names_below(root: &SourcePath, path: &SourcePath) -> String {
    SourcePath::from_names(
        path.names()[root.names().len().min(path.names().len())..]
            .iter()
            .cloned(),
    )
    .display()
}

/// Reads the SOFTWARE hive; returns the remediation for installed keys (the GVLK to install).
fn read_software(scan: &mut ImageScan, source: &dyn ImageSource, root: &SourcePath) -> String {
    let unknown_edition = registry::remediation(None, None);
    let Some(hive_path) = locate_software(scan, source, root) else {
        return unknown_edition;
    };
    let display = names_below(root, &hive_path);
    scan.software_hive = Some(display.clone());
    let path = FindingPath::new(display.clone());
    let what = HiveRole {
        what: "the SOFTWARE hive",
        consequence: "the image's edition and installed keys were not checked",
    };
    let Some(hive) = open_hive(scan, source, root, &hive_path, &what) else {
        return unknown_edition;
    };
    let readout = registry::read_software_hive(&hive, &path, &scan.key_config);
    let remediation = registry::remediation(readout.identity.edition_id.as_deref(), readout.identity.build);
    scan.info = ImageInfo {
        root: std::mem::take(&mut scan.info.root),
        key_configuration_files: std::mem::take(&mut scan.info.key_configuration_files),
        ..readout.identity
    };
    scan.findings.extend(readout.findings);
    scan.registry_keys_searched += readout.keys_searched;
    remediation
}

/// Searches the SYSTEM hive when the image has one. Its absence is not an error: the SOFTWARE
/// hive's absence already makes a partial image incomplete, and SYSTEM holds no installed key.
fn read_system(scan: &mut ImageScan, source: &dyn ImageSource, root: &SourcePath) {
    let what = HiveRole {
        what: "the SYSTEM hive",
        consequence: "its values were not searched for keys",
    };
    let Some(hive_path) = locate_optional_hive(scan, source, root, SYSTEM_HIVE_COMPONENTS, &what) else {
        return;
    };
    let display = names_below(root, &hive_path);
    let Some(hive) = open_hive(scan, source, root, &hive_path, &what) else {
        return;
    };
    let readout = registry::read_system_hive(&hive, &FindingPath::new(display), &scan.key_config);
    scan.findings.extend(readout.findings);
    scan.registry_keys_searched += readout.keys_searched;
}

/// Reads the Default user's hive when the image has one. An image without it (a `Users/Default`
/// folder without NTUSER.DAT, or no profile folder at all) has no Default-user logon commands
/// to run, so its absence is not a finding.
fn read_default_user(scan: &mut ImageScan, source: &dyn ImageSource, root: &SourcePath, remediation: &str) {
    let what = HiveRole {
        what: "the Default user's hive",
        consequence: "the commands it runs at every new user's first logon were not checked",
    };
    let Some(hive_path) = locate_optional_hive(scan, source, root, DEFAULT_USER_HIVE_COMPONENTS, &what) else {
        return;
    };
    let display = names_below(root, &hive_path);
    let Some(hive) = open_hive(scan, source, root, &hive_path, &what) else {
        return;
    };
    let readout = registry::read_default_user_hive(&hive, &FindingPath::new(display), &scan.key_config, remediation);
    scan.findings.extend(readout.findings);
    scan.registry_keys_searched += readout.keys_searched;
}

/// How a hive is named in messages, and what is lost when it cannot be read.
struct HiveRole {
    what: &'static str,
    consequence: &'static str,
}

/// A hive that may be absent (SYSTEM, the Default user's): `None` when it is missing, and an
/// `MG906` finding as well when a link or special file stands in its place.
fn locate_optional_hive(
    scan: &mut ImageScan,
    source: &dyn ImageSource,
    root: &SourcePath,
    components: &[&str],
    role: &HiveRole,
) -> Option<SourcePath> {
    match resolve_case_insensitive(source, root, components) {
        Resolved::Found(path) => Some(path),
        Resolved::Blocked { at, entry_type } => {
            let at = names_below(root, &at);
            scan.findings.push(Finding::new(
                &rules::NOT_A_REGULAR_FILE,
                FindingPath::new(at.clone()),
                format!(
                    "{at} is {}, not something makguard reads, so {} was not read ({}); links are never followed",
                    entry_type.describe(),
                    role.what,
                    role.consequence
                ),
            ));
            None
        }
        Resolved::Unreadable { .. } | Resolved::Missing => None,
    }
}

/// Opens a hive through the source, searches its transaction logs and reports what is known
/// of its state (truncated, dirty). `None`, with an `MG901`/`MG903`/`MG906` finding, when it
/// cannot be read at all.
fn open_hive(
    scan: &mut ImageScan,
    source: &dyn ImageSource,
    root: &SourcePath,
    hive_path: &SourcePath,
    role: &HiveRole,
) -> Option<Hive> {
    let display = names_below(root, hive_path);
    scan.files_read.push(display.clone());
    let path = FindingPath::new(display.clone());
    let logs = find_logs(scan, source, root, hive_path, role);
    search_logs(scan, source, &logs);
    let primary = match source.open_random(hive_path) {
        Ok(primary) => primary,
        Err(SourceError::NotRegular(entry_type @ (EntryType::Link | EntryType::Special))) => {
            scan.findings.push(crate::walk::not_regular_finding(&path, entry_type));
            return None;
        }
        Err(error) => {
            scan.findings.push(Finding::new(
                &rules::FILE_UNREADABLE,
                path,
                format!("{} could not be read ({error}); {}", role.what, role.consequence),
            ));
            return None;
        }
    };
    let short = truncation(primary.as_ref());
    let replay = replayable_logs(scan, source, &logs, role);
    let hive = match Hive::from_random_access(PathBuf::from(&display), primary, replay) {
        Ok(hive) => hive,
        Err(error) => {
            let rule = match error {
                HiveError::Io { .. } => &rules::FILE_UNREADABLE,
                _ => &rules::HIVE_CORRUPT,
            };
            scan.findings.push(Finding::new(
                rule,
                path,
                format!("{} could not be read ({error}); {}", role.what, role.consequence),
            ));
            return None;
        }
    };
    if let Some(short) = short {
        scan.findings.push(Finding::new(
            &rules::HIVE_CORRUPT,
            path.clone(),
            format!(
                "{} is truncated ({short}); keys or values in the missing part could not be checked",
                role.what
            ),
        ));
    }
    scan.findings.extend(hive_state_finding(hive.dirty(), &path, role.what));
    Some(hive)
}

/// A transaction log beside a hive: where it is, how it is named, and what it is.
struct LogFile {
    path: SourcePath,
    display: String,
    suffix: &'static str,
}

/// The transaction logs beside a hive (`<name>.LOG`, `.LOG1`, `.LOG2`, any letter case), in
/// name order. A log that is a link or special file is never opened: an `MG906` finding says
/// so, and it is left out.
fn find_logs(
    scan: &mut ImageScan,
    source: &dyn ImageSource,
    root: &SourcePath,
    hive: &SourcePath,
    role: &HiveRole,
) -> Vec<LogFile> {
    let (Some(dir), Some(name)) = (hive.parent(), hive.file_name()) else {
        return Vec::new();
    };
    let name = name.to_string_lossy().to_lowercase();
    let Ok(entries) = source.list(&dir) else {
        return Vec::new();
    };
    let mut logs = Vec::new();
    for entry in entries {
        let lower = entry.name.to_string_lossy().to_lowercase();
        let Some(suffix) = lower
            .strip_prefix(&name)
            .and_then(|rest| LOG_SUFFIXES.iter().find(|s| **s == rest))
        else {
            continue;
        };
        let path = dir.join(entry.name.clone());
        let display = names_below(root, &path);
        match entry.entry_type {
            EntryType::File => logs.push(LogFile { path, display, suffix }),
            EntryType::Dir => {}
            other => scan.findings.push(Finding::new(
                &rules::NOT_A_REGULAR_FILE,
                FindingPath::new(display),
                format!(
                    "this transaction log of {} is {}; it was not opened, so changes it holds were not checked",
                    role.what,
                    other.describe()
                ),
            )),
        }
    }
    logs.sort_by(|a, b| a.display.cmp(&b.display));
    logs
}

/// The new-format logs, opened for replay.
fn replayable_logs(scan: &mut ImageScan, source: &dyn ImageSource, logs: &[LogFile], role: &HiveRole) -> Vec<HiveLog> {
    let mut replay = Vec::new();
    for log in logs.iter().filter(|log| REPLAYABLE_LOG_SUFFIXES.contains(&log.suffix)) {
        match source.open_random(&log.path) {
            Ok(reader) => replay.push(HiveLog {
                path: PathBuf::from(&log.display),
                reader,
            }),
            Err(SourceError::NotRegular(entry_type)) => scan.findings.push(crate::walk::not_regular_finding(
                &FindingPath::new(log.display.clone()),
                entry_type,
            )),
            Err(error) => scan.findings.push(Finding::new(
                &rules::FILE_UNREADABLE,
                FindingPath::new(log.display.clone()),
                format!("this transaction log of {} could not be opened ({error})", role.what),
            )),
        }
    }
    replay
}

/// Searches each transaction log beside a hive for keys, as raw bytes (ASCII and UTF-16):
/// a log holds the hive's recent writes, which may never have reached the hive file.
fn search_logs(scan: &mut ImageScan, source: &dyn ImageSource, logs: &[LogFile]) {
    for log in logs {
        scan.files_read.push(log.display.clone());
        scan.logs_searched.push(log.display.clone());
        let path = FindingPath::new(log.display.clone());
        match source.open(&log.path) {
            Ok(opened) => search_log_bytes(opened.reader, &path, &scan.key_config, &mut scan.findings),
            Err(SourceError::NotRegular(entry_type)) => {
                scan.findings.push(crate::walk::not_regular_finding(&path, entry_type));
            }
            Err(error) => scan.findings.push(crate::unreadable_finding(&path, &error.into_io())),
        }
    }
}

/// `MG913` when a dirty hive's current state could not be reconstructed (no usable log was
/// replayed), `MG307` when its logs were replayed; nothing for a clean hive.
pub(crate) fn hive_state_finding(dirty: &DirtyState, path: &FindingPath, what: &str) -> Option<Finding> {
    if !dirty.is_dirty() {
        return None;
    }
    let why = match (dirty.sequence_mismatch, dirty.checksum_mismatch) {
        (true, true) => "its sequence numbers differ and its base block checksum is wrong",
        (true, false) => "its sequence numbers differ",
        _ => "its base block checksum is wrong",
    };
    if dirty.may_be_stale() {
        let problem = dirty
            .log_problem
            .as_deref()
            .map(|problem| format!(" ({problem})"))
            .unwrap_or_default();
        return Some(Finding::new(
            &rules::HIVE_STATE_UNKNOWN,
            path.clone(),
            format!(
                "{what} was not cleanly closed ({why}) and no transaction log could be replayed{problem}; what it \
holds may be older than what Windows would see, so keys written since could not be checked"
            ),
        ));
    }
    Some(Finding::new(
        &rules::HIVE_DIRTY,
        path.clone(),
        format!(
            "{what} was not cleanly closed ({why}); {} transaction log entries were replayed in memory, so its \
current state was read",
            dirty.applied_entries
        ),
    ))
}

/// Searches one transaction log's bytes with the `--deep` binary search, reported as `MG312`.
pub(crate) fn search_log_bytes<R: Read>(
    reader: R,
    path: &FindingPath,
    key_config: &KeyConfigIndex,
    findings: &mut Vec<Finding>,
) {
    let ctx = FileContext {
        path,
        key_config: Some(key_config),
    };
    let mut found = Vec::new();
    let outcome = binary::scan_reader(reader, &ctx, &mut found);
    for mut finding in found {
        finding.rule = &rules::HIVE_LOG_KEY;
        finding.severity = rules::HIVE_LOG_KEY.default_severity;
        finding.message = finding
            .message
            .replacen("A binary file holds", "A registry transaction log holds", 1);
        finding.message.push_str(
            "; a log holds writes to the hive, recent ones not yet in the hive file, so the key may be in the \
image's registry or have been there",
        );
        findings.push(finding);
    }
    if let Err(error) = outcome {
        findings.push(crate::unreadable_finding(path, &error));
    }
}
