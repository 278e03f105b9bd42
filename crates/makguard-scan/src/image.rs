//! The Windows image behind an image root: its identity from the offline SOFTWARE hive, its
//! key configuration (`pkeyconfig*.xrm-ms`), and the keys installed in its registry.
//!
//! Each image root is read once: the key configuration is parsed here and handed to every
//! per-file scanner of that root (through [`ImageScan::key_config`]), so that every post-2009
//! key in the image is classified by the image's own data.

use std::path::{Path, PathBuf};

use makguard_core::rules;
use makguard_core::{Finding, FindingPath, ImageInfo, KeyConfigIndex};
use makguard_hive::{Hive, HiveError};

use crate::keyconfig::{self, KeyConfigError};
use crate::registry;

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
    read_software(&mut scan, root);
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

fn read_software(scan: &mut ImageScan, root: &Path) {
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
        return;
    };
    scan.files_read.push(display.clone());
    scan.software_hive = Some(display.clone());
    let path = FindingPath::new(display.clone());
    let hive = match Hive::open(&hive_file) {
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
    if let Some(short) = truncation(&hive_file) {
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
