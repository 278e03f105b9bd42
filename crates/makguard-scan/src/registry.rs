//! The image's offline registry: the SOFTWARE hive's identity (`Microsoft\Windows NT\CurrentVersion`)
//! and installed-key rules (`MG300`–`MG305`, `MG308`, `MG309`, `MG915`), and what every hive read
//! (SOFTWARE, SYSTEM, the Default user's NTUSER.DAT) is searched for: logon commands
//! ([`crate::run_keys`]) and every string and `DigitalProductId` ([`crate::hive_search`]).
//!
//! An installed key cannot be repaired by editing a file, so every installed-key finding
//! carries a remediation that spells out the `DISM` and `slmgr` commands with the GVLK for
//! the image's edition. Registry layouts follow key-format.md §5 and key-locations.md §9.

use makguard_core::catalog::{self, GvlkLookupError};
use makguard_core::key::mask_keys_in;
use makguard_core::rules;
use makguard_core::{
    ClassSource, Classification, Detail, Finding, FindingPath, ImageInfo, KeyClass, KeyConfigIndex, KeyInfo,
    ProductKey, Rule, SlotValue, classify_key, classify_slot,
};
use std::collections::HashSet;

use makguard_hive::{Hive, HiveError, Key, ValueData};
use thiserror::Error;

use crate::hive_search::{self, SearchContext};
use crate::run_keys;

/// The SOFTWARE hive's path below an image root (resolved without regard to letter case).
pub(crate) const SOFTWARE_HIVE_COMPONENTS: &[&str] = &["Windows", "System32", "config", "SOFTWARE"];

/// How registry paths are named in messages: the hive as Windows mounts it.
const HIVE_PREFIX: &str = r"HKLM\SOFTWARE";
const CURRENT_VERSION: &str = r"Microsoft\Windows NT\CurrentVersion";
/// The 32-bit view of `CurrentVersion`; it usually mirrors the native one, but a key installed
/// by a 32-bit tool may be only here.
const CURRENT_VERSION_WOW64: &str = r"WOW6432Node\Microsoft\Windows NT\CurrentVersion";
const SOFTWARE_PROTECTION: &str = "SoftwareProtectionPlatform";

/// `DigitalProductId`: the key integer's 15 bytes start at 52; byte 66 bit 3 marks an N-form key.
const DPID_KEY_OFFSET: usize = 52;
const DPID_KEY_LEN: usize = 15;
const DPID_NFORM_BYTE: usize = 66;
const DPID_NFORM_MASK: u8 = 0x08;
/// `DigitalProductId4`: UTF-16LE fields of 128 bytes.
const DPID4_EDITION_ID_OFFSET: usize = 0x378;
const DPID4_KEY_TYPE_OFFSET: usize = 0x3F8;
const DPID4_FIELD_LEN: usize = 128;

/// One hive being read: the file findings are reported at, how Windows names the hive in
/// messages and `reg` commands, and the image's key configuration for classifying keys.
#[derive(Debug, Clone, Copy)]
pub struct HiveScope<'a> {
    /// The hive file as findings name it (its path in the image).
    pub file: &'a FindingPath,
    /// The hive as a running Windows mounts it, e.g. `HKLM\SOFTWARE`.
    pub root_name: &'static str,
    /// Where the remediation's `reg load` mounts the offline hive, e.g. `HKLM\OFFLINE`.
    pub load_name: &'static str,
    /// The hive file below the mounted image, as `reg load` takes it.
    pub image_file: &'static str,
    /// When the hive's logon commands run, for messages.
    pub runs_when: &'static str,
    /// The image's key configuration, for telling a key's channel.
    pub key_config: &'a KeyConfigIndex,
}

