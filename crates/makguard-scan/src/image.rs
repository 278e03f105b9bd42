//! The Windows image behind an image root: its identity from the offline SOFTWARE hive, its
//! key configuration (`pkeyconfig*.xrm-ms`), and the keys installed in its registry.
//!
//! Each image root is read once: the key configuration is parsed here and handed to every
//! per-file scanner of that root (through [`ImageScan::key_config`]), so that every post-2009
//! key in the image is classified by the image's own data.

use std::path::{Path, PathBuf};

use makguard_core::rules;
use makguard_core::{Finding, FindingPath, ImageInfo, KeyConfigIndex};
use makguard_hive::{Hive, HiveError, HiveLog};

use crate::fs_source::FsSource;
use crate::keyconfig::{self, KeyConfigError};
use crate::registry;
use crate::source::{EntryType, ImageSource, ReadAt, Resolved, SourceError, SourcePath, resolve_case_insensitive};

/// What reading an image root's registry and licensing data produced.
#[derive(Debug, Default)]
pub struct ImageScan {
    pub info: ImageInfo,
    pub key_config: KeyConfigIndex,
    /// Installed-key findings (MG3xx) and unreadable hive / key-configuration findings (MG9xx).
    pub findings: Vec<Finding>,
    /// Files read (hives, key configuration), relative to the root, `/`-separated.
    pub files_read: Vec<String>,
    /// The SOFTWARE hive's path relative to the root, when the image has one.
    pub software_hive: Option<String>,
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
pub fn scan_image_source(
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
    read_software(&mut scan, source, root);
    scan
}

fn record_key_config(scan: &mut ImageScan, loaded: Result<KeyConfigIndex, KeyConfigError>, display: &str) {
    match loaded {
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
fn truncation(hive_file: &dyn ReadAt) -> Option<String> {
    let mut header = [0u8; BINS_SIZE_OFFSET + 4];
    if hive_file.read_at(0, &mut header).ok()? < header.len() {
        return None;
    }
    let actual = hive_file.len();
    let bins_size = u32::from_le_bytes(header[BINS_SIZE_OFFSET..].try_into().ok()?);
    let expected = BASE_BLOCK_LEN + u64::from(bins_size);
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

/// The hive's `.LOG1`/`.LOG2` (any case) beside it, opened through the source. A log that is a
/// link or special file is never opened: an `MG906` finding says so.
fn hive_logs(scan: &mut ImageScan, source: &dyn ImageSource, root: &SourcePath, hive: &SourcePath) -> Vec<HiveLog> {
    let (Some(dir), Some(name)) = (hive.parent(), hive.file_name()) else {
        return Vec::new();
    };
    let name = name.to_string_lossy().to_lowercase();
    let wanted = [format!("{name}.log1"), format!("{name}.log2")];
    let Ok(entries) = source.list(&dir) else {
        return Vec::new();
    };
    let mut found: Vec<(usize, SourcePath, EntryType)> = entries
        .into_iter()
        .filter_map(|entry| {
            let lower = entry.name.to_string_lossy().to_lowercase();
            let rank = wanted.iter().position(|w| *w == lower)?;
            (entry.entry_type != EntryType::Dir).then(|| (rank, dir.join(entry.name), entry.entry_type))
        })
        .collect();
    found.sort_by_key(|f| f.0);
    let mut logs = Vec::new();
    for (_, path, entry_type) in found {
        let display = names_below(root, &path);
        let opened = match entry_type {
            EntryType::File => source.open_random(&path),
            other => Err(SourceError::NotRegular(other)),
        };
        match opened {
            Ok(reader) => logs.push(HiveLog {
                path: PathBuf::from(&display),
                reader,
            }),
            Err(SourceError::NotRegular(entry_type)) => scan.findings.push(Finding::new(
                &rules::NOT_A_REGULAR_FILE,
                FindingPath::new(display),
                format!(
                    "this transaction log of the SOFTWARE hive is {}; it was not opened, so changes it holds were not checked",
                    entry_type.describe()
                ),
            )),
            Err(error) => scan.findings.push(Finding::new(
                &rules::FILE_UNREADABLE,
                FindingPath::new(display),
                format!("this transaction log of the SOFTWARE hive could not be opened ({error})"),
            )),
        }
    }
    logs
}

fn read_software(scan: &mut ImageScan, source: &dyn ImageSource, root: &SourcePath) {
    let Some(hive_path) = locate_software(scan, source, root) else {
        return;
    };
    let display = names_below(root, &hive_path);
    scan.files_read.push(display.clone());
    scan.software_hive = Some(display.clone());
    let path = FindingPath::new(display.clone());
    let unreadable = |error: String| {
        Finding::new(
            &rules::FILE_UNREADABLE,
            path.clone(),
            format!(
                "the SOFTWARE hive could not be read ({error}); the image's edition and installed keys were not checked"
            ),
        )
    };
    let primary = match source.open_random(&hive_path) {
        Ok(primary) => primary,
        Err(SourceError::NotRegular(entry_type @ (EntryType::Link | EntryType::Special))) => {
            scan.findings.push(crate::walk::not_regular_finding(&path, entry_type));
            return;
        }
        Err(error) => {
            scan.findings.push(unreadable(error.to_string()));
            return;
        }
    };
    let short = truncation(primary.as_ref());
    let logs = hive_logs(scan, source, root, &hive_path);
    let hive = match Hive::from_random_access(PathBuf::from(&display), primary, logs) {
        Ok(hive) => hive,
        Err(error) => {
            let rule = match error {
                HiveError::Io { .. } => &rules::FILE_UNREADABLE,
                _ => &rules::HIVE_CORRUPT,
            };
            scan.findings.push(Finding::new(
                rule,
                path,
                format!("the SOFTWARE hive could not be read ({error}); the image's edition and installed keys were not checked"),
            ));
            return;
        }
    };
    if let Some(short) = short {
        scan.findings.push(Finding::new(
            &rules::HIVE_CORRUPT,
            path.clone(),
            format!(
                "the SOFTWARE hive is truncated ({short}); keys or values in the missing part could not be checked"
            ),
        ));
    }
    let dirty = hive.dirty();
    if dirty.may_be_stale() {
        let mut message =
            "the SOFTWARE hive was not cleanly closed and no transaction log could be applied; values read from it may be stale".to_string();
        if let Some(problem) = &dirty.log_problem {
            message.push_str(&format!(" ({problem})"));
        }
        scan.findings
            .push(Finding::new(&rules::HIVE_DIRTY, path.clone(), message));
    }
    let readout = registry::read_software_hive(&hive, &path, &scan.key_config);
    let identity = readout.identity;
    scan.info.edition_id = identity.edition_id;
    scan.info.product_name = identity.product_name;
    scan.info.build = identity.build;
    scan.info.ubr = identity.ubr;
    scan.info.display_version = identity.display_version;
    scan.info.installation_type = identity.installation_type;
    scan.findings.extend(readout.findings);
}
