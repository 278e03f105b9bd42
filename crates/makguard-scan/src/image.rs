//! The Windows image behind an image root: its identity from the offline SOFTWARE hive, its
//! key configuration (`pkeyconfig*.xrm-ms`), the keys installed in its registry, and every
//! key in the hives read (SOFTWARE, SYSTEM, the Default user's NTUSER.DAT) and in their
//! transaction logs.
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
use makguard_hive::{DirtyState, Hive, HiveError};

use crate::keyconfig::{self, KeyConfigError};
use crate::{FileContext, binary, registry};

/// The SYSTEM hive's path below an image root.
pub const SYSTEM_HIVE_COMPONENTS: &[&str] = &["Windows", "System32", "config", "SYSTEM"];
/// The Default user's hive, copied into every new user's profile.
pub const DEFAULT_USER_HIVE_COMPONENTS: &[&str] = &["Users", "Default", "NTUSER.DAT"];
/// Transaction log suffixes searched beside a hive: the old-format `.LOG` and the new `.LOG1`,
/// `.LOG2`.
const LOG_SUFFIXES: &[&str] = &[".log", ".log1", ".log2"];

/// What reading an image root's registry and licensing data produced.
#[derive(Debug, Default)]
pub struct ImageScan {
    pub info: ImageInfo,
    pub key_config: KeyConfigIndex,
    /// Registry findings (MG3xx: installed keys, logon commands, strings, hive logs) and
    /// unreadable or unknown-state hive and key-configuration findings (MG9xx).
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
    let mut scan = ImageScan {
        info: ImageInfo {
            root: root_display.to_string(),
            ..ImageInfo::default()
        },
        ..ImageScan::default()
    };
    for file in keyconfig::find_key_config_files(root) {
        scan.files_read.push(file.display.clone());
        load_key_config(&mut scan, &file.path, &file.display);
    }
    // Loose files lie outside the root: named as given, and not among the root's files read.
    for path in extra_key_config {
        load_key_config(&mut scan, path, &path.display().to_string());
    }
    let remediation = read_software(&mut scan, root);
    read_system(&mut scan, root);
    read_default_user(&mut scan, root, &remediation);
    scan
}

fn load_key_config(scan: &mut ImageScan, path: &Path, display: &str) {
    match keyconfig::load_key_config_file(path, display) {
        Ok(index) => {
            scan.key_config.extend(index);
            scan.info.key_configuration_files.push(display.to_string());
        }
        Err(error) => {
            let rule = match error {
                KeyConfigError::Io { .. } => &rules::FILE_UNREADABLE,
                _ => &rules::KEY_CONFIGURATION_UNREADABLE,
            };
            scan.findings.push(Finding::new(
                rule,
                FindingPath::new(display),
                format!("{error}; keys are classified without this file"),
            ));
        }
    }
}

/// The regf base block keeps the size of the hive bins data at offset 0x28; the file holds the
/// 4096-byte base block and then that much data.
const BASE_BLOCK_LEN: u64 = 4096;
const BINS_SIZE_OFFSET: usize = 0x28;

/// `Some(description)` when the hive file is shorter than its own base block says. The reader
/// keeps what is there (cells past the end fail one by one), so without this check a cut that
/// lost only unreferenced space, or space the reader never visits, would pass as complete.
fn truncation(hive_file: &Path) -> Option<String> {
    use std::io::Read;
    let mut header = [0u8; BINS_SIZE_OFFSET + 4];
    let mut file = std::fs::File::open(hive_file).ok()?;
    file.read_exact(&mut header).ok()?;
    let actual = file.metadata().ok()?.len();
    let bins_size = u32::from_le_bytes(header[BINS_SIZE_OFFSET..].try_into().ok()?);
    let expected = BASE_BLOCK_LEN + u64::from(bins_size);
    (actual < expected).then(|| format!("{actual} bytes of the {expected} its header gives"))
}

/// Reads the SOFTWARE hive; returns the remediation for installed keys (the GVLK to install).
fn read_software(scan: &mut ImageScan, root: &Path) -> String {
    let unknown_edition = registry::remediation(None, None);
    let Some((hive_file, display)) = keyconfig::resolve_case_insensitive(root, registry::SOFTWARE_HIVE_COMPONENTS)
    else {
        // A tree with Windows/System32 but no SOFTWARE hive is a partial extract or mount: the
        // keys installed in its registry cannot be ruled out, so the scan must not look clean.
        if keyconfig::resolve_case_insensitive(root, &["Windows", "System32"]).is_some() {
            scan.findings.push(Finding::new(
                &rules::FILE_UNREADABLE,
                FindingPath::new(registry::SOFTWARE_HIVE_COMPONENTS.join("/")),
                "the image has Windows/System32 but no config/SOFTWARE hive, so its edition and the keys \
installed in its registry could not be checked (is the image fully mounted or extracted?)",
            ));
        }
        return unknown_edition;
    };
    scan.software_hive = Some(display.clone());
    let path = FindingPath::new(display.clone());
    let Some(hive) = open_hive(
        scan,
        &hive_file,
        &display,
        "the SOFTWARE hive",
        "the image's edition and installed keys were not checked",
    ) else {
        return unknown_edition;
    };
    let readout = registry::read_software_hive(&hive, &path, &scan.key_config);
    let identity = readout.identity;
    let remediation = registry::remediation(identity.edition_id.as_deref(), identity.build);
    scan.info.edition_id = identity.edition_id;
    scan.info.product_name = identity.product_name;
    scan.info.build = identity.build;
    scan.info.ubr = identity.ubr;
    scan.info.display_version = identity.display_version;
    scan.info.installation_type = identity.installation_type;
    scan.findings.extend(readout.findings);
    scan.registry_keys_searched += readout.keys_searched;
    remediation
}

