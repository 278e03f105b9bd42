//! The registry keys whose commands Windows runs at logon: `Run`, `RunOnce` and `RunOnceEx`
//! (its numbered subkeys and their `Depend` subkeys) of the machine, their `WOW6432Node`
//! twins, and the same keys of the Default user, whose hive becomes every new user's.
//!
//! Each value is read as command text with the script scanner's parsing
//! ([`crate::script::command_keys`]), so a command installs a key here exactly when it would
//! in a script: `MG306` for an install command, `MG311` for any other key literal.

use makguard_core::rules;
use makguard_core::{Detail, Finding, KeyClass, KeyInfo, classify_key};
use makguard_hive::{Hive, HiveError, Key, Value, ValueData};

use crate::registry::{HiveScope, ReportedValues};
use crate::script;

/// The machine's logon-command keys in the SOFTWARE hive, native and 32-bit view.
pub(crate) const MACHINE_RUN_KEYS: &[&str] = &[
    r"Microsoft\Windows\CurrentVersion\Run",
    r"Microsoft\Windows\CurrentVersion\RunOnce",
    r"Microsoft\Windows\CurrentVersion\RunOnceEx",
    r"WOW6432Node\Microsoft\Windows\CurrentVersion\Run",
    r"WOW6432Node\Microsoft\Windows\CurrentVersion\RunOnce",
    r"WOW6432Node\Microsoft\Windows\CurrentVersion\RunOnceEx",
];

/// The same keys in a user's hive (`NTUSER.DAT`), which has no 32-bit view of its own here.
pub(crate) const USER_RUN_KEYS: &[&str] = &[
    r"Software\Microsoft\Windows\CurrentVersion\Run",
    r"Software\Microsoft\Windows\CurrentVersion\RunOnce",
    r"Software\Microsoft\Windows\CurrentVersion\RunOnceEx",
];

/// `RunOnceEx\0001\Depend` is two levels down; anything much deeper is not a logon command
/// Windows runs, and the whole hive search covers it anyway.
const MAX_RUN_KEY_DEPTH: usize = 8;

/// Reads every value under each of `run_keys` (subkeys included) and reports the keys their
/// commands carry. `remediation` is appended to each finding (the GVLK to install instead);
/// every value reported is recorded in `reported`, so the whole-hive search skips it.
pub(crate) fn scan_run_keys(
    hive: &Hive,
    scope: &HiveScope<'_>,
    run_keys: &[&str],
    remediation: &str,
    reported: &mut ReportedValues,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for run_key in run_keys {
        match hive.key(run_key) {
            Ok(Some(key)) => scan_subtree(key, run_key, scope, remediation, reported, &mut findings),
            Ok(None) => {}
            Err(error) => findings.push(scope.unreadable(run_key, &error)),
        }
    }
    findings
}

fn scan_subtree(
    top: Key<'_>,
    top_path: &str,
    scope: &HiveScope<'_>,
    remediation: &str,
    reported: &mut ReportedValues,
    findings: &mut Vec<Finding>,
) {
    let mut pending = vec![(top, top_path.to_string(), 0usize)];
    while let Some((key, path, depth)) = pending.pop() {
        match key.values() {
            Ok(values) => {
                for value in values {
                    scan_value(&value, &path, scope, remediation, reported, findings);
                }
            }
            Err(error) => findings.push(scope.unreadable(&path, &error)),
        }
        if depth >= MAX_RUN_KEY_DEPTH {
            continue;
        }
        match key.subkeys() {
            Ok(subkeys) => {
                // Reversed so that subkeys are read in stored order (0001 before 0002).
                for subkey in subkeys.into_iter().rev() {
                    let sub_path = format!(r"{path}\{}", subkey.name());
                    pending.push((subkey, sub_path, depth + 1));
                }
            }
            Err(error) => findings.push(scope.unreadable(&path, &error)),
        }
    }
}

/// The command text of a string value; `None` for other types.
fn command_text(value: &Value<'_>) -> Result<Option<String>, HiveError> {
    Ok(match value.data()? {
        ValueData::Sz(text) | ValueData::ExpandSz(text) => Some(text),
        ValueData::MultiSz(lines) => Some(lines.join("\n")),
        _ => None,
    })
}

fn scan_value(
    value: &Value<'_>,
    key_path: &str,
    scope: &HiveScope<'_>,
    remediation: &str,
    reported: &mut ReportedValues,
    findings: &mut Vec<Finding>,
) {
    let name = value.name();
    let value_label = if name.is_empty() { "(Default)" } else { name.as_str() };
    let command = match command_text(value) {
        Ok(Some(command)) => command,
        Ok(None) => return,
        Err(error) => {
            findings.push(scope.unreadable(&format!(r"{key_path}\{value_label}"), &error));
            return;
        }
    };
    let value_path = scope.value_path(key_path, value_label);
    for found in script::command_keys(&command) {
        let classification = classify_key(&found.token.key, Some(scope.key_config));
        if classification.class == KeyClass::Gvlk || !reported.insert(&value_path, &found.token.key) {
            continue;
        }
        let delete = scope.delete_value_hint(key_path, value_label);
        let (rule, message) = match found.command {
            Some(install) => (
                &rules::RUN_KEY_INSTALLS_KEY,
                format!(
                    "`{value_path}` runs `{}` with {}, a {}, {}",
                    install.describe(),
                    found.token.key.display_form(),
                    classification.describe(),
                    scope.runs_when
                ),
            ),
            None => (
                &rules::REGISTRY_STRING_KEY,
                format!(
                    "`{value_path}` holds {}, a {}, in a command that runs {}",
                    found.token.key.display_form(),
                    classification.describe(),
                    scope.runs_when
                ),
            ),
        };
        let remediation = format!("{delete} {remediation}");
        let mut finding = Finding::new(rule, scope.file.clone(), format!("{message}. {remediation}"));
        finding.detail = Detail::Remediation(remediation);
        finding.key = Some(KeyInfo::new(found.token.key, classification));
        findings.push(finding);
    }
}
