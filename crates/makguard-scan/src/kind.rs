//! What a file is, decided first from its path (no I/O) and then, for XML, from its content;
//! and the dispatch from a file's kind to the scanner for that kind.
//!
//! Every kind is declared once, in its own module under `kind/` (its name rules, its content
//! sniff, its scanner entry point), and registered by one line of the `file_kinds!` table
//! below. The enum, [`FileKind::as_str`], the name matching, `needs_content` and the dispatch
//! are derived from that table; the scanners themselves (`unattend.rs`, `office.rs`, `ini.rs`,
//! …) know nothing of kinds. How to add a kind: `docs/architecture.md`.
//!
//! The name gives a file its kind (which scanner adds structure: answer file, script, Office,
//! ini); it does not decide whether a file is read. The walk searches every text file, by
//! content ([`crate::sniff`]), as [`FileKind::Text`] when its name says nothing more. Paths are
//! matched case-insensitively: a mounted image keeps Windows' mixed case.

use makguard_core::Finding;
use makguard_core::text::{DecodedText, decode};

use crate::{FileContext, textfile};

/// Declares [`FileKind`], the per-kind modules and the table of their declarations from one
/// list, so that a kind cannot exist without its declaration nor be registered twice.
macro_rules! file_kinds {
    ($($(#[$doc:meta])* $variant:ident => $module:ident,)+) => {
        $(mod $module;)+

        /// The kinds of file makguard searches, each with its own scanner.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum FileKind {
            $($(#[$doc])* $variant,)+
        }

        /// Every kind's declaration, in [`FileKind`] order (the order the content sniffs run in).
        static KINDS: &[KindSpec] = &[$($module::KIND,)+];
    };
}

file_kinds! {
    /// `unattend.xml` / `autounattend.xml`, or any XML carrying the unattend namespace.
    AnswerFile => answer_file,
    /// `.cmd .bat .ps1 .psm1 .vbs .wsf .js`, including `SetupComplete.cmd` and `ErrorHandler.cmd`.
    Script => script,
    /// Office Deployment Tool `configuration.xml` (`<Product ID=… PIDKEY=…>`).
    OfficeClickToRun => office_click_to_run,
    /// MSI Office `config.xml` (`<PIDKEY Value=…/>`).
    OfficeMsi => office_msi,
    /// MDT `CustomSettings.ini` / `Bootstrap.ini`.
    DeploymentIni => deployment_ini,
    /// Install media `sources/pid.txt`.
    PidTxt => pid_txt,
    /// Install media `sources/ei.cfg`.
    EiCfg => ei_cfg,
    /// Windows Setup `SetupConfig.ini`.
    SetupConfigIni => setupconfig_ini,
    /// Any other text file, whatever its name (`.ini .log .yml .psd1`, no extension): only
    /// checksum-valid keys or keys beside a key word.
    Text => text,
    /// Any other file, searched only with `--deep`, as bytes.
    Binary => binary,
}

/// One file kind's declaration: everything the detection and the dispatch need to know of it.
struct KindSpec {
    kind: FileKind,
    /// The kind's name in reports and the corpus manifest (`answer-file`, `pid-txt`).
    name: &'static str,
    /// Which paths are of this kind by name alone.
    names: NameRules,
    /// A file named as this kind may turn out to be another by content (XML: which one is an
    /// answer file, which an Office configuration, which just text).
    refined_by_content: bool,
    /// Claims a text whose name made it a `refined_by_content` kind (given as `by_name`);
    /// sniffs run in table order and the first to claim the text decides.
    sniff: Option<fn(text: &str, by_name: FileKind) -> bool>,
    scanner: Scanner,
    /// The kind exists to carry keys or settings: too big a file of it is still searched (as
    /// bytes, in bounded memory) rather than skipped.
    strong_candidate: bool,
}

/// How a kind's scanner reads a file.
enum Scanner {
    Text(fn(&DecodedText, &FileContext<'_>) -> Vec<Finding>),
    Bytes(fn(&[u8], &FileContext<'_>) -> Vec<Finding>),
}

/// Which lower-case paths are of a kind by name, in three steps tried across all kinds in
/// turn: a whole file name, then an extension inside one of the kind's folders, then an
/// extension anywhere. No name, folder-and-extension or extension belongs to two kinds.
struct NameRules {
    file_names: &'static [&'static str],
    /// Folders (lower case, `/`-separated, matched anywhere in the path) whose files with one
    /// of `folder_extensions` directly inside them are of this kind.
    folders: &'static [&'static str],
    folder_extensions: &'static [&'static str],
    extensions: &'static [&'static str],
}

impl NameRules {
    /// A kind no name gives: only content or the caller decides it.
    const NONE: NameRules = NameRules {
        file_names: &[],
        folders: &[],
        folder_extensions: &[],
        extensions: &[],
    };
}

impl FileKind {
    fn spec(self) -> &'static KindSpec {
        &KINDS[self as usize]
    }

    /// The kind's name in reports and the corpus manifest, e.g. `answer-file`.
    pub fn as_str(self) -> &'static str {
        self.spec().name
    }

    /// True for kinds that exist to carry keys or settings: too big a file of such a kind is
    /// still searched (as bytes, in bounded memory) rather than skipped.
    pub fn is_strong_candidate(self) -> bool {
        self.spec().strong_candidate
    }
}

/// The kind a file's path suggests, or `None` when the file is not a candidate. XML files come
/// back as [`FileKind::Text`] or [`FileKind::AnswerFile`] and are refined from their content by
/// [`detect_kind`].
pub fn candidate_by_name(rel_path: &str) -> Option<FileKind> {
    let lower_with_suffix = rel_path.to_lowercase();
    let lower = strip_backup_suffixes(&lower_with_suffix);
    let lower = lower.as_ref();
    let name = lower.rsplit('/').next().unwrap_or(lower);
    let by_file_name = |spec: &&KindSpec| spec.names.file_names.contains(&name);
    if let Some(spec) = KINDS.iter().find(by_file_name) {
        return Some(spec.kind);
    }
    let extension = name.rsplit_once('.').map(|(_, ext)| ext)?;
    let by_folder =
        |spec: &&KindSpec| spec.names.folder_extensions.contains(&extension) && is_in_folder(lower, spec.names.folders);
    let by_extension = |spec: &&KindSpec| spec.names.extensions.contains(&extension);
    KINDS
        .iter()
        .find(by_folder)
        .or_else(|| KINDS.iter().find(by_extension))
        .map(|spec| spec.kind)
}

/// Suffixes that editors and tools (`makguard fix --backup` among them) append to a backup
/// copy. A backup of a candidate ships with the image just like the original, so it is
/// searched as the original would be.
const BACKUP_SUFFIXES: &[&str] = &[".makguard-orig", ".bak", ".orig", ".old", ".backup", "~"];

/// What `makguard fix` writes while replacing a file: `.NAME.makguard-tmp-PID-N` beside it.
const FIX_TEMP_MARKER: &str = ".makguard-tmp-";

/// The path of the file a backup or a `makguard fix` temporary stands for.
fn strip_backup_suffixes(lower_path: &str) -> std::borrow::Cow<'_, str> {
    let (dir, name) = lower_path.rsplit_once('/').map_or(("", lower_path), |(d, n)| (d, n));
    if let Some(at) = name.find(FIX_TEMP_MARKER) {
        let original = name[..at].strip_prefix('.').unwrap_or(&name[..at]);
        let original = strip_plain_backup_suffixes(original);
        return if dir.is_empty() {
            original.to_string().into()
        } else {
            format!("{dir}/{original}").into()
        };
    }
    strip_plain_backup_suffixes(lower_path).into()
}

