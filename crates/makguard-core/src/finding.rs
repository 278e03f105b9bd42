//! Findings, fixes and edits: what a scanner reports and what the fixer applies.
//!
//! A [`TextRange`] is a byte range into the *decoded* text of a file (see [`crate::text`]); the
//! fixer maps it back through the file's encoding to a [`ByteRange`] of the file's raw bytes.

use std::fmt;

use crate::classify::{Classification, KeyClass};
use crate::key::ProductKey;
use crate::rules::Rule;

/// How serious a finding is. Ordered: `Note < Warning < Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// Information, e.g. a GVLK that is fine; fails a run only with `--fail-on note`.
    Note,
    /// A likely problem; fails a run at `--fail-on warning` or below.
    Warning,
    /// A problem that fails a run at the default `--fail-on error`.
    Error,
}

impl Severity {
    /// The lower-case name used in reports and configuration, e.g. `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    /// The severity named `text` (any case); `None` for any other text.
    pub fn parse(text: &str) -> Option<Severity> {
        match text.to_ascii_lowercase().as_str() {
            "note" => Some(Severity::Note),
            "warning" => Some(Severity::Warning),
            "error" => Some(Severity::Error),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A half-open byte range `start..end` into a decoded text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TextRange {
    /// Byte offset of the first byte in the range.
    pub start: usize,
    /// Byte offset just past the last byte in the range.
    pub end: usize,
}

impl TextRange {
    /// The range `start..end`.
    pub fn new(start: usize, end: usize) -> TextRange {
        TextRange { start, end }
    }

    /// The length in bytes; 0 when `end` is not past `start`.
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// True when the range covers no byte.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when the two ranges share at least one byte.
    pub fn overlaps(&self, other: &TextRange) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// A half-open range `start..end` of a file's raw bytes (the encoded file, BOM and UTF-16
/// included; a binary file, a hive, a WIM blob), never of a decoded text: a separate type
/// from [`TextRange`] so the two cannot be mixed up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ByteRange {
    /// Offset of the first byte in the range.
    pub start: usize,
    /// Offset just past the last byte in the range.
    pub end: usize,
}

impl ByteRange {
    /// The range `start..end`.
    pub fn new(start: usize, end: usize) -> ByteRange {
        ByteRange { start, end }
    }

    /// The length in bytes; 0 when `end` is not past `start`.
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// True when the range covers no byte.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How far a fix may be trusted, ordered as ruff orders it: `DisplayOnly < Unsafe < Safe`.
/// [`crate::Fix`]es below the threshold a run accepts (`Safe`, or `Unsafe` with
/// `--unsafe-fixes`) are refused when they would be applied, whatever planned them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Applicability {
    /// Shown, never applied, at any threshold. It exists so that a repair no file edit can
    /// make (an installed key, whose remediation is a command to run in the image) can be
    /// carried as a fix and still be refused by the one applicability check; no planner
    /// attaches such fixes today (installed keys carry their command as a remediation).
    DisplayOnly,
    /// The replacement rests on a weaker hint (an answer file's image name) or replaces a
    /// GVLK; applied only with `--unsafe-fixes`.
    Unsafe,
    /// The replacement key follows from facts (the user's choice, the image's edition, the
    /// key's own group, the Office product ID).
    Safe,
}

impl Applicability {
    /// The name used in reports, e.g. `display-only`.
    pub fn as_str(self) -> &'static str {
        match self {
            Applicability::DisplayOnly => "display-only",
            Applicability::Unsafe => "unsafe",
            Applicability::Safe => "safe",
        }
    }
}

/// Replace the decoded text in `range` with `replacement`: the one edit type, for a finding's
/// [`Fix`] and for the fixer's change log alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// The decoded text to replace.
    pub range: TextRange,
    /// The text written in its place.
    pub replacement: String,
}

/// A set of non-overlapping edits that together repair one finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    /// How far the fix may be trusted; decides whether a run applies it.
    pub applicability: Applicability,
    /// The edits, non-overlapping.
    pub edits: Vec<Edit>,
    /// The GVLK written in.
    pub new_key: ProductKey,
    /// How the new key was chosen, e.g. `image EditionID Enterprise, build 22631`.
    pub chosen_by: String,
}

/// Where in the XML a finding sits (answer files and other XML).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XmlContext {
    /// The enclosing `settings pass`, e.g. `specialize`; `None` outside any `settings`.
    pub pass: Option<String>,
    /// The enclosing `component name`, e.g. `Microsoft-Windows-Shell-Setup`; `None` outside
    /// any component.
    pub component: Option<String>,
    /// The component's `processorArchitecture`; `None` when it gives none.
    pub architecture: Option<String>,
    /// Element path below the component, e.g. `UserData/ProductKey/Key`.
    pub element_path: String,
    /// True when the key sits inside an XML comment, which Setup ignores.
    pub in_comment: bool,
}

