//! Adding a justified exception (`[[allow]]`) to a policy file without disturbing it: the
//! existing text is kept byte for byte (comments and formatting included), the result must be
//! a valid policy, and the file is replaced atomically.

use std::io::Write;
use std::path::Path;

use makguard_core::rules::Rule;
use thiserror::Error;
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};

use crate::date::CivilDate;
use crate::discover::PolicyLocation;
use crate::error::ConfigError;
use crate::policy::Policy;

/// The exception to add. The caller has checked the fingerprint's shape and masked any key in
/// the justification.
#[derive(Debug, Clone)]
pub struct NewException<'a> {
    /// The `sha256:` fingerprint of the key the exception allows.
    pub fingerprint: &'a str,
    /// The `path` glob the exception is limited to; `None`: any path.
    pub path: Option<&'a str>,
    /// The rule the exception is limited to; `None`: any rule.
    pub rule: Option<&'static Rule>,
    /// Why the key may stay, as written into the policy.
    pub justification: &'a str,
    /// The last day the exception applies; `None`: it never expires.
    pub expires: Option<CivilDate>,
}

/// Why the exception was not added; nothing was written.
#[derive(Debug, Error)]
pub enum EditError {
    /// The existing file is not a valid policy: reported as such rather than appended to.
    #[error(transparent)]
    Invalid(#[from] ConfigError),
    /// The policy with the new entry appended fails validation (what the parser said).
    #[error("the new entry would make the policy invalid; nothing was written: {0}")]
    WouldBeInvalid(ConfigError),
    /// The expiry date (as written) is not a TOML date.
    #[error("cannot write the expiry date {0} as a TOML date")]
    BadDate(String),
    /// The policy's `allow` is not an array of tables (the file as messages name it).
    #[error("{0}: `allow` must be a list of [[allow]] tables")]
    AllowNotAList(String),
    /// The existing policy file could not be read.
    #[error("cannot read {file}: {source}")]
    Read {
        /// The file as messages name it.
        file: String,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },
    /// The updated policy could not be written; the original is intact.
    #[error("cannot write {file}: {source}")]
    Write {
        /// The file as messages name it.
        file: String,
        /// Why it could not be written.
        #[source]
        source: std::io::Error,
    },
}

/// Appends `entry` to the policy at `location` (created if absent) and returns the line of
/// the new `[[allow]]` header.
///
/// # Errors
///
/// An [`EditError`] when the existing file cannot be read or is not a valid policy, the entry
/// would make it invalid, or the new file cannot be written; nothing is written then.
pub fn add_exception(location: &PolicyLocation, entry: &NewException<'_>) -> Result<u32, EditError> {
    let display = &location.display;
    let existing = match std::fs::read_to_string(&location.file) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(EditError::Read {
                file: display.clone(),
                source,
            });
        }
    };
    let base_dir = location.file.parent().unwrap_or(Path::new(""));
    let (updated, line) = append_exception(&existing, display, base_dir, entry)?;
    write_atomically(&location.file, updated.as_bytes()).map_err(|source| EditError::Write {
        file: display.clone(),
        source,
    })?;
    Ok(line)
}

/// `existing` policy text with `entry` appended, and the new entry's line.
///
/// # Errors
///
/// An [`EditError`] when `existing` is not a valid policy, its `allow` is not a list of
/// tables, the expiry date cannot be written, or the result would not validate.
pub fn append_exception(
    existing: &str,
    display: &str,
    base_dir: &Path,
    entry: &NewException<'_>,
) -> Result<(String, u32), EditError> {
    Policy::parse(existing, display, base_dir)?;
    // It parsed as a policy, so it parses as a TOML document.
    let mut document: DocumentMut = existing
        .parse()
        .map_err(|_| EditError::AllowNotAList(display.to_string()))?;
    let mut table = Table::new();
    table["fingerprint"] = value(entry.fingerprint);
    if let Some(glob) = entry.path {
        table["path"] = value(glob);
    }
    if let Some(rule) = entry.rule {
        table["rule"] = value(rule.code);
    }
    table["justification"] = value(entry.justification);
    if let Some(date) = entry.expires {
        let datetime: toml_edit::Datetime = date
            .to_string()
            .parse()
            .map_err(|_| EditError::BadDate(date.to_string()))?;
        table["expires"] = value(datetime);
    }
    document
        .entry("allow")
        .or_insert(Item::ArrayOfTables(ArrayOfTables::new()))
        .as_array_of_tables_mut()
        .ok_or_else(|| EditError::AllowNotAList(display.to_string()))?
        .push(table);
    let updated = document.to_string();
    let policy = Policy::parse(&updated, display, base_dir).map_err(EditError::WouldBeInvalid)?;
    let line = policy.allow.last().map_or(0, |entry| entry.line);
    Ok((updated, line))
}

/// Writes through a temporary file beside the target and renames it over, so an interrupted
/// write never leaves a half-written policy.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{file_name}.makguard-tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

    fn entry() -> NewException<'static> {
        NewException {
            fingerprint: FP,
            path: Some("Windows\\Panther\\*.xml"),
            rule: makguard_core::rules::find("MG101"),
            justification: "approved, CHG-1",
            expires: CivilDate::new(2027, 1, 31),
        }
    }

    #[test]
    fn existing_text_is_kept_and_the_entry_appended() {
        let existing = "# keep me\n[severity]\nMG105 = \"note\" # and me\n";
        let (updated, line) = append_exception(existing, "makguard.toml", Path::new("/p"), &entry()).unwrap();
        assert!(updated.starts_with(existing), "{updated}");
        assert_eq!(line, 5, "{updated}");
        let policy = Policy::parse(&updated, "makguard.toml", Path::new("/p")).unwrap();
        let added = &policy.allow[0];
        assert_eq!(added.fingerprint.as_deref(), Some(FP));
        assert_eq!(added.expires, CivilDate::new(2027, 1, 31));
        assert!(updated.contains("expires = 2027-01-31"), "{updated}");
    }

    #[test]
    fn a_broken_policy_is_not_appended_to() {
        let err = append_exception("[scan]\nbogus = 1\n", "makguard.toml", Path::new("/p"), &entry()).unwrap_err();
        assert!(err.to_string().starts_with("makguard.toml:2:1:"), "{err}");
    }

    #[test]
    fn the_file_is_created_and_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let location = PolicyLocation {
            file: dir.path().join("makguard.toml"),
            display: "makguard.toml".to_string(),
            origin: crate::discover::Origin::Discovered,
        };
        assert_eq!(add_exception(&location, &entry()).unwrap(), 1);
        assert_eq!(add_exception(&location, &entry()).unwrap(), 8);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("makguard.toml")],
            "no temporary file left"
        );
    }
}
