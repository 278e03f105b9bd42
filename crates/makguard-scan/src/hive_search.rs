//! The search of a whole hive: every string value (`REG_SZ`, `REG_EXPAND_SZ`, `REG_MULTI_SZ`) for a
//! key (`MG311`), and every `DigitalProductId` / `DigitalProductId4` outside the installed
//! key's own `CurrentVersion` (`MG310`).
//!
//! A real SOFTWARE hive has some 80,000 keys, so the search reads each value's declared
//! length before its data and skips strings too short to hold a key. It runs under the hive
//! reader's work budget: a damaged key or value is an `MG903` finding and the search goes on
//! with its siblings; a budget exhausted stops it with `MG914`, so a partial search never
//! passes as a complete one.

use makguard_core::rules;
use makguard_core::{Detail, Finding, KeyClass, KeyInfo, ProductKey, classify_key};
use makguard_hive::{Hive, HiveError, Key, Value, ValueData, reg_type};

use crate::keyscan;
use crate::registry::{self, HiveScope, ReportedValues};
use crate::textfile;

/// Bytes of UTF-16LE text the shortest key (25 symbols, no dashes) needs.
const SHORTEST_KEY_BYTES: u32 = 50;
/// `DigitalProductId` key bytes end at offset 67.
const SHORTEST_DPID_BYTES: u32 = 67;
/// Damaged keys and values reported one by one before the rest are counted in one finding.
const MAX_DAMAGE_FINDINGS: usize = 16;

/// What the search needs to know beyond the hive: what was reported already.
pub struct SearchContext<'a> {
    /// The hive being searched: how findings name it, and the key configuration.
    pub scope: &'a HiveScope<'a>,
    /// Values reported by a more specific rule, with the key they reported.
    pub reported: &'a mut ReportedValues,
    /// Key paths whose `DigitalProductId` values the installed-key rules read (`CurrentVersion`
    /// and its 32-bit twin); empty for hives without an installed key.
    pub installed_key_paths: &'a [&'a str],
    /// Classes of the installed-key findings already made (MG301–MG304), so that a
    /// `DigitalProductId4` copy elsewhere saying the same is not reported twice.
    pub installed_classes: &'a [KeyClass],
}

/// What the search found and how far it got.
#[derive(Debug, Default)]
pub struct SearchOutcome {
    /// Keys found in strings and `DigitalProductId` values, and damaged keys or values.
    pub findings: Vec<Finding>,
    /// Keys whose values were searched.
    pub keys_visited: u64,
    /// String values long enough to hold a key (50 bytes or more) whose text was searched.
    pub values_searched: u64,
    /// True when the work budget ran out before the end.
    pub stopped: bool,
}

/// Searches every key and value of `hive`.
pub fn search_hive(hive: &Hive, ctx: &mut SearchContext<'_>) -> SearchOutcome {
    let mut search = Search {
        ctx,
        outcome: SearchOutcome::default(),
        damage: Vec::new(),
        damage_count: 0,
    };
    match hive.root() {
        Ok(root) => search.walk(root),
        Err(error) => search.damaged("", &error),
    }
    search.finish()
}

struct Search<'c, 'a> {
    ctx: &'c mut SearchContext<'a>,
    outcome: SearchOutcome,
    damage: Vec<Finding>,
    damage_count: usize,
}

impl Search<'_, '_> {
    fn walk(&mut self, root: Key<'_>) {
        let mut pending = vec![(root, String::new())];
        while let Some((key, path)) = pending.pop() {
            if self.outcome.stopped {
                return;
            }
            self.outcome.keys_visited += 1;
            if let Some(name) = path.rsplit('\\').next() {
                self.name_holding_key(name, &path, None);
            }
            match key.values() {
                Ok(values) => {
                    for value in values {
                        self.value(&value, &path);
                    }
                }
                Err(error) => self.damaged(&path, &error),
            }
            match key.subkeys() {
                Ok(subkeys) => {
                    for subkey in subkeys.into_iter().rev() {
                        let sub_path = if path.is_empty() {
                            subkey.name()
                        } else {
                            format!(r"{path}\{}", subkey.name())
                        };
                        pending.push((subkey, sub_path));
                    }
                }
                Err(error) => self.damaged(&path, &error),
            }
        }
    }

    fn damaged(&mut self, what: &str, error: &HiveError) {
        if matches!(error, HiveError::WorkBudgetExhausted) {
            self.outcome.stopped = true;
            return;
        }
        self.damage_count += 1;
        if self.damage.len() < MAX_DAMAGE_FINDINGS {
            self.damage.push(self.ctx.scope.unreadable(what, error));
        }
    }

