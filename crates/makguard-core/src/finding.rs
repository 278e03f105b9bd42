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

/// What a scanner saw around a finding beyond its location: the facts particular to the
/// kind of file it was found in. The fixer reads them to choose a replacement key; reports
/// print them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Detail {
    /// Nothing beyond the location and the key.
    #[default]
    None,
    /// A finding in XML (answer files).
    Xml {
        /// Where in the XML it sits.
        context: XmlContext,
        /// The answer file's `ImageInstall/OSImage/InstallFrom/MetaData` `/IMAGE/NAME` for the
        /// component's architecture: a weak hint of the edition the key is for.
        install_image_name: Option<String>,
    },
    /// A key in an Office configuration.
    Office {
        /// Click-to-Run `Product ID` the key belongs to, e.g. `ProPlus2021Volume`.
        click_to_run_product_id: Option<String>,
        /// MSI Office product as Microsoft's GVLK table names it, e.g.
        /// `Office Professional Plus 2016`. No scanner sets it yet: an MSI `config.xml` names
        /// its product (`ProPlus`) but not its version, so the fixer cannot rely on it.
        msi_product: Option<String>,
    },
    /// What to do when no file edit can repair the finding (an installed key, a registry
    /// value, a part of an image that could not be read), GVLK spelled out.
    Remediation(String),
}

impl Detail {
    /// The answer file's image name for the finding's architecture; `None` outside answer
    /// files or when it names none.
    pub fn install_image_name(&self) -> Option<&str> {
        match self {
            Detail::Xml { install_image_name, .. } => install_image_name.as_deref(),
            _ => None,
        }
    }

    /// The Click-to-Run `Product ID` the key belongs to; `None` outside Office configurations.
    pub fn click_to_run_product_id(&self) -> Option<&str> {
        match self {
            Detail::Office {
                click_to_run_product_id,
                ..
            } => click_to_run_product_id.as_deref(),
            _ => None,
        }
    }

    /// The MSI Office product the key belongs to; `None` outside Office configurations.
    pub fn msi_product(&self) -> Option<&str> {
        match self {
            Detail::Office { msi_product, .. } => msi_product.as_deref(),
            _ => None,
        }
    }

    /// Every free text the detail holds, for a pass that must rewrite them all (masking
    /// keys quoted from a file).
    pub fn texts_mut(&mut self) -> Vec<&mut String> {
        match self {
            Detail::None => Vec::new(),
            Detail::Xml {
                context,
                install_image_name,
            } => {
                let XmlContext {
                    pass,
                    component,
                    architecture,
                    element_path,
                    in_comment: _,
                } = context;
                [pass, component, architecture, install_image_name]
                    .into_iter()
                    .flatten()
                    .chain([element_path])
                    .collect()
            }
            Detail::Office {
                click_to_run_product_id,
                msi_product,
            } => [click_to_run_product_id, msi_product].into_iter().flatten().collect(),
            Detail::Remediation(text) => vec![text],
        }
    }
}

/// How a key is written where it was found: what an edit that replaces it must respect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySpelling {
    /// The key is written without dashes (MSI `PIDKEY Value`); the replacement must be too.
    pub bare: bool,
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
    /// How the key is written where it was found.
    pub spelling: KeySpelling,
}

impl KeyInfo {
    /// A key with its classification, written with dashes and rewritable in place.
    pub fn new(key: ProductKey, classification: Classification) -> KeyInfo {
        KeyInfo {
            key,
            classification,
            spelling: KeySpelling::default(),
        }
    }

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

/// The 1-based line and column a text range starts at (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LineColumn {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

/// Where in its file a finding is.
///
/// A text span's line and column are resolved from the file's [`crate::text::LineIndex`]
/// when the finding is made, because that is the only moment the decoded text exists: a
/// scan streams files (out of a WIM, say) and keeps none of them for the reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Span {
    /// The file as a whole, or a place in it that has no text position (a registry value, a
    /// file that could not be read).
    #[default]
    File,
    /// A range of the file's decoded text and the line and column it starts at.
    Text {
        /// The range in the decoded text.
        range: TextRange,
        /// Where `range` starts.
        start: LineColumn,
    },
    /// A line and column known without a range of the text (a setting in `makguard.toml`,
    /// placed by the TOML parser).
    Point(LineColumn),
    /// A range of the file's raw bytes (binary files).
    Bytes(ByteRange),
}

/// Where a finding is: the scanned root, the file in it, and the place in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Index into [`crate::model::ScanReport::roots`] of the root `path` is relative to (0
    /// for a single-root scan). Reports join the two to name the file for CI systems.
    pub root: usize,
    /// The file, relative to the root.
    pub path: FindingPath,
    /// The place in the file.
    pub span: Span,
}

