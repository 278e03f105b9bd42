//! The policy file `makguard.toml` parsed strictly (unknown keys are errors that name file,
//! line and column) into a [`Policy`]: severity overrides, justified exceptions (`[[allow]]`)
//! with expiry, and the scan and edition settings.
//!
//! docs/policy.md is the reference for the format; keep the two in step.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use globset::GlobMatcher;
use makguard_core::rules::{self, Rule};
use makguard_core::text::LineIndex;
use makguard_core::{Finding, ProductKey, Severity};
use serde::Deserialize;
use toml::Spanned;

use crate::date::CivilDate;
use crate::discover::PolicyLocation;
use crate::error::ConfigError;
use crate::glob;
use crate::size::parse_size;

/// The policy file's conventional name.
pub const POLICY_FILE_NAME: &str = "makguard.toml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    allow: Vec<Spanned<RawAllow>>,
    #[serde(default)]
    severity: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    scan: Option<RawScan>,
    #[serde(default)]
    editions: BTreeMap<Spanned<String>, Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAllow {
    fingerprint: Option<Spanned<String>>,
    path: Option<Spanned<String>>,
    rule: Option<Spanned<String>>,
    justification: Option<Spanned<String>>,
    expires: Option<Spanned<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScan {
    #[serde(default)]
    include: Vec<Spanned<String>>,
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
    size_cap: Option<Spanned<toml::Value>>,
    deep: Option<bool>,
    #[serde(default)]
    pkeyconfig: Vec<Spanned<String>>,
}

/// One justified exception.
#[derive(Debug, Clone)]
pub struct AllowEntry {
    /// The 1-based line of the entry's `[[allow]]` header.
    pub line: u32,
    /// The 1-based column of the entry's `[[allow]]` header.
    pub column: u32,
    /// The `sha256:` fingerprint of the key allowed; `None`: any key (or none).
    pub fingerprint: Option<String>,
    /// The `path` glob as written; `None`: any path.
    pub path_glob: Option<String>,
    path_matcher: Option<GlobMatcher>,
    /// The rule allowed; `None`: any rule.
    pub rule: Option<&'static Rule>,
    /// Why the finding may stay (never empty).
    pub justification: String,
    /// Last day the entry applies.
    pub expires: Option<CivilDate>,
}

impl AllowEntry {
    pub(crate) fn matches(&self, finding: &Finding) -> bool {
        if let Some(fingerprint) = &self.fingerprint {
            match &finding.key {
                Some(key) if key.key.fingerprint() == *fingerprint => {}
                _ => return false,
            }
        }
        if let Some(matcher) = &self.path_matcher
            && !matcher.is_match(&finding.path().display)
        {
            return false;
        }
        if let Some(rule) = self.rule
            && rule != finding.rule
        {
            return false;
        }
        true
    }

    pub(crate) fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(fingerprint) = &self.fingerprint {
            parts.push(format!("fingerprint {fingerprint}"));
        }
        if let Some(glob) = &self.path_glob {
            parts.push(format!("path '{glob}'"));
        }
        if let Some(rule) = self.rule {
            parts.push(format!("rule {} {}", rule.code, rule.name));
        }
        parts.join(", ")
    }
}

/// A `[scan]` include or exclude glob, with where the policy wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyGlob {
    /// As the policy wrote it (quoted in messages).
    pub written: String,
    /// As the scanner matches it ([`glob::normalize`]).
    pub pattern: String,
    /// The 1-based line of the glob in the policy file.
    pub line: u32,
    /// The 1-based column of the glob in the policy file.
    pub column: u32,
}