impl<'a> HiveScope<'a> {
    /// The scope of the image's `SOFTWARE` hive (`HKLM\SOFTWARE`).
    pub fn software(file: &'a FindingPath, key_config: &'a KeyConfigIndex) -> HiveScope<'a> {
        HiveScope {
            file,
            root_name: HIVE_PREFIX,
            load_name: r"HKLM\OFFLINE",
            image_file: r"Windows\System32\config\SOFTWARE",
            runs_when: "at logon of every machine built from the image",
            key_config,
        }
    }

    /// The scope of the image's `SYSTEM` hive (`HKLM\SYSTEM`).
    pub fn system(file: &'a FindingPath, key_config: &'a KeyConfigIndex) -> HiveScope<'a> {
        HiveScope {
            file,
            root_name: r"HKLM\SYSTEM",
            load_name: r"HKLM\OFFLINESYSTEM",
            image_file: r"Windows\System32\config\SYSTEM",
            runs_when: "when the system starts",
            key_config,
        }
    }

    /// The scope of the Default user's `NTUSER.DAT`, the template of every new profile.
    pub fn default_user(file: &'a FindingPath, key_config: &'a KeyConfigIndex) -> HiveScope<'a> {
        HiveScope {
            file,
            root_name: r"HKU\DefaultUser",
            load_name: r"HKU\DefaultUser",
            image_file: r"Users\Default\NTUSER.DAT",
            runs_when: "at logon of every new user (the Default user's hive becomes each new profile's) on every machine built from the image",
            key_config,
        }
    }

    /// `HKLM\SOFTWARE\<key_path>`; the hive's root for an empty path. Any key in a key
    /// name is masked: a message must never print one, wherever it hides.
    pub fn key_path(&self, key_path: &str) -> String {
        if key_path.is_empty() {
            self.root_name.to_string()
        } else {
            mask_keys_in(&format!(r"{}\{key_path}", self.root_name))
        }
    }

    /// `key_path` itself, keys masked, for `reg` commands in remediations.
    fn masked(key_path: &str) -> String {
        mask_keys_in(key_path)
    }

    /// `HKLM\SOFTWARE\<key_path>\<value>`.
    pub fn value_path(&self, key_path: &str, value: &str) -> String {
        mask_keys_in(&format!(r"{}\{value}", self.key_path(key_path)))
    }

    /// `MG903` for a key or value of this hive that could not be read (`MG914` when the
    /// reader's work budget ran out).
    pub fn unreadable(&self, key_path: &str, error: &HiveError) -> Finding {
        let rule = match error {
            HiveError::WorkBudgetExhausted => &rules::HIVE_WALK_INCOMPLETE,
            _ => &rules::HIVE_CORRUPT,
        };
        Finding::new(
            rule,
            self.file.clone(),
            format!(
                "`{}` could not be read: {error}; keys there were not checked",
                self.key_path(key_path)
            ),
        )
    }

    fn reg_load(&self) -> String {
        format!("`reg load {} <mount>\\{}`", self.load_name, self.image_file)
    }

    fn reg_delete(&self, key_path: &str, value: &str) -> String {
        let which = if value == "(Default)" {
            "/ve".to_string()
        } else {
            format!("/v \"{}\"", mask_keys_in(value))
        };
        format!(
            "`reg delete \"{}\\{}\" {which} /f`",
            self.load_name,
            HiveScope::masked(key_path)
        )
    }

    /// How to delete a value from the offline hive.
    pub fn delete_value_hint(&self, key_path: &str, value: &str) -> String {
        format!(
            "Delete the value from the image's registry (offline: {}, {}, `reg unload {}`).",
            self.reg_load(),
            self.reg_delete(key_path, value),
            self.load_name
        )
    }

    /// How to remove a key from a value of the offline hive that may hold other data too.
    pub fn change_value_hint(&self, key_path: &str, value: &str) -> String {
        format!(
            "Remove the key from the image's registry: offline, {}, then rewrite the value with \
`reg add \"{}\\{}\" /v \"{}\" …` or delete it with {}, then `reg unload {}`.",
            self.reg_load(),
            self.load_name,
            HiveScope::masked(key_path),
            mask_keys_in(value),
            self.reg_delete(key_path, value),
            self.load_name
        )
    }
}

/// The values already reported by a specific rule, with their key, so the whole-hive search
/// reports each value once; and the installed keys, whose copies elsewhere are not news.
#[derive(Debug, Clone, Default)]
pub struct ReportedValues {
    values: HashSet<(String, String)>,
    installed: HashSet<String>,
}

impl ReportedValues {
    /// Records that `value_path` was reported for `key`; false when it already was.
    pub fn insert(&mut self, value_path: &str, key: &ProductKey) -> bool {
        self.values.insert((value_path.to_lowercase(), key.fingerprint()))
    }

    /// Records `key` as installed (read from the installed-key values).
    pub fn add_installed(&mut self, key: &ProductKey) {
        self.installed.insert(key.fingerprint());
    }

    /// Whether `key` was recorded as installed.
    pub fn is_installed(&self, key: &ProductKey) -> bool {
        self.installed.contains(&key.fingerprint())
    }
}

/// What reading a SOFTWARE hive produced: the identity and the installed-key findings, plus
/// `MG903` findings for keys or values that could not be read. The identity is what
/// `Microsoft\Windows NT\CurrentVersion` says (edition, product name, build, UBR, display
/// version, installation type); its root and key-configuration files are the image scan's to
/// fill in.
#[derive(Debug, Clone, Default)]
pub(crate) struct SoftwareReadout {
    pub identity: ImageInfo,
    pub findings: Vec<Finding>,
    /// Keys the whole-hive search visited (every key of an intact hive).
    pub keys_searched: u64,
}