fn strip_plain_backup_suffixes(lower_path: &str) -> &str {
    let mut path = lower_path;
    while let Some(stripped) = BACKUP_SUFFIXES.iter().find_map(|suffix| path.strip_suffix(suffix)) {
        path = stripped;
    }
    path
}

/// True for a file directly inside one of `folders` (each matched anywhere in the path).
fn is_in_folder(lower_path: &str, folders: &[&str]) -> bool {
    let with_root = format!("/{lower_path}");
    folders.iter().any(|folder| {
        with_root
            .rfind(&format!("/{folder}"))
            .is_some_and(|at| !with_root[at + 1 + folder.len()..].contains('/'))
    })
}

/// The kind of a file from its path and content; `None` when it is not a candidate.
pub fn detect_kind(rel_path: &str, bytes: &[u8]) -> Option<FileKind> {
    let by_name = candidate_by_name(rel_path)?;
    if needs_content(by_name) {
        Some(refine_by_content(by_name, &decode(bytes)))
    } else {
        Some(by_name)
    }
}

/// XML candidates are told apart by content.
pub(crate) fn needs_content(by_name: FileKind) -> bool {
    by_name.spec().refined_by_content
}

/// Refines a name-based kind from the decoded text: which XML is an answer file, which an
/// Office configuration, which just text.
pub(crate) fn refine_by_content(by_name: FileKind, decoded: &DecodedText) -> FileKind {
    if !needs_content(by_name) {
        return by_name;
    }
    let text = decoded.text.as_str();
    KINDS
        .iter()
        .find(|spec| spec.sniff.is_some_and(|claims| claims(text, by_name)))
        .map_or(FileKind::Text, |spec| spec.kind)
}