/// One thing a scanner found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule the finding breaks.
    pub rule: &'static Rule,
    /// The severity it is reported at: the rule's default unless configuration changes it.
    pub severity: Severity,
    /// Where it is.
    pub location: Location,
    /// Never holds a non-GVLK key in full.
    pub message: String,
    /// The key the finding is about; `None` for findings about no particular key.
    pub key: Option<KeyInfo>,
    /// The facts particular to the kind of file it was found in.
    pub detail: Detail,
    /// The planned repair; `None` until the fixer plans one, or when it cannot.
    pub fix: Option<Fix>,
    /// The policy exception covering the finding; `None` when it is not suppressed.
    pub suppressed: Option<Suppression>,
}

impl Finding {
    /// A finding of `rule` at its default severity, about the file as a whole (root 0).
    pub fn new(rule: &'static Rule, path: FindingPath, message: impl Into<String>) -> Finding {
        Finding {
            rule,
            severity: rule.default_severity,
            location: Location {
                root: 0,
                path,
                span: Span::File,
            },
            message: message.into(),
            key: None,
            detail: Detail::None,
            fix: None,
            suppressed: None,
        }
    }

    /// Places the finding at `range` of `text`, resolving the line and column it starts at.
    pub fn at(mut self, text: &str, index: &crate::text::LineIndex, range: TextRange) -> Finding {
        let (line, column) = index.line_col(text, range.start);
        self.location.span = Span::Text {
            range,
            start: LineColumn { line, column },
        };
        self
    }

    /// Places the finding at `range` of the file's raw bytes.
    pub fn at_bytes(mut self, range: ByteRange) -> Finding {
        self.location.span = Span::Bytes(range);
        self
    }

    /// Attaches the key the finding is about.
    pub fn with_key(mut self, key: KeyInfo) -> Finding {
        self.key = Some(key);
        self
    }

    /// Attaches the facts particular to the kind of file.
    pub fn with_detail(mut self, detail: Detail) -> Finding {
        self.detail = detail;
        self
    }

    /// Records how the finding's key is written; does nothing when it has no key.
    pub fn spelled(mut self, spelling: KeySpelling) -> Finding {
        if let Some(key) = &mut self.key {
            key.spelling = spelling;
        }
        self
    }

    /// The file, relative to its root.
    pub fn path(&self) -> &FindingPath {
        &self.location.path
    }

    /// The range in the decoded text; `None` when the finding has no text position.
    pub fn range(&self) -> Option<TextRange> {
        match self.location.span {
            Span::Text { range, .. } => Some(range),
            Span::File | Span::Point(_) | Span::Bytes(_) => None,
        }
    }

    /// The line and column the finding starts at; `None` when it has no text position.
    pub fn start(&self) -> Option<LineColumn> {
        match self.location.span {
            Span::Text { start, .. } | Span::Point(start) => Some(start),
            Span::File | Span::Bytes(_) => None,
        }
    }

    /// The 1-based line; `None` when the finding has no text position.
    pub fn line(&self) -> Option<u32> {
        self.start().map(|start| start.line)
    }

    /// The 1-based column, in characters; `None` when the finding has no text position.
    pub fn column(&self) -> Option<u32> {
        self.start().map(|start| start.column)
    }

    /// The range of the file's raw bytes; `None` unless the file was read as binary.
    pub fn byte_range(&self) -> Option<ByteRange> {
        match self.location.span {
            Span::Bytes(range) => Some(range),
            Span::File | Span::Text { .. } | Span::Point(_) => None,
        }
    }

    /// Where in the XML the finding sits; `None` outside XML.
    pub fn xml(&self) -> Option<&XmlContext> {
        match &self.detail {
            Detail::Xml { context, .. } => Some(context),
            _ => None,
        }
    }

    /// What to do when no file edit can repair the finding; `None` when an edit can.
    pub fn remediation(&self) -> Option<&str> {
        match &self.detail {
            Detail::Remediation(text) => Some(text),
            _ => None,
        }
    }

    /// How the finding's key is written; the default spelling when it has no key.
    pub fn spelling(&self) -> &KeySpelling {
        static PLAIN: KeySpelling = KeySpelling {
            bare: false,
            not_rewritable: None,
        };
        self.key.as_ref().map_or(&PLAIN, |key| &key.spelling)
    }

    /// A stable sort order: path, position, rule.
    pub fn sort_key(&self) -> (&str, u32, u32, &'static str) {
        let start = self.start().unwrap_or(LineColumn { line: 0, column: 0 });
        (&self.location.path.display, start.line, start.column, self.rule.code)
    }
}