/// Why the key bytes of a `DigitalProductId` do not give a key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DigitalProductIdError {
    /// The value is shorter than the key bytes' end (offset 67); holds its length in bytes.
    #[error("it is {0} bytes long, too short to hold the key bytes at offsets 52..67")]
    TooShort(usize),
    /// The key bytes do not decode to a product key (out of range for the key form byte 66
    /// names).
    #[error("its key bytes do not encode a product key")]
    OutOfRange,
}

/// Decodes the installed key from a `DigitalProductId` value. `Ok(None)` when the key bytes
/// are all zero, which is what `slmgr /cpky` leaves behind.
///
/// # Errors
///
/// [`DigitalProductIdError::TooShort`] when `data` ends before the key bytes;
/// [`DigitalProductIdError::OutOfRange`] when they do not decode to a key.
pub fn decode_digital_product_id(data: &[u8]) -> Result<Option<ProductKey>, DigitalProductIdError> {
    let key_bytes = data
        .get(DPID_KEY_OFFSET..DPID_KEY_OFFSET + DPID_KEY_LEN)
        .ok_or(DigitalProductIdError::TooShort(data.len()))?;
    if key_bytes.iter().all(|&b| b == 0) {
        return Ok(None);
    }
    let mut le = [0u8; 16];
    le[..DPID_KEY_LEN].copy_from_slice(key_bytes);
    let n_form = le[DPID_NFORM_BYTE - DPID_KEY_OFFSET] & DPID_NFORM_MASK != 0;
    le[DPID_NFORM_BYTE - DPID_KEY_OFFSET] &= !DPID_NFORM_MASK;
    let value = u128::from_le_bytes(le);
    let key = if n_form {
        ProductKey::from_pkey2009_value(value)
    } else {
        ProductKey::from_legacy_value(value)
    };
    key.map(Some).ok_or(DigitalProductIdError::OutOfRange)
}

/// The fields of a `DigitalProductId4` that say what kind of key is installed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigitalProductId4 {
    /// `ProductKeyType` at 0x3F8, e.g. `Volume:MAK`.
    pub key_type: Option<String>,
    /// Edition ID at 0x378.
    pub edition_id: Option<String>,
}

/// Reads the key type and edition ID from a `DigitalProductId4` value; fields that lie beyond
/// the data are `None`.
pub fn parse_digital_product_id4(data: &[u8]) -> DigitalProductId4 {
    DigitalProductId4 {
        key_type: utf16_field(data, DPID4_KEY_TYPE_OFFSET),
        edition_id: utf16_field(data, DPID4_EDITION_ID_OFFSET),
    }
}

fn utf16_field(data: &[u8], offset: usize) -> Option<String> {
    let field = data.get(offset..)?;
    let field = &field[..field.len().min(DPID4_FIELD_LEN)];
    let units: Vec<u16> = field
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
        .take_while(|&unit| unit != 0)
        .collect();
    let text = String::from_utf16_lossy(&units).trim().to_string();
    (!text.is_empty()).then_some(text)
}

/// The remediation for an installed key, with the GVLK for the image's edition spelled out.
pub(crate) fn remediation(edition_id: Option<&str>, build: Option<u32>) -> String {
    const TABLE: &str = "https://learn.microsoft.com/windows-server/get-started/kms-client-activation-keys";
    let Some(edition_id) = edition_id else {
        return format!(
            "The image's EditionID could not be read, so makguard cannot choose its KMS client key (GVLK). \
Look up the GVLK for the image's edition ({TABLE}) and install it: offline, \
`DISM /Image:<mount> /Set-ProductKey:<GVLK>`; or on the reference machine before capture, \
`slmgr /ipk <GVLK>` and then `slmgr /cpky`."
        );
    };
    match catalog::windows_gvlk_for(edition_id, build) {
        Ok(entry) => {
            let gvlk = entry.key.reveal_unmasked();
            format!(
                "Install the KMS client key (GVLK) for the image's edition {edition_id} ({}): offline, run \
`DISM /Image:<mount> /Set-ProductKey:{gvlk}`; or on the reference machine before capture, run \
`slmgr /ipk {gvlk}` and then `slmgr /cpky`.",
                entry.edition
            )
        }
        Err(error) => {
            let why = match &error {
                GvlkLookupError::UnknownEdition(_) => format!(
                    "Microsoft publishes no KMS client key (GVLK) for edition {edition_id}, so it cannot be \
volume-activated with KMS; deploy a volume-licensable edition or activate each machine after deployment"
                ),
                GvlkLookupError::NoKeyForBuild { .. } | GvlkLookupError::NeedsBuild { .. } => error.to_string(),
            };
            format!(
                "{why}. Install the GVLK for the edition you deploy ({TABLE}) instead of the installed key: \
offline, `DISM /Image:<mount> /Set-ProductKey:<GVLK>`; or on the reference machine before capture, \
`slmgr /ipk <GVLK>` and then `slmgr /cpky`."
            )
        }
    }
}