/// Scan one file's bytes as `scan_paths` would (the fixer re-scans a rewritten file with
/// this to check it still parses).
pub fn scan_file_bytes(kind: FileKind, bytes: &[u8], ctx: &FileContext<'_>) -> Vec<Finding> {
    match kind.spec().scanner {
        Scanner::Bytes(scan) => scan(bytes, ctx),
        Scanner::Text(_) => scan_decoded(kind, &decode(bytes), ctx),
    }
}

/// Runs the scanner for `kind` over already decoded text.
pub(crate) fn scan_decoded(kind: FileKind, decoded: &DecodedText, ctx: &FileContext<'_>) -> Vec<Finding> {
    let mut findings = scan_decoded_unordered(kind, decoded, ctx);
    findings.sort_by_key(Finding::start);
    findings
}

fn scan_decoded_unordered(kind: FileKind, decoded: &DecodedText, ctx: &FileContext<'_>) -> Vec<Finding> {
    match kind.spec().scanner {
        Scanner::Text(scan) => match decoded.unsupported_encoding() {
            None => scan(decoded, ctx),
            Some(problem) => {
                // The text is not what the file means: say so, and search it only as bytes of
                // text.
                let mut findings = vec![Finding::new(
                    &makguard_core::rules::XML_ENCODING_UNSUPPORTED,
                    ctx.path.clone(),
                    format!("{problem}; its keys could not be checked (save it as UTF-8 or UTF-16)"),
                )];
                findings.extend(textfile::scan(decoded, ctx));
                findings
            }
        },
        Scanner::Bytes(scan) => {
            let bytes = makguard_core::text::encode(&decoded.text, decoded.encoding)
                .unwrap_or_else(|| decoded.text.as_bytes().to_vec());
            scan(&bytes, ctx)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_in_the_table_once_in_enum_order() {
        // The enum and the table come from one list, so they have as many entries; each
        // declaration naming the variant of its own line makes every variant appear exactly once.
        for (index, spec) in KINDS.iter().enumerate() {
            assert_eq!(spec.kind as usize, index, "{} is out of place in the table", spec.name);
            assert_eq!(spec.kind.as_str(), spec.name);
        }
        let mut names: Vec<_> = KINDS.iter().map(|spec| spec.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), KINDS.len(), "two kinds share a name");
    }

    #[test]
    fn no_name_rule_belongs_to_two_kinds() {
        let mut file_names = Vec::new();
        let mut extensions = Vec::new();
        let mut folder_extensions = Vec::new();
        for spec in KINDS {
            file_names.extend(spec.names.file_names.iter().map(|n| (*n, spec.kind)));
            extensions.extend(spec.names.extensions.iter().map(|e| (*e, spec.kind)));
            for folder in spec.names.folders {
                folder_extensions.extend(spec.names.folder_extensions.iter().map(|e| ((*folder, *e), spec.kind)));
            }
            for name in spec
                .names
                .file_names
                .iter()
                .chain(spec.names.extensions)
                .chain(spec.names.folders)
            {
                assert_eq!(name.to_lowercase(), *name, "{name}: name rules are lower case");
            }
            assert_eq!(spec.refined_by_content, needs_content(spec.kind));
        }
        for mut list in [file_names, extensions] {
            let all = list.len();
            list.sort_unstable_by_key(|(name, _)| *name);
            list.dedup_by_key(|(name, _)| *name);
            assert_eq!(list.len(), all, "a name rule is declared by two kinds");
        }
        let all = folder_extensions.len();
        folder_extensions.sort_unstable_by_key(|(rule, _)| *rule);
        folder_extensions.dedup_by_key(|(rule, _)| *rule);
        assert_eq!(folder_extensions.len(), all, "a folder rule is declared by two kinds");
    }

    #[test]
    fn names_decide_candidates_in_any_case() {
        let cases = [
            ("Autounattend.xml", Some(FileKind::AnswerFile)),
            ("WINDOWS/panther/Unattend.XML", Some(FileKind::AnswerFile)),
            ("Windows/Panther/Unattend/custom.xml", Some(FileKind::AnswerFile)),
            ("$WINDOWS.~BT/Sources/Panther/x.xml", Some(FileKind::AnswerFile)),
            ("Windows/Panther/Unattend/sub/x.xml", Some(FileKind::Text)),
            ("Windows/Setup/Scripts/SetupComplete.CMD", Some(FileKind::Script)),
            ("a/b.PS1", Some(FileKind::Script)),
            (
                "DeploymentShare/Control/CustomSettings.INI",
                Some(FileKind::DeploymentIni),
            ),
            ("sources/PID.txt", Some(FileKind::PidTxt)),
            ("sources/EI.CFG", Some(FileKind::EiCfg)),
            ("Users/Default/SetupConfig.ini", Some(FileKind::SetupConfigIni)),
            ("x/notes.LOG", Some(FileKind::Text)),
            ("x/setup.inf", Some(FileKind::Text)),
            ("Windows/System32/kernel32.dll", None),
            ("Windows/System32/config/SOFTWARE", None),
            ("noextension", None),
            (
                "Windows/Panther/.unattend.xml.makguard-orig.makguard-tmp-4242-1",
                Some(FileKind::AnswerFile),
            ),
            (".Activate.ps1.makguard-tmp-77-3", Some(FileKind::Script)),
            ("x/unattend.xml.makguard-orig", Some(FileKind::AnswerFile)),
        ];
        for (path, expected) in cases {
            assert_eq!(candidate_by_name(path), expected, "{path}");
        }
    }

    #[test]
    fn xml_is_told_apart_by_content() {
        let unattend = br#"<unattend xmlns="urn:schemas-microsoft-com:unattend"></unattend>"#;
        assert_eq!(detect_kind("any/x.xml", unattend), Some(FileKind::AnswerFile));
        let c2r =
            br#"<Configuration><Add Channel="PerpetualVL2021"><Product ID="ProPlus2021Volume"/></Add></Configuration>"#;
        assert_eq!(detect_kind("configuration.xml", c2r), Some(FileKind::OfficeClickToRun));
        let msi = br#"<Configuration Product="ProPlus"><PIDKEY Value="x"/></Configuration>"#;
        assert_eq!(detect_kind("config.xml", msi), Some(FileKind::OfficeMsi));
        assert_eq!(detect_kind("other.xml", b"<root/>"), Some(FileKind::Text));
        assert_eq!(detect_kind("unattend.xml", b"<root/>"), Some(FileKind::Text));
        // Named or placed as an answer file and not parsing: the answer-file scanner says so.
        let truncated = b"<?xml version=\"1.0\"?>\n<unattend xmlns=\"urn:sch";
        assert_eq!(detect_kind("x/AutoUnattend.XML", truncated), Some(FileKind::AnswerFile));
        assert_eq!(
            detect_kind("Windows/Panther/Unattend/a.xml", b"<a>"),
            Some(FileKind::AnswerFile)
        );
        assert_eq!(detect_kind("other.xml", truncated), Some(FileKind::Text));
        assert_eq!(detect_kind("a.dll", b"MZ"), None);
    }
}