/// What a scanner saw around a key that the fixer needs to choose its replacement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FixHints {
    /// Click-to-Run `Product ID` the key belongs to, e.g. `ProPlus2021Volume`.
    pub office_product_id: Option<String>,
    /// MSI Office product as Microsoft's GVLK table names it, e.g. `Office Professional Plus 2016`.
    pub office_msi_product: Option<String>,
    /// An answer file's `ImageInstall/OSImage/InstallFrom/MetaData` `/IMAGE/NAME` value.
    pub install_image_name: Option<String>,
    /// The key is written without dashes (MSI `PIDKEY Value`); the replacement must be too.
    pub bare_key: bool,
    /// Why no edit of the finding's range can replace the key alone (e.g. it is spelled
    /// across XML entities); the fixer reports this instead of trying.
    pub not_rewritable: Option<String>,
}

/// A key found by a scanner, with its verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key as found (masked whenever it is displayed).
    pub key: ProductKey,
    /// What the key is and what decided it.
    pub classification: Classification,
}

impl KeyInfo {
    /// The key's class, from its classification.
    pub fn class(&self) -> KeyClass {
        self.classification.class
    }
}

/// A file path relative to the scanned root, `/`-separated, kept losslessly.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FindingPath {
    /// The path as text; names that are not valid UTF-8 show U+FFFD here.
    pub display: String,
    /// The raw bytes of the path when it is not valid UTF-8 (Unix) or not valid UTF-16 (Windows).
    pub raw_bytes: Option<Vec<u8>>,
}

impl FindingPath {
    /// A path that is valid text, so it needs no raw bytes.
    pub fn new(display: impl Into<String>) -> FindingPath {
        FindingPath {
            display: display.into(),
            raw_bytes: None,
        }
    }
}

impl fmt::Display for FindingPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

/// A policy exception that covers a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    /// The reason the exception gives for allowing the finding.
    pub justification: String,
    /// Where the exception is written, e.g. `makguard.toml:12`.
    pub origin: String,
}

/// One thing a scanner found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule the finding breaks.
    pub rule: &'static Rule,
    /// The severity it is reported at: the rule's default unless configuration changes it.
    pub severity: Severity,
    /// The file it is in, relative to the root [`Finding::root`] names.
    pub path: FindingPath,
    /// The key's (or problem's) range in the decoded text, when the file is text.
    pub range: Option<TextRange>,
    /// The 1-based line `range` starts on; `None` when there is no text position.
    pub line: Option<u32>,
    /// The 1-based column, in characters, `range` starts at; `None` with `line`.
    pub column: Option<u32>,
    /// Never holds a non-GVLK key in full.
    pub message: String,
    /// The key the finding is about; `None` for findings about no particular key.
    pub key: Option<KeyInfo>,
    /// Where in the XML the finding sits; `None` outside XML.
    pub xml: Option<XmlContext>,
    /// What to do when no file edit can repair it (installed keys), GVLK spelled out.
    pub remediation: Option<String>,
    /// What the fixer needs to choose a replacement key.
    pub hints: FixHints,
    /// The planned repair; `None` until the fixer plans one, or when it cannot.
    pub fix: Option<Fix>,
    /// The policy exception covering the finding; `None` when it is not suppressed.
    pub suppressed: Option<Suppression>,
    /// Index into [`crate::model::ScanReport::roots`] of the root `path` is relative to
    /// (0 for a single-root scan). Reports join the two to name the file for CI systems.
    pub root: usize,
}

impl Finding {
    /// A finding of `rule` at its default severity, with no position yet.
    pub fn new(rule: &'static Rule, path: FindingPath, message: impl Into<String>) -> Finding {
        Finding {
            rule,
            severity: rule.default_severity,
            path,
            range: None,
            line: None,
            column: None,
            message: message.into(),
            key: None,
            xml: None,
            remediation: None,
            hints: FixHints::default(),
            fix: None,
            suppressed: None,
            root: 0,
        }
    }

    /// Sets the range and the line and column it starts at.
    pub fn at(mut self, text: &str, index: &crate::text::LineIndex, range: TextRange) -> Finding {
        let (line, column) = index.line_col(text, range.start);
        self.range = Some(range);
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    /// Attaches the key the finding is about.
    pub fn with_key(mut self, key: KeyInfo) -> Finding {
        self.key = Some(key);
        self
    }

    /// A stable sort order: path, position, rule.
    pub fn sort_key(&self) -> (&str, u32, u32, &'static str) {
        (
            &self.path.display,
            self.line.unwrap_or(0),
            self.column.unwrap_or(0),
            self.rule.code,
        )
    }
}