/// Reads the identity, the installed keys and the logon commands from an opened SOFTWARE
/// hive, then searches the rest of it. `hive_path` is the hive file's path relative to the
/// image root; every finding is reported there.
pub(crate) fn read_software_hive(hive: &Hive, hive_path: &FindingPath, key_config: &KeyConfigIndex) -> SoftwareReadout {
    let scope = HiveScope::software(hive_path, key_config);
    let mut reader = HiveReader {
        hive_path,
        key_config,
        findings: Vec::new(),
        remediation: String::new(),
        reported: ReportedValues::default(),
    };
    let identity = reader.read_installed_keys(hive);
    let run_findings = run_keys::scan_run_keys(
        hive,
        &scope,
        run_keys::MACHINE_RUN_KEYS,
        &reader.remediation,
        &mut reader.reported,
    );
    reader.findings.extend(run_findings);
    let installed_classes = installed_classes(&reader.findings);
    let search = hive_search::search_hive(
        hive,
        &mut SearchContext {
            scope: &scope,
            reported: &mut reader.reported,
            installed_key_paths: &[CURRENT_VERSION, CURRENT_VERSION_WOW64],
            installed_classes: &installed_classes,
        },
    );
    reader.findings.extend(search.findings);
    SoftwareReadout {
        identity,
        findings: reader.findings,
        keys_searched: search.keys_visited,
    }
}

/// The classes of the installed keys found, which the whole-hive search compares copies with.
fn installed_classes(findings: &[Finding]) -> Vec<KeyClass> {
    findings
        .iter()
        .filter_map(|f| {
            if f.rule == &rules::MAK_INSTALLED {
                Some(KeyClass::Mak)
            } else if f.rule == &rules::CSVLK_INSTALLED {
                Some(KeyClass::Csvlk)
            } else {
                None
            }
        })
        .collect()
}

/// What a hive other than SOFTWARE produced: its findings and how much of it was searched.
#[derive(Debug, Clone, Default)]
pub(crate) struct HiveReadout {
    pub findings: Vec<Finding>,
    pub keys_searched: u64,
}

/// Searches an opened SYSTEM hive: every string value (MG311).
pub(crate) fn read_system_hive(hive: &Hive, hive_path: &FindingPath, key_config: &KeyConfigIndex) -> HiveReadout {
    let scope = HiveScope::system(hive_path, key_config);
    search_every_string(hive, &scope, &mut ReportedValues::default(), Vec::new())
}

/// Reads an opened Default user hive (`Users/Default/NTUSER.DAT`): its `Run`, `RunOnce` and
/// `RunOnceEx` commands (MG306), then every string value (MG311). `remediation` is the
/// SOFTWARE hive's (the GVLK for the image's edition).
pub(crate) fn read_default_user_hive(
    hive: &Hive,
    hive_path: &FindingPath,
    key_config: &KeyConfigIndex,
    remediation: &str,
) -> HiveReadout {
    let scope = HiveScope::default_user(hive_path, key_config);
    let mut reported = ReportedValues::default();
    let findings = run_keys::scan_run_keys(hive, &scope, run_keys::USER_RUN_KEYS, remediation, &mut reported);
    search_every_string(hive, &scope, &mut reported, findings)
}

/// `findings` so far, then every string value of a hive that holds no installed key (MG311),
/// leaving out the values already `reported`.
fn search_every_string(
    hive: &Hive,
    scope: &HiveScope<'_>,
    reported: &mut ReportedValues,
    mut findings: Vec<Finding>,
) -> HiveReadout {
    let search = hive_search::search_hive(
        hive,
        &mut SearchContext {
            scope,
            reported,
            installed_key_paths: &[],
            installed_classes: &[],
        },
    );
    findings.extend(search.findings);
    HiveReadout {
        findings,
        keys_searched: search.keys_visited,
    }
}

/// What `DigitalProductId` says of the installed key.
struct InstalledKeyBytes {
    key: Option<ProductKey>,
    /// The key bytes are zero (`slmgr /cpky`), though a key is installed.
    cleared: bool,
    /// The value is there but does not decode to a key.
    undecodable: bool,
}