/// Searches the SYSTEM hive when the image has one. Its absence is not an error: the SOFTWARE
/// hive's absence already makes a partial image incomplete, and SYSTEM holds no installed key.
fn read_system(scan: &mut ImageScan, root: &Path) {
    let Some((hive_file, display)) = keyconfig::resolve_case_insensitive(root, SYSTEM_HIVE_COMPONENTS) else {
        return;
    };
    let Some(hive) = open_hive(
        scan,
        &hive_file,
        &display,
        "the SYSTEM hive",
        "its values were not searched for keys",
    ) else {
        return;
    };
    let readout = registry::read_system_hive(&hive, &FindingPath::new(display), &scan.key_config);
    scan.findings.extend(readout.findings);
    scan.registry_keys_searched += readout.keys_searched;
}

/// Reads the Default user's hive when the image has one. An image without it (a `Users/Default`
/// folder without NTUSER.DAT, or no profile folder at all) has no Default-user logon commands
/// to run, so its absence is not a finding.
fn read_default_user(scan: &mut ImageScan, root: &Path, remediation: &str) {
    let Some((hive_file, display)) = keyconfig::resolve_case_insensitive(root, DEFAULT_USER_HIVE_COMPONENTS) else {
        return;
    };
    let Some(hive) = open_hive(
        scan,
        &hive_file,
        &display,
        "the Default user's hive",
        "the commands it runs at every new user's first logon were not checked",
    ) else {
        return;
    };
    let readout = registry::read_default_user_hive(&hive, &FindingPath::new(display), &scan.key_config, remediation);
    scan.findings.extend(readout.findings);
    scan.registry_keys_searched += readout.keys_searched;
}

/// Opens a hive file, searches its transaction logs and reports what is known of its state
/// (truncated, dirty). `None`, with an `MG901`/`MG903` finding, when it cannot be read at all.
fn open_hive(scan: &mut ImageScan, hive_file: &Path, display: &str, what: &str, consequence: &str) -> Option<Hive> {
    scan.files_read.push(display.to_string());
    let path = FindingPath::new(display);
    search_logs(scan, hive_file, display);
    let hive = match Hive::open(hive_file) {
        Ok(hive) => hive,
        Err(error) => {
            let rule = match error {
                HiveError::Io { .. } => &rules::FILE_UNREADABLE,
                _ => &rules::HIVE_CORRUPT,
            };
            scan.findings.push(Finding::new(
                rule,
                path,
                format!("{what} could not be read ({error}); {consequence}"),
            ));
            return None;
        }
    };
    if let Some(short) = truncation(hive_file) {
        scan.findings.push(Finding::new(
            &rules::HIVE_CORRUPT,
            path.clone(),
            format!("{what} is truncated ({short}); keys or values in the missing part could not be checked"),
        ));
    }
    scan.findings.extend(hive_state_finding(hive.dirty(), &path, what));
    Some(hive)
}

/// `MG913` when a dirty hive's current state could not be reconstructed (no usable log was
/// replayed), `MG307` when its logs were replayed; nothing for a clean hive.
pub fn hive_state_finding(dirty: &DirtyState, path: &FindingPath, what: &str) -> Option<Finding> {
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

/// The transaction logs beside `hive_file` (`<name>.LOG`, `.LOG1`, `.LOG2`, any letter case),
/// as (path, display) pairs in name order.
fn log_files(hive_file: &Path, display: &str) -> Vec<(PathBuf, String)> {
    let (Some(name), Some(dir)) = (hive_file.file_name(), hive_file.parent()) else {
        return Vec::new();
    };
    let name = name.to_string_lossy().to_lowercase();
    let display_dir = display.rsplit_once('/').map_or("", |(dir, _)| dir);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut logs: Vec<(PathBuf, String)> = entries
        .flatten()
        .filter_map(|entry| {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            let lower = file_name.to_lowercase();
            let suffix = lower.strip_prefix(&name)?;
            LOG_SUFFIXES.contains(&suffix).then(|| {
                let shown = if display_dir.is_empty() {
                    file_name.clone()
                } else {
                    format!("{display_dir}/{file_name}")
                };
                (entry.path(), shown)
            })
        })
        .collect();
    logs.sort_by(|a, b| a.1.cmp(&b.1));
    logs
}

/// Searches each transaction log beside a hive for keys, as raw bytes (ASCII and UTF-16):
/// a log holds the hive's recent writes, which may never have reached the hive file.
fn search_logs(scan: &mut ImageScan, hive_file: &Path, display: &str) {
    for (log_file, log_display) in log_files(hive_file, display) {
        scan.files_read.push(log_display.clone());
        scan.logs_searched.push(log_display.clone());
        let path = FindingPath::new(log_display);
        // Never open a FIFO or device: reading one could block the scan for ever.
        let regular = std::fs::symlink_metadata(&log_file).is_ok_and(|meta| meta.file_type().is_file());
        if !regular {
            scan.findings.push(Finding::new(
                &rules::FILE_UNREADABLE,
                path,
                "the hive's transaction log is not a regular file and was not read; it may hold a key",
            ));
            continue;
        }
        match std::fs::File::open(&log_file) {
            Ok(file) => search_log_bytes(file, &path, &scan.key_config, &mut scan.findings),
            Err(error) => scan.findings.push(crate::unreadable_finding(&path, &error)),
        }
    }
}

/// Searches one transaction log's bytes with the `--deep` binary search, reported as `MG312`.
pub fn search_log_bytes<R: Read>(
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
