//! The image's offline SOFTWARE hive: its identity (`Microsoft\Windows NT\CurrentVersion`) and
//! the installed-key rules (`MG300`–`MG306`).
//!
//! An installed key cannot be repaired by editing a file, so every installed-key finding
//! carries a remediation that spells out the `DISM` and `slmgr` commands with the GVLK for
//! the image's edition. Registry layouts follow key-format.md §5 and key-locations.md §9.

use makguard_core::catalog::{self, GvlkLookupError};
use makguard_core::rules;
use makguard_core::{
    ClassSource, Classification, Finding, FindingPath, KeyClass, KeyConfigIndex, KeyInfo, ProductKey, Rule, SlotValue,
    classify_key, classify_slot,
};
use makguard_hive::{Hive, HiveError, Key, ValueData};
use thiserror::Error;

use crate::keyscan;

/// The SOFTWARE hive's path below an image root (resolved without regard to letter case).
pub const SOFTWARE_HIVE_COMPONENTS: &[&str] = &["Windows", "System32", "config", "SOFTWARE"];

/// How registry paths are named in messages: the hive as Windows mounts it.
const HIVE_PREFIX: &str = r"HKLM\SOFTWARE";
const CURRENT_VERSION: &str = r"Microsoft\Windows NT\CurrentVersion";
/// The 32-bit view of `CurrentVersion`; it usually mirrors the native one, but a key installed
/// by a 32-bit tool may be only here.
const CURRENT_VERSION_WOW64: &str = r"WOW6432Node\Microsoft\Windows NT\CurrentVersion";
const SOFTWARE_PROTECTION: &str = "SoftwareProtectionPlatform";
/// `Run`/`RunOnce` keys, native and 32-bit view: their commands run at every (first) logon.
const RUN_KEYS: &[&str] = &[
    r"Microsoft\Windows\CurrentVersion\Run",
    r"Microsoft\Windows\CurrentVersion\RunOnce",
    r"WOW6432Node\Microsoft\Windows\CurrentVersion\Run",
    r"WOW6432Node\Microsoft\Windows\CurrentVersion\RunOnce",
];

/// `DigitalProductId`: the key integer's 15 bytes start at 52; byte 66 bit 3 marks an N-form key.
const DPID_KEY_OFFSET: usize = 52;
const DPID_KEY_LEN: usize = 15;
const DPID_NFORM_BYTE: usize = 66;
const DPID_NFORM_MASK: u8 = 0x08;
/// `DigitalProductId4`: UTF-16LE fields of 128 bytes.
const DPID4_EDITION_ID_OFFSET: usize = 0x378;
const DPID4_KEY_TYPE_OFFSET: usize = 0x3F8;
const DPID4_FIELD_LEN: usize = 128;

/// What `Microsoft\Windows NT\CurrentVersion` says about the image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageIdentity {
    pub edition_id: Option<String>,
    pub product_name: Option<String>,
    /// `CurrentBuild`, or `CurrentBuildNumber` when that is missing.
    pub build: Option<u32>,
    pub ubr: Option<u32>,
    pub display_version: Option<String>,
    pub installation_type: Option<String>,
}

/// What reading a SOFTWARE hive produced: the identity and the installed-key findings, plus
/// `MG903` findings for keys or values that could not be read.
#[derive(Debug, Clone, Default)]
pub struct SoftwareReadout {
    pub identity: ImageIdentity,
    pub findings: Vec<Finding>,
}

/// Why the key bytes of a `DigitalProductId` do not give a key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DigitalProductIdError {
    #[error("it is {0} bytes long, too short to hold the key bytes at offsets 52..67")]
    TooShort(usize),
    #[error("its key bytes do not encode a product key")]
    OutOfRange,
}