/// Decodes `DigitalProductId` (at `dpid_path`), saying in `parts` why when it does not decode.
fn read_installed_key(dpid: Option<&[u8]>, dpid_path: &str, parts: &mut Vec<String>) -> InstalledKeyBytes {
    let mut installed = InstalledKeyBytes {
        key: None,
        cleared: false,
        undecodable: false,
    };
    match dpid.map(decode_digital_product_id) {
        Some(Ok(Some(key))) => installed.key = Some(key),
        Some(Ok(None)) => installed.cleared = true,
        Some(Err(error)) => {
            installed.undecodable = true;
            parts.push(format!(
                "`{dpid_path}` holds an installed key that cannot be decoded: {error}"
            ));
        }
        None => {}
    }
    installed
}

/// The class of the installed key and what decided it: the key type `DigitalProductId4`
/// gives, unless the key's own classification is riskier; a key nothing classifies (or one
/// that does not decode) is non-KMS by its shape. `None` when there is nothing installed.
fn installed_verdict(
    type_class: Option<KeyClass>,
    own: Option<&Classification>,
    undecodable: bool,
) -> Option<(KeyClass, ClassSource)> {
    let mut verdict: Option<(KeyClass, ClassSource)> = type_class.map(|c| (c, ClassSource::RegistryKeyType));
    if let Some(own) = own.filter(|c| c.source != ClassSource::Shape)
        && verdict.is_none_or(|(class, _)| risk(own.class) > risk(class))
    {
        verdict = Some((own.class, own.source));
    }
    if verdict.is_none() && (own.is_some() || undecodable) {
        verdict = Some((KeyClass::NonKms, ClassSource::Shape));
    }
    verdict
}

/// The verdict on an installed key and where its two values live.
struct InstalledVerdict<'p> {
    rule: &'static Rule,
    class: KeyClass,
    source: ClassSource,
    dpid_path: &'p str,
    dpid4_path: &'p str,
}

/// The installed key with the classification the verdict gives it, and its part of the message.
fn installed_key_info(
    verdict: &InstalledVerdict<'_>,
    key: Option<ProductKey>,
    own: Option<Classification>,
    dpid4: &DigitalProductId4,
    parts: &mut Vec<String>,
) -> Option<KeyInfo> {
    let (Some(key), Some(own)) = (key, own) else {
        return None;
    };
    let InstalledVerdict {
        rule,
        class,
        source,
        dpid_path,
        ..
    } = *verdict;
    // An unconfirmed GVLK claim must not call the key a GVLK: say what the key is.
    let classification = if own.source == source || rule == &rules::INSTALLED_GVLK_UNVERIFIED {
        own.clone()
    } else {
        Classification {
            class,
            source,
            product: None,
            edition: dpid4.edition_id.clone().or_else(|| own.edition.clone()),
            edition_id: dpid4.edition_id.clone().or_else(|| own.edition_id.clone()),
            checksum: own.checksum,
        }
    };
    parts.push(format!(
        "`{dpid_path}` holds {}, a {}",
        key.display_form(),
        classification.describe()
    ));
    if own.source != source && own.source != ClassSource::Shape {
        if own.class == class {
            parts.push(format!("the {} agrees: {}", own.source.as_str(), own.describe()));
        } else {
            parts.push(format!("the key's own group says {}", own.describe()));
        }
    }
    Some(KeyInfo::new(key, classification))
}

impl InstalledVerdict<'_> {
    /// The notes that explain the verdict: a cleared key still installed, an unconfirmed or
    /// contradicted GVLK claim, a GVLK for another edition, a key type with no key.
    fn explain(
        &self,
        installed: &InstalledKeyBytes,
        key_info: Option<&KeyInfo>,
        identity: &ImageInfo,
        parts: &mut Vec<String>,
    ) {
        let InstalledVerdict {
            rule,
            class,
            source,
            dpid_path,
            dpid4_path,
        } = *self;
        let InstalledKeyBytes {
            cleared, undecodable, ..
        } = *installed;
        if cleared && class != KeyClass::Gvlk {
            parts.push(format!(
                "the key bytes of `{dpid_path}` are cleared (as `slmgr /cpky` leaves them), but the key is still installed"
            ));
        }
        if rule == &rules::INSTALLED_GVLK_UNVERIFIED {
            parts.push(
                "neither the built-in catalog nor the image's key configuration knows the key as a KMS client key (GVLK), \
so the `Volume:GVLK` claim is unconfirmed"
                    .to_string(),
            );
        } else if rule == &rules::INSTALLED_KEY_TYPE_CONTRADICTED {
            parts.push(format!(
                "the image's key configuration contradicts the `Volume:GVLK` claim of `{dpid4_path}`"
            ));
        } else if class == KeyClass::Gvlk {
            if let (Some(image_edition), Some(key_edition)) = (
                identity.edition_id.as_deref(),
                key_info.and_then(|k| k.classification.edition_id.as_deref()),
            ) && !image_edition.eq_ignore_ascii_case(key_edition)
            {
                parts.push(format!(
                    "note that the image's EditionID is {image_edition}; KMS activation needs the GVLK for that edition"
                ));
            }
        } else if source == ClassSource::RegistryKeyType && key_info.is_none() && !cleared && !undecodable {
            parts.push(format!("`{dpid_path}` holds no key to fingerprint"));
        }
    }
}