    fn finish(mut self) -> SearchOutcome {
        let scope = self.ctx.scope;
        if self.outcome.stopped {
            self.outcome.findings.push(Finding::new(
                &rules::HIVE_WALK_INCOMPLETE,
                scope.file.clone(),
                format!(
                    "the search of {} stopped after {} keys: {}; the rest of the hive was not searched for keys",
                    scope.root_name,
                    self.outcome.keys_visited,
                    HiveError::WorkBudgetExhausted
                ),
            ));
        }
        let unreported = self.damage_count - self.damage.len();
        self.outcome.findings.append(&mut self.damage);
        if unreported > 0 {
            self.outcome.findings.push(Finding::new(
                &rules::HIVE_CORRUPT,
                scope.file.clone(),
                format!(
                    "{unreported} more damaged keys or values of {} could not be read; keys there were not checked",
                    scope.root_name
                ),
            ));
        }
        self.outcome
    }

    /// A key or value name is text in the image too: a key there leaks like one in data.
    fn name_holding_key(&mut self, name: &str, key_path: &str, value_name: Option<&str>) {
        for key in keys_in_string("", name) {
            let scope = self.ctx.scope;
            let classification = classify_key(&key, Some(scope.key_config));
            let (what, place) = match value_name {
                Some(value) => ("value", scope.value_path(key_path, value)),
                None => ("key", scope.key_path(key_path)),
            };
            if classification.class == KeyClass::Gvlk || !self.ctx.reported.insert(&format!("{place}\\<name>"), &key) {
                continue;
            }
            let remediation = format!(
                "Delete the {what} from the image's registry: offline, `reg load {} <mount>\\{}`, `reg delete`, then `reg unload {}`.",
                scope.load_name, scope.image_file, scope.load_name
            );
            let message = format!(
                "The name of the {what} `{}` holds {}, a {}. {remediation}",
                place,
                key.display_form(),
                classification.describe()
            );
            let mut finding = Finding::new(&rules::REGISTRY_STRING_KEY, scope.file.clone(), message);
            finding.detail = Detail::Remediation(remediation);
            finding.key = Some(KeyInfo::new(key, classification));
            self.outcome.findings.push(finding);
        }
    }

    fn value(&mut self, value: &Value<'_>, key_path: &str) {
        let name = value.name();
        let label = if name.is_empty() { "(Default)" } else { name.as_str() };
        self.name_holding_key(&name, key_path, Some(label));
        let outcome = match value.value_type() {
            reg_type::SZ | reg_type::EXPAND_SZ | reg_type::MULTI_SZ => self.string_value(value, key_path, label),
            _ if name.eq_ignore_ascii_case("DigitalProductId") => self.digital_product_id(value, key_path, label),
            _ if name.eq_ignore_ascii_case("DigitalProductId4") => self.digital_product_id4(value, key_path, label),
            _ => Ok(()),
        };
        if let Err(error) = outcome {
            self.damaged(&format!(r"{key_path}\{label}"), &error);
        }
    }

    fn string_value(&mut self, value: &Value<'_>, key_path: &str, label: &str) -> Result<(), HiveError> {
        if value.data_len() < SHORTEST_KEY_BYTES {
            return Ok(());
        }
        self.outcome.values_searched += 1;
        let text = match value.data()? {
            ValueData::Sz(text) | ValueData::ExpandSz(text) => text,
            ValueData::MultiSz(lines) => lines.join("\n"),
            _ => return Ok(()),
        };
        for key in keys_in_string(label, &text) {
            self.report_string_key(key, key_path, label);
        }
        Ok(())
    }

    fn report_string_key(&mut self, key: ProductKey, key_path: &str, label: &str) {
        let scope = self.ctx.scope;
        let classification = classify_key(&key, Some(scope.key_config));
        let value_path = scope.value_path(key_path, label);
        if classification.class == KeyClass::Gvlk || !self.ctx.reported.insert(&value_path, &key) {
            return;
        }
        let message = format!(
            "`{value_path}` holds {}, a {}. {}",
            key.display_form(),
            classification.describe(),
            scope.change_value_hint(key_path, label)
        );
        let mut finding = Finding::new(&rules::REGISTRY_STRING_KEY, scope.file.clone(), message);
        finding.detail = Detail::Remediation(scope.change_value_hint(key_path, label));
        finding.key = Some(KeyInfo::new(key, classification));
        self.outcome.findings.push(finding);
    }

    fn is_installed_key_path(&self, key_path: &str) -> bool {
        self.ctx
            .installed_key_paths
            .iter()
            .any(|installed| installed.eq_ignore_ascii_case(key_path))
    }