/// The `[scan]` table.
#[derive(Debug, Clone, Default)]
pub struct ScanSettings {
    /// `include`: globs of files searched as text even when their name or content says binary.
    pub include: Vec<PolicyGlob>,
    /// `exclude`: globs of files and folders skipped.
    pub exclude: Vec<PolicyGlob>,
    /// `size_cap` in bytes (`--size-cap` wins over it); `None`: the default cap.
    pub size_cap: Option<u64>,
    /// `deep`: also search binary files and archives as bytes; `None` when the policy does not
    /// say.
    pub deep: Option<bool>,
    /// Resolved against the policy file's directory.
    pub pkeyconfig: Vec<PathBuf>,
}

/// A parsed, validated policy file.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// The file as found or given (a path usable from the working directory).
    pub file: PathBuf,
    /// How messages name the file.
    pub display: String,
    /// The `[[allow]]` exceptions, in file order.
    pub allow: Vec<AllowEntry>,
    /// Rule code → new severity, `None` for `off`.
    pub severity: BTreeMap<&'static str, Option<Severity>>,
    /// The `[scan]` table.
    pub scan: ScanSettings,
    /// `EditionID` → the GVLK `makguard fix` writes for it.
    pub editions: BTreeMap<String, ProductKey>,
}

struct PolicyParser<'a> {
    display: &'a str,
    text: &'a str,
    index: LineIndex,
}

impl PolicyParser<'_> {
    fn error(&self, span: Range<usize>, message: impl Into<String>) -> ConfigError {
        let (line, column) = self.index.line_col(self.text, span.start);
        ConfigError {
            file: self.display.to_string(),
            line,
            column,
            message: message.into(),
        }
    }
}