/// Windows' own `CurrentVersion` names the edition or the product, or holds the installed
/// key. A per-user `CurrentVersion` (an NTUSER hive's `Software` subtree in SOFTWARE's place)
/// has none of these.
fn looks_like_windows_current_version(current_version: &Key<'_>, identity: &ImageInfo) -> bool {
    identity.edition_id.is_some()
        || identity.product_name.is_some()
        || ["DigitalProductId", "DigitalProductId4"]
            .iter()
            .any(|name| !matches!(current_version.value(name), Ok(None)))
}

fn foreign_current_version(hive_path: &FindingPath) -> Finding {
    Finding::new(
        &rules::INSTALLED_KEY_UNCHECKED,
        hive_path.clone(),
        format!(
            "`{HIVE_PREFIX}\\{CURRENT_VERSION}` names no edition or product and holds no DigitalProductId, so the \
installed key could not be checked; is this the image's own SOFTWARE hive?"
        ),
    )
}

fn missing_current_version(hive_path: &FindingPath) -> Finding {
    Finding::new(
        &rules::INSTALLED_KEY_UNCHECKED,
        hive_path.clone(),
        format!(
            "the SOFTWARE hive has no `{HIVE_PREFIX}\\{CURRENT_VERSION}` key, so the image's edition and its installed \
key (DigitalProductId, DigitalProductId4) could not be checked; is this the image's own SOFTWARE hive?"
        ),
    )
}

fn registry_path(key_path: &str, value: &str) -> String {
    format!(r"{HIVE_PREFIX}\{key_path}\{value}")
}

/// Risk order for choosing between two verdicts on one installed key: the worse one wins.
fn risk(class: KeyClass) -> u8 {
    match class {
        KeyClass::Csvlk => 5,
        KeyClass::Mak => 4,
        KeyClass::NonKms => 3,
        KeyClass::Retail | KeyClass::Oem => 2,
        KeyClass::Gvlk => 1,
        KeyClass::Placeholder | KeyClass::Partial | KeyClass::Malformed => 0,
    }
}

fn installed_rule(class: KeyClass) -> &'static Rule {
    match class {
        KeyClass::Gvlk => &rules::INSTALLED_GVLK,
        KeyClass::Mak => &rules::MAK_INSTALLED,
        KeyClass::Csvlk => &rules::CSVLK_INSTALLED,
        KeyClass::Retail | KeyClass::Oem => &rules::RETAIL_OR_OEM_INSTALLED,
        _ => &rules::INSTALLED_NON_KMS_KEY,
    }
}

/// The rule for one installed-key verdict. A `DigitalProductId4` that says `Volume:GVLK` is
/// only a claim: unconfirmed by any source it is `MG308`, and contradicted by the image's key
/// configuration (a retail or OEM group; MAK and KMS host groups have their own errors) `MG309`.
fn installed_key_rule(
    type_class: Option<KeyClass>,
    class: KeyClass,
    source: ClassSource,
    own: Option<&Classification>,
    undecodable: bool,
) -> &'static Rule {
    let claims_gvlk = type_class == Some(KeyClass::Gvlk);
    let unconfirmed = undecodable || own.is_some_and(|own| own.source == ClassSource::Shape);
    if claims_gvlk && class == KeyClass::Gvlk && unconfirmed {
        &rules::INSTALLED_GVLK_UNVERIFIED
    } else if claims_gvlk
        && matches!(class, KeyClass::Retail | KeyClass::Oem)
        && source == ClassSource::ImageKeyConfiguration
    {
        &rules::INSTALLED_KEY_TYPE_CONTRADICTED
    } else {
        installed_rule(class)
    }
}