    fn digital_product_id(&mut self, value: &Value<'_>, key_path: &str, label: &str) -> Result<(), HiveError> {
        if value.data_len() < SHORTEST_DPID_BYTES || self.is_installed_key_path(key_path) {
            return Ok(());
        }
        let data = value.raw_data()?;
        let Some(key) = copied_product_key(&data) else {
            return Ok(());
        };
        let scope = self.ctx.scope;
        let classification = classify_key(&key, Some(scope.key_config));
        let value_path = scope.value_path(key_path, label);
        if !classification.class.is_forbidden_key()
            || self.ctx.reported.is_installed(&key)
            || !self.ctx.reported.insert(&value_path, &key)
        {
            return Ok(());
        }
        let message = format!(
            "`{value_path}` holds a copy of a product key, {}, a {}. {}",
            key.display_form(),
            classification.describe(),
            scope.change_value_hint(key_path, label)
        );
        let mut finding = Finding::new(&rules::DIGITAL_PRODUCT_ID_ELSEWHERE, scope.file.clone(), message);
        finding.detail = Detail::Remediation(scope.change_value_hint(key_path, label));
        finding.key = Some(KeyInfo::new(key, classification));
        self.outcome.findings.push(finding);
        Ok(())
    }

    fn digital_product_id4(&mut self, value: &Value<'_>, key_path: &str, label: &str) -> Result<(), HiveError> {
        if self.is_installed_key_path(key_path) {
            return Ok(());
        }
        let dpid4 = registry::parse_digital_product_id4(&value.raw_data()?);
        let Some(key_type) = dpid4.key_type else {
            return Ok(());
        };
        let Some(class) = KeyClass::from_product_key_type(&key_type)
            .filter(|c| matches!(c, KeyClass::Mak | KeyClass::Csvlk) && !self.ctx.installed_classes.contains(c))
        else {
            return Ok(());
        };
        let scope = self.ctx.scope;
        let edition = dpid4
            .edition_id
            .map(|e| format!(" for edition {e}"))
            .unwrap_or_default();
        let message = format!(
            "`{}` says a `{key_type}` key{edition} was installed ({}). {}",
            scope.value_path(key_path, label),
            class.as_str(),
            scope.change_value_hint(key_path, label)
        );
        let mut finding = Finding::new(&rules::DIGITAL_PRODUCT_ID_ELSEWHERE, scope.file.clone(), message);
        finding.detail = Detail::Remediation(scope.change_value_hint(key_path, label));
        self.outcome.findings.push(finding);
        Ok(())
    }
}

/// The keys a registry string reports, by the text rule (checksum-valid keys anywhere, others
/// after a key word), and every well-formed key when the value's name is itself a key word
/// (`ProductKey`, `PIDKEY`).
pub(crate) fn keys_in_string(value_name: &str, text: &str) -> Vec<ProductKey> {
    if !may_hold_key(text) {
        return Vec::new();
    }
    let named_as_key = {
        let label = format!("{value_name}=");
        keyscan::key_word_before(&label, label.len())
    };
    let mut keys: Vec<ProductKey> = textfile::reportable_keys(text).into_iter().map(|t| t.key).collect();
    if named_as_key {
        keys.extend(
            keyscan::find_dashed_keys(text)
                .into_iter()
                .chain(keyscan::find_bare_keys(text))
                .filter(|t| textfile::is_secret_candidate(t, text))
                .map(|t| t.key),
        );
    }
    let mut unique: Vec<ProductKey> = Vec::with_capacity(keys.len());
    for key in keys {
        if !unique.contains(&key) {
            unique.push(key);
        }
    }
    unique
}

/// True when `text` has a run of 25 or more characters that are key symbols (any case) or
/// dashes: every key, with or without dashes, is such a run. Most registry strings (paths,
/// GUIDs, names) are not, and skip the regexes.
fn may_hold_key(text: &str) -> bool {
    let mut run = 0usize;
    for byte in text.bytes() {
        let symbol = byte == b'-' || (byte.is_ascii_alphanumeric() && !b"AEILOSUZ015aeilosuz".contains(&byte));
        run = if symbol { run + 1 } else { 0 };
        if run >= 25 {
            return true;
        }
    }
    false
}

/// The key a `DigitalProductId` copy holds, when it holds one that can be told from noise:
/// any N-form (post-2009) key whose checksum validates, and a legacy key only in a value laid
/// out like the installed one (164 bytes, starting with its own length). Other binary values
/// that happen to share the name decode to random keys.
fn copied_product_key(data: &[u8]) -> Option<ProductKey> {
    const DPID_LEN: usize = 164;
    let key = registry::decode_digital_product_id(data).ok().flatten()?;
    if key.checksum() == makguard_core::Checksum::Valid {
        return Some(key);
    }
    let laid_out_as_dpid = data.len() == DPID_LEN && data.get(..4) == Some(&(DPID_LEN as u32).to_le_bytes()[..]);
    (laid_out_as_dpid && key.form() == makguard_core::key::KeyForm::Legacy).then_some(key)
}