/// Decodes the installed key from a `DigitalProductId` value. `Ok(None)` when the key bytes
/// are all zero, which is what `slmgr /cpky` leaves behind.
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
pub fn remediation(edition_id: Option<&str>, build: Option<u32>) -> String {
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

/// Reads the identity and the installed keys from an opened SOFTWARE hive. `hive_path` is the
/// hive file's path relative to the image root; every finding is reported there.
pub fn read_software_hive(hive: &Hive, hive_path: &FindingPath, key_config: &KeyConfigIndex) -> SoftwareReadout {
    let mut reader = HiveReader {
        hive_path,
        key_config,
        findings: Vec::new(),
        remediation: String::new(),
    };
    let current_version = reader.key(hive, CURRENT_VERSION);
    let identity = current_version
        .as_ref()
        .map(|key| reader.identity(key))
        .unwrap_or_default();
    reader.remediation = remediation(identity.edition_id.as_deref(), identity.build);
    if let Some(current_version) = &current_version {
        reader.installed_key(current_version, CURRENT_VERSION, &identity);
        reader.backup_product_key(hive, CURRENT_VERSION);
    }
    let native = reader.findings.len();
    if let Some(wow64) = reader.key(hive, CURRENT_VERSION_WOW64) {
        reader.installed_key(&wow64, CURRENT_VERSION_WOW64, &identity);
        reader.backup_product_key(hive, CURRENT_VERSION_WOW64);
    }
    reader.drop_mirrored(native);
    for run_key in RUN_KEYS {
        reader.run_key(hive, run_key);
    }
    SoftwareReadout {
        identity,
        findings: reader.findings,
    }
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

struct HiveReader<'a> {
    hive_path: &'a FindingPath,
    key_config: &'a KeyConfigIndex,
    findings: Vec<Finding>,
    remediation: String,
}

impl<'a> HiveReader<'a> {
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
        let text = match self.value(key, key_path, name)? {
            ValueData::Sz(text) | ValueData::ExpandSz(text) => text,
            _ => return None,
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

    fn identity(&mut self, current_version: &Key<'_>) -> ImageIdentity {
        let build = self
            .number(current_version, CURRENT_VERSION, "CurrentBuild")
            .or_else(|| self.number(current_version, CURRENT_VERSION, "CurrentBuildNumber"));
        ImageIdentity {
            edition_id: self.string(current_version, CURRENT_VERSION, "EditionID"),
            product_name: self.string(current_version, CURRENT_VERSION, "ProductName"),
            build,
            ubr: self.number(current_version, CURRENT_VERSION, "UBR"),
            display_version: self.string(current_version, CURRENT_VERSION, "DisplayVersion"),
            installation_type: self.string(current_version, CURRENT_VERSION, "InstallationType"),
        }
    }

    fn push_installed(&mut self, rule: &'static Rule, message: String, key: Option<KeyInfo>, with_remediation: bool) {
        let mut finding = Finding::new(rule, self.hive_path.clone(), message);
        if with_remediation {
            finding.message = format!("{}. {}", finding.message, self.remediation);
            finding.remediation = Some(self.remediation.clone());
        }
        finding.key = key;
        self.findings.push(finding);
    }

    /// `DigitalProductId` (the key) and `DigitalProductId4` (its type) together make one
    /// verdict on the installed key: the worse of the two sources wins, so a key that either
    /// source calls a MAK is reported as one.
    fn installed_key(&mut self, current_version: &Key<'_>, key_path: &str, identity: &ImageIdentity) {
        let dpid_path = registry_path(key_path, "DigitalProductId");
        let dpid4_path = registry_path(key_path, "DigitalProductId4");
        let dpid = self.binary(current_version, key_path, "DigitalProductId");
        let dpid4 = self
            .binary(current_version, key_path, "DigitalProductId4")
            .map(|data| parse_digital_product_id4(&data))
            .unwrap_or_default();

        let mut parts: Vec<String> = Vec::new();
        let mut undecodable = false;
        let mut cleared = false;
        let key = match dpid.as_deref().map(decode_digital_product_id) {
            Some(Ok(Some(key))) => Some(key),
            Some(Ok(None)) => {
                cleared = true;
                None
            }
            Some(Err(error)) => {
                undecodable = true;
                parts.push(format!(
                    "`{dpid_path}` holds an installed key that cannot be decoded: {error}"
                ));
                None
            }
            None => None,
        };
        let own = key.as_ref().map(|key| classify_key(key, Some(self.key_config)));
        let type_class = dpid4.key_type.as_deref().and_then(KeyClass::from_product_key_type);

        let mut verdict: Option<(KeyClass, ClassSource)> = type_class.map(|c| (c, ClassSource::RegistryKeyType));
        if let Some(own) = own.as_ref().filter(|c| c.source != ClassSource::Shape)
            && verdict.is_none_or(|(class, _)| risk(own.class) > risk(class))
        {
            verdict = Some((own.class, own.source));
        }
        if verdict.is_none() && (own.is_some() || undecodable) {
            verdict = Some((KeyClass::NonKms, ClassSource::Shape));
        }
        let Some((class, source)) = verdict else {
            return;
        };

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
        let key_info = match (key, own) {
            (Some(key), Some(own)) => {
                let classification = if own.source == source {
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
                Some(KeyInfo { key, classification })
            }
            _ => None,
        };
        if cleared && class != KeyClass::Gvlk {
            parts.push(format!(
                "the key bytes of `{dpid_path}` are cleared (as `slmgr /cpky` leaves them), but the key is still installed"
            ));
        }
        if class == KeyClass::Gvlk {
            if let (Some(image_edition), Some(key_edition)) = (
                identity.edition_id.as_deref(),
                key_info.as_ref().and_then(|k| k.classification.edition_id.as_deref()),
            ) && !image_edition.eq_ignore_ascii_case(key_edition)
            {
                parts.push(format!(
                    "note that the image's EditionID is {image_edition}; KMS activation needs the GVLK for that edition"
                ));
            }
        } else if source == ClassSource::RegistryKeyType && key_info.is_none() && !cleared && !undecodable {
            parts.push(format!("`{dpid_path}` holds no key to fingerprint"));
        }
        let message = parts.join("; ");
        self.push_installed(installed_rule(class), message, key_info, class != KeyClass::Gvlk);
    }

    /// Drops findings from index `from` on that repeat an earlier finding's rule and key: the
    /// 32-bit view normally mirrors the native one, and one installed key is one finding.
    fn drop_mirrored(&mut self, from: usize) {
        let (earlier, later) = self.findings.split_at(from.min(self.findings.len()));
        let same = |a: &Finding, b: &Finding| {
            a.rule.code == b.rule.code
                && a.key.as_ref().map(|k| k.key.fingerprint()) == b.key.as_ref().map(|k| k.key.fingerprint())
        };
        let kept: Vec<Finding> = later
            .iter()
            .filter(|finding| {
                finding.rule.code.starts_with("MG9") || !earlier.iter().any(|native| same(native, finding))
            })
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
        let message = format!(
            "`{}` keeps {}, a {}, in plain text",
            registry_path(&key_path, "BackupProductKeyDefault"),
            key.display_form(),
            classification.describe()
        );
        self.push_installed(
            &rules::BACKUP_PRODUCT_KEY,
            message,
            Some(KeyInfo { key, classification }),
            true,
        );
    }

    fn run_key(&mut self, hive: &Hive, key_path: &str) {
        let Some(run) = self.key(hive, key_path) else {
            return;
        };
        let values = match run.values() {
            Ok(values) => values,
            Err(error) => {
                self.corrupt(&format!(r"{HIVE_PREFIX}\{key_path}"), &error);
                return;
            }
        };
        for value in values {
            let name = value.name();
            let command = match value.data() {
                Ok(ValueData::Sz(text) | ValueData::ExpandSz(text)) => text,
                Ok(ValueData::MultiSz(lines)) => lines.join("\n"),
                Ok(_) => continue,
                Err(error) => {
                    self.corrupt(&registry_path(key_path, &name), &error);
                    continue;
                }
            };
            for token in keyscan::find_dashed_keys(&command) {
                let Some(install) = keyscan::install_command_before(&command, token.range.start) else {
                    continue;
                };
                let classification = classify_key(&token.key, Some(self.key_config));
                if classification.class == KeyClass::Gvlk {
                    continue;
                }
                let value_label = if name.is_empty() { "(Default)" } else { name.as_str() };
                let message = format!(
                    "`{}` runs `{}` with {}, a {}, at logon of every machine built from the image",
                    registry_path(key_path, value_label),
                    install.describe(),
                    token.key.display_form(),
                    classification.describe()
                );
                let remediation = format!(
                    "Delete the value from the image's registry (offline: `reg load HKLM\\OFFLINE \
<mount>\\Windows\\System32\\config\\SOFTWARE`, `reg delete \"HKLM\\OFFLINE\\{key_path}\" /v \"{value_label}\" /f`, \
`reg unload HKLM\\OFFLINE`). {}",
                    self.remediation
                );
                let mut finding = Finding::new(
                    &rules::RUN_KEY_INSTALLS_KEY,
                    self.hive_path.clone(),
                    format!("{message}. {remediation}"),
                );
                finding.remediation = Some(remediation);
                finding.key = Some(KeyInfo {
                    key: token.key,
                    classification,
                });
                self.findings.push(finding);
            }
        }
    }
}