struct HiveReader<'a> {
    hive_path: &'a FindingPath,
    key_config: &'a KeyConfigIndex,
    findings: Vec<Finding>,
    remediation: String,
    reported: ReportedValues,
}

impl HiveReader<'_> {
    fn corrupt(&mut self, what: &str, error: &HiveError) {
        self.findings.push(Finding::new(
            &rules::HIVE_CORRUPT,
            self.hive_path.clone(),
            format!("{what} could not be read: {error}; installed keys there were not checked"),
        ));
    }

    fn key<'h>(&mut self, hive: &'h Hive, path: &str) -> Option<Key<'h>> {
        match hive.key(path) {
            Ok(key) => key,
            Err(error) => {
                self.corrupt(&format!(r"{HIVE_PREFIX}\{path}"), &error);
                None
            }
        }
    }

    fn value(&mut self, key: &Key<'_>, key_path: &str, name: &str) -> Option<ValueData> {
        let result = key.value(name).and_then(|value| value.map(|v| v.data()).transpose());
        match result {
            Ok(data) => data,
            Err(error) => {
                self.corrupt(&registry_path(key_path, name), &error);
                None
            }
        }
    }

    fn string(&mut self, key: &Key<'_>, key_path: &str, name: &str) -> Option<String> {
        let (ValueData::Sz(text) | ValueData::ExpandSz(text)) = self.value(key, key_path, name)? else {
            return None;
        };
        let text = text.trim_end_matches('\0').trim().to_string();
        (!text.is_empty()).then_some(text)
    }

    fn number(&mut self, key: &Key<'_>, key_path: &str, name: &str) -> Option<u32> {
        match self.value(key, key_path, name)? {
            ValueData::Dword(n) | ValueData::DwordBigEndian(n) => Some(n),
            ValueData::Qword(n) => u32::try_from(n).ok(),
            ValueData::Sz(text) | ValueData::ExpandSz(text) => text.trim_end_matches('\0').trim().parse().ok(),
            _ => None,
        }
    }

    fn binary(&mut self, key: &Key<'_>, key_path: &str, name: &str) -> Option<Vec<u8>> {
        match self.value(key, key_path, name)? {
            ValueData::Binary(bytes) => Some(bytes),
            ValueData::Other { .. } | ValueData::None => {
                // Some tools store binary blobs with an unusual type; the bytes are what count.
                key.value(name).ok().flatten().and_then(|v| v.raw_data().ok())
            }
            _ => None,
        }
    }

    /// Reads `CurrentVersion` (native and WOW6432Node): the identity, the installed keys and
    /// their backups, recording each installed key as reported. Sets the remediation the
    /// later findings carry; returns the identity.
    fn read_installed_keys(&mut self, hive: &Hive) -> ImageInfo {
        let current_version = match hive.key(CURRENT_VERSION) {
            Ok(Some(key)) => Some(key),
            Ok(None) => {
                self.findings.push(missing_current_version(self.hive_path));
                None
            }
            Err(error) => {
                self.corrupt(&format!(r"{HIVE_PREFIX}\{CURRENT_VERSION}"), &error);
                None
            }
        };
        let identity = current_version
            .as_ref()
            .map(|key| self.identity(key))
            .unwrap_or_default();
        self.remediation = remediation(identity.edition_id.as_deref(), identity.build);
        if let Some(current_version) = &current_version {
            if !looks_like_windows_current_version(current_version, &identity) {
                self.findings.push(foreign_current_version(self.hive_path));
            }
            self.installed_key(current_version, CURRENT_VERSION, &identity);
            self.backup_product_key(hive, CURRENT_VERSION);
        }
        let native = self.findings.len();
        if let Some(wow64) = self.key(hive, CURRENT_VERSION_WOW64) {
            self.installed_key(&wow64, CURRENT_VERSION_WOW64, &identity);
            self.backup_product_key(hive, CURRENT_VERSION_WOW64);
        }
        self.drop_mirrored(native);
        for finding in &self.findings {
            if let Some(info) = &finding.key {
                self.reported.add_installed(&info.key);
            }
        }
        identity
    }

    fn identity(&mut self, current_version: &Key<'_>) -> ImageInfo {
        let build = self
            .number(current_version, CURRENT_VERSION, "CurrentBuild")
            .or_else(|| self.number(current_version, CURRENT_VERSION, "CurrentBuildNumber"));
        ImageInfo {
            edition_id: self.string(current_version, CURRENT_VERSION, "EditionID"),
            product_name: self.string(current_version, CURRENT_VERSION, "ProductName"),
            build,
            ubr: self.number(current_version, CURRENT_VERSION, "UBR"),
            display_version: self.string(current_version, CURRENT_VERSION, "DisplayVersion"),
            installation_type: self.string(current_version, CURRENT_VERSION, "InstallationType"),
            ..ImageInfo::default()
        }
    }

    fn push_installed(&mut self, rule: &'static Rule, message: String, key: Option<KeyInfo>, with_remediation: bool) {
        let mut finding = Finding::new(rule, self.hive_path.clone(), message);
        if with_remediation {
            finding.message = format!("{}. {}", finding.message, self.remediation);
            finding.detail = Detail::Remediation(self.remediation.clone());
        }
        finding.key = key;
        self.findings.push(finding);
    }

    /// `DigitalProductId` (the key) and `DigitalProductId4` (its type) together make one
    /// verdict on the installed key: the worse of the two sources wins, so a key that either
    /// source calls a MAK is reported as one.
    fn installed_key(&mut self, current_version: &Key<'_>, key_path: &str, identity: &ImageInfo) {
        let dpid_path = registry_path(key_path, "DigitalProductId");
        let dpid4_path = registry_path(key_path, "DigitalProductId4");
        let dpid = self.binary(current_version, key_path, "DigitalProductId");
        let dpid4 = self
            .binary(current_version, key_path, "DigitalProductId4")
            .map(|data| parse_digital_product_id4(&data))
            .unwrap_or_default();

        let mut parts: Vec<String> = Vec::new();
        let mut installed = read_installed_key(dpid.as_deref(), &dpid_path, &mut parts);
        let own = installed
            .key
            .as_ref()
            .map(|key| classify_key(key, Some(self.key_config)));
        let type_class = dpid4.key_type.as_deref().and_then(KeyClass::from_product_key_type);
        let Some((class, source)) = installed_verdict(type_class, own.as_ref(), installed.undecodable) else {
            return;
        };
        let rule = installed_key_rule(type_class, class, source, own.as_ref(), installed.undecodable);

        if let Some(key_type) = &dpid4.key_type {
            let edition = dpid4
                .edition_id
                .as_deref()
                .map(|e| format!(" for edition {e}"))
                .unwrap_or_default();
            parts.insert(
                0,
                format!("`{dpid4_path}` says the installed key is `{key_type}`{edition}"),
            );
        }
        let verdict = InstalledVerdict {
            rule,
            class,
            source,
            dpid_path: &dpid_path,
            dpid4_path: &dpid4_path,
        };
        let key_info = installed_key_info(&verdict, installed.key.take(), own, &dpid4, &mut parts);
        verdict.explain(&installed, key_info.as_ref(), identity, &mut parts);
        let message = parts.join("; ");
        let with_remediation = rule != &rules::INSTALLED_GVLK;
        self.push_installed(rule, message, key_info, with_remediation);
    }

    /// Drops findings from index `from` on that repeat an earlier finding's rule and key: the
    /// 32-bit view normally mirrors the native one, and one installed key is one finding.
    fn drop_mirrored(&mut self, from: usize) {
        let (earlier, later) = self.findings.split_at(from.min(self.findings.len()));
        let same = |a: &Finding, b: &Finding| {
            a.rule == b.rule
                && a.key.as_ref().map(|k| k.key.fingerprint()) == b.key.as_ref().map(|k| k.key.fingerprint())
        };
        let kept: Vec<Finding> = later
            .iter()
            .filter(|finding| finding.rule.is_incomplete_scan() || !earlier.iter().any(|native| same(native, finding)))
            .cloned()
            .collect();
        self.findings.truncate(from);
        self.findings.extend(kept);
    }

    fn backup_product_key(&mut self, hive: &Hive, current_version_path: &str) {
        let key_path = format!(r"{current_version_path}\{SOFTWARE_PROTECTION}");
        let Some(spp) = self.key(hive, &key_path) else {
            return;
        };
        let Some(text) = self.string(&spp, &key_path, "BackupProductKeyDefault") else {
            return;
        };
        let SlotValue::Key(key) = classify_slot(&text) else {
            return;
        };
        let classification = classify_key(&key, Some(self.key_config));
        if classification.class == KeyClass::Gvlk {
            return;
        }
        self.reported
            .insert(&registry_path(&key_path, "BackupProductKeyDefault"), &key);
        let message = format!(
            "`{}` keeps {}, a {}, in plain text",
            registry_path(&key_path, "BackupProductKeyDefault"),
            key.display_form(),
            classification.describe()
        );
        self.push_installed(
            &rules::BACKUP_PRODUCT_KEY,
            message,
            Some(KeyInfo::new(key, classification)),
            true,
        );
    }
}