/// True for `sha256:` followed by 64 lower-case hex digits (the fingerprint contract).
pub fn is_fingerprint(text: &str) -> bool {
    text.strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// Rules whose severity a policy may not change: turning them down would let an unreadable
/// file or an expired exception pass silently.
fn is_protected(rule: &Rule) -> bool {
    rule.is_incomplete_scan() || rule == &rules::ALLOW_EXPIRED
}

impl Policy {
    /// Reads and validates the policy at `location`. Errors name the file as found or given.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] when the file cannot be read (line and column 0), or does not parse or
    /// validate.
    pub fn load(location: &PolicyLocation) -> Result<Policy, ConfigError> {
        let path = &location.file;
        let text = std::fs::read_to_string(path).map_err(|err| ConfigError {
            file: location.display.clone(),
            line: 0,
            column: 0,
            message: format!("cannot read the policy file: {err}"),
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        let mut policy = Policy::parse(&text, &location.display, base)?;
        policy.file.clone_from(path);
        Ok(policy)
    }

    /// The `[editions]` choice for an image whose `EditionID` is `edition` (any case).
    pub fn edition_choice(&self, edition: &str) -> Option<(&String, &ProductKey)> {
        self.editions
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(edition))
    }

    /// Parses policy text; relative `pkeyconfig` paths resolve against `base_dir`.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] at the offending spot when the text is not TOML, has an unknown key,
    /// or a value that does not validate.
    pub fn parse(text: &str, display: &str, base_dir: &Path) -> Result<Policy, ConfigError> {
        let parser = PolicyParser {
            display,
            text,
            index: LineIndex::new(text),
        };
        let raw: RawPolicy = toml::from_str(text).map_err(|err| {
            let span = err.span().unwrap_or(0..0);
            parser.error(span, err.message().trim().to_string())
        })?;
        let mut policy = Policy {
            file: PathBuf::from(display),
            display: display.to_string(),
            ..Policy::default()
        };
        for entry in raw.allow {
            policy.allow.push(parse_allow(&parser, entry)?);
        }
        for (rule_name, level) in raw.severity {
            let rule = rules::find(rule_name.get_ref()).ok_or_else(|| {
                parser.error(
                    rule_name.span(),
                    format!("unknown rule '{}' in [severity]", rule_name.get_ref()),
                )
            })?;
            if is_protected(rule) {
                return Err(parser.error(
                    rule_name.span(),
                    format!(
                        "the severity of {} {} cannot be changed (unreadable files and expired exceptions always count)",
                        rule.code, rule.name
                    ),
                ));
            }
            let severity = match level.get_ref().as_str() {
                "off" => None,
                other => Some(
                    Severity::parse(other)
                        .filter(|_| other == other.to_ascii_lowercase())
                        .ok_or_else(|| {
                            parser.error(
                                level.span(),
                                format!("unknown severity '{other}' (expected error, warning, note or off)"),
                            )
                        })?,
                ),
            };
            policy.severity.insert(rule.code, severity);
        }
        if let Some(scan) = raw.scan {
            policy.scan = parse_scan(&parser, scan, base_dir)?;
        }
        for (edition, key_text) in raw.editions {
            let key = ProductKey::parse(key_text.get_ref().trim())
                .ok()
                .filter(ProductKey::is_gvlk)
                .ok_or_else(|| {
                    parser.error(
                        key_text.span(),
                        format!(
                            "[editions] {} must be a public KMS client key (GVLK) from the catalog",
                            edition.get_ref()
                        ),
                    )
                })?;
            policy.editions.insert(edition.into_inner(), key);
        }
        Ok(policy)
    }
}

fn parse_allow(parser: &PolicyParser<'_>, entry: Spanned<RawAllow>) -> Result<AllowEntry, ConfigError> {
    let span = entry.span();
    let (line, column) = parser.index.line_col(parser.text, span.start);
    let raw = entry.into_inner();
    if raw.fingerprint.is_none() && raw.path.is_none() && raw.rule.is_none() {
        return Err(parser.error(
            span,
            "an [[allow]] entry needs at least one of fingerprint, path or rule",
        ));
    }
    let justification = match raw.justification {
        Some(text) if !text.get_ref().trim().is_empty() => text.into_inner().trim().to_string(),
        Some(text) => return Err(parser.error(text.span(), "justification must not be empty")),
        None => return Err(parser.error(span, "an [[allow]] entry needs a justification")),
    };
    let fingerprint = match raw.fingerprint {
        Some(fp) if is_fingerprint(fp.get_ref()) => Some(fp.into_inner()),
        Some(fp) => {
            return Err(parser.error(
                fp.span(),
                "fingerprint must be 'sha256:' followed by 64 lower-case hex digits, as reports print it",
            ));
        }
        None => None,
    };
    let (path_glob, path_matcher) = match raw.path {
        Some(glob) => {
            let matcher = glob::compile(glob.get_ref())
                .map_err(|err| parser.error(glob.span(), format!("invalid path glob: {}", err.kind())))?
                .compile_matcher();
            (Some(glob.into_inner()), Some(matcher))
        }
        None => (None, None),
    };
    let rule = match raw.rule {
        Some(name) => Some(
            rules::find(name.get_ref())
                .ok_or_else(|| parser.error(name.span(), format!("unknown rule '{}'", name.get_ref())))?,
        ),
        None => None,
    };
    let expires = match raw.expires {
        Some(value) => Some(parse_date_value(parser, &value)?),
        None => None,
    };
    Ok(AllowEntry {
        line,
        column,
        fingerprint,
        path_glob,
        path_matcher,
        rule,
        justification,
        expires,
    })
}

fn parse_date_value(parser: &PolicyParser<'_>, value: &Spanned<toml::Value>) -> Result<CivilDate, ConfigError> {
    let bad = || parser.error(value.span(), "expires must be a date, YYYY-MM-DD");
    match value.get_ref() {
        toml::Value::Datetime(dt) if dt.time.is_none() && dt.offset.is_none() => {
            let date = dt.date.ok_or_else(bad)?;
            CivilDate::new(i64::from(date.year), u32::from(date.month), u32::from(date.day)).ok_or_else(bad)
        }
        toml::Value::String(text) => CivilDate::parse(text).ok_or_else(bad),
        _ => Err(bad()),
    }
}

fn parse_scan(parser: &PolicyParser<'_>, raw: RawScan, base_dir: &Path) -> Result<ScanSettings, ConfigError> {
    let globs = |list: Vec<Spanned<String>>| -> Result<Vec<PolicyGlob>, ConfigError> {
        list.into_iter()
            .map(|written| {
                glob::compile(written.get_ref())
                    .map_err(|err| parser.error(written.span(), format!("invalid glob: {}", err.kind())))?;
                let (line, column) = parser.index.line_col(parser.text, written.span().start);
                let written = written.into_inner();
                Ok(PolicyGlob {
                    pattern: glob::normalize(&written),
                    written,
                    line,
                    column,
                })
            })
            .collect()
    };
    let size_cap = match raw.size_cap {
        None => None,
        Some(value) => {
            let bad = |why: String| parser.error(value.span(), format!("size_cap: {why}"));
            Some(match value.get_ref() {
                toml::Value::Integer(n) if *n > 0 => u64::try_from(*n).map_err(|e| bad(e.to_string()))?,
                toml::Value::String(text) => parse_size(text).map_err(bad)?,
                _ => {
                    return Err(bad(
                        "expected a positive number of bytes or a size such as \"16MiB\"".into()
                    ));
                }
            })
        }
    };
    Ok(ScanSettings {
        include: globs(raw.include)?,
        exclude: globs(raw.exclude)?,
        size_cap,
        deep: raw.deep,
        pkeyconfig: raw
            .pkeyconfig
            .into_iter()
            .map(|p| base_dir.join(p.into_inner()))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

    fn parse(text: &str) -> Result<Policy, ConfigError> {
        Policy::parse(text, "makguard.toml", Path::new("/policy"))
    }

    #[test]
    fn full_policy_parses() {
        let policy = parse(&format!(
            "[[allow]]\nfingerprint = \"{FP}\"\njustification = \"approved\"\nexpires = 2027-01-31\n\n\
             [[allow]]\npath = \"sources/**\"\nrule = \"unattend-non-kms-key\"\njustification = \"x\"\nexpires = \"2027-02-28\"\n\n\
             [severity]\nMG105 = \"note\"\nunattend-gvlk = \"off\"\n\n\
             [scan]\ninclude = [\"**/*.cfg\"]\nexclude = [\"Windows/WinSxS/**\"]\nsize_cap = \"8MiB\"\ndeep = true\npkeyconfig = [\"keys.xrm-ms\"]\n\n\
             [editions]\nEnterprise = \"NPPR9-FWDCX-D2C8J-H872K-2YT43\"\n"
        ))
        .unwrap();
        assert_eq!(policy.allow.len(), 2);
        assert_eq!(policy.allow[0].line, 1);
        assert_eq!(policy.allow[1].line, 6);
        assert_eq!(policy.allow[0].expires, CivilDate::new(2027, 1, 31));
        assert_eq!(policy.allow[1].rule.map(|r| r.code), Some("MG101"));
        assert_eq!(policy.severity.get("MG105"), Some(&Some(Severity::Note)));
        assert_eq!(policy.severity.get("MG100"), Some(&None));
        assert_eq!(policy.scan.size_cap, Some(8 << 20));
        assert_eq!(policy.scan.deep, Some(true));
        assert_eq!(policy.scan.pkeyconfig, vec![PathBuf::from("/policy/keys.xrm-ms")]);
        assert!(policy.editions.contains_key("Enterprise"));
    }

    #[test]
    fn unknown_keys_name_line_and_column() {
        let err = parse("[scan]\ndeep = true\ncolour = 1\n").unwrap_err();
        assert_eq!((err.line, err.column), (3, 1), "{err}");
        assert!(err.message.contains("colour"), "{err}");
        let err = parse("[[allow]]\nrule = \"MG101\"\njustification = \"j\"\nexpire = 2027-01-01\n").unwrap_err();
        assert_eq!((err.line, err.column), (4, 1), "{err}");
        let err = parse("[policy]\n").unwrap_err();
        assert_eq!(err.line, 1, "{err}");
    }

    #[test]
    fn allow_entries_are_validated() {
        let err = parse("[[allow]]\njustification = \"j\"\n").unwrap_err();
        assert!(err.message.contains("at least one"), "{err}");
        let err = parse("[[allow]]\nrule = \"MG101\"\njustification = \"  \"\n").unwrap_err();
        assert_eq!((err.line, err.column), (3, 17), "{err}");
        let err = parse("[[allow]]\nrule = \"MG101\"\n").unwrap_err();
        assert!(err.message.contains("justification"), "{err}");
        let err = parse("[[allow]]\nfingerprint = \"sha256:ABC\"\njustification = \"j\"\n").unwrap_err();
        assert_eq!((err.line, err.column), (2, 15), "{err}");
        let err = parse("[[allow]]\nrule = \"MG999\"\njustification = \"j\"\n").unwrap_err();
        assert!(err.message.contains("MG999"), "{err}");
        let err = parse("[[allow]]\nrule = \"MG101\"\njustification = \"j\"\nexpires = \"2027-02-30\"\n").unwrap_err();
        assert_eq!(err.line, 4, "{err}");
        let err = parse("[[allow]]\npath = \"a/[b\"\njustification = \"j\"\n").unwrap_err();
        assert_eq!(err.line, 2, "{err}");
    }

    #[test]
    fn protected_rules_and_bad_severities_are_rejected() {
        assert!(parse("[severity]\nMG902 = \"off\"\n").is_err());
        assert!(parse("[severity]\nallow-expired = \"warning\"\n").is_err());
        assert!(parse("[severity]\nMG101 = \"fatal\"\n").is_err());
        assert!(parse("[severity]\nMG777 = \"note\"\n").is_err());
    }

    #[test]
    fn editions_must_be_catalog_gvlks() {
        let err = parse("[editions]\nEnterprise = \"6QWQ4-8NRCW-KHGHV-CR226-3PPQC\"\n").unwrap_err();
        assert_eq!((err.line, err.column), (2, 14), "{err}");
        assert!(
            !err.to_string().contains("6QWQ4"),
            "a rejected key must not be echoed: {err}"
        );
    }

    #[test]
    fn every_policy_example_in_the_docs_parses() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/policy.md"))
            .expect("docs/policy.md");
        let mut blocks = 0;
        for block in doc.split("```toml\n").skip(1) {
            let example = block.split("```").next().unwrap_or_default();
            if let Err(err) = parse(example) {
                panic!("docs/policy.md example does not parse: {err}\n{example}");
            }
            blocks += 1;
        }
        assert!(blocks >= 5, "found {blocks} TOML examples");
    }

    #[test]
    fn fingerprint_shape() {
        assert!(is_fingerprint(FP));
        assert!(!is_fingerprint(&FP.to_uppercase()));
        assert!(!is_fingerprint(&FP[..70]));
        assert!(!is_fingerprint("md5:00"));
    }

    #[test]
    fn globs_accept_backslashes_and_keep_what_was_written() {
        let policy = parse(
            "[scan]\nexclude = ['Windows\\WinSxS\\**']\n\n[[allow]]\npath = 'Sources\\*.xml'\njustification = 'j'\n",
        )
        .unwrap();
        let exclude = &policy.scan.exclude[0];
        assert_eq!(exclude.written, "Windows\\WinSxS\\**");
        assert_eq!(exclude.pattern, "Windows/WinSxS/**");
        assert_eq!((exclude.line, exclude.column), (2, 12));
        let matcher = policy.allow[0].path_matcher.as_ref().unwrap();
        assert!(matcher.is_match("sources/unattend.xml"));
        assert!(!matcher.is_match("other/unattend.xml"));
    }
}
