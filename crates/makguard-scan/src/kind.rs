//! What a file is, decided first from its path (no I/O) and then, for XML, from its content;
//! and the dispatch from a file's kind to the scanner for that kind.
//!
//! The name gives a file its kind (which scanner adds structure: answer file, script, Office,
//! ini); it does not decide whether a file is read. The walk searches every text file, by
//! content ([`crate::sniff`]), as [`FileKind::Text`] when its name says nothing more. Paths are
//! matched case-insensitively: a mounted image keeps Windows' mixed case.

use makguard_core::Finding;
use makguard_core::text::{DecodedText, decode};

use crate::{FileContext, binary, ini, office, script, textfile, unattend, xmltext};

/// The kinds of file makguard searches, each with its own scanner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileKind {
    /// `unattend.xml` / `autounattend.xml`, or any XML carrying the unattend namespace.
    AnswerFile,
    /// `.cmd .bat .ps1 .psm1 .vbs .wsf .js`, including `SetupComplete.cmd` and `ErrorHandler.cmd`.
    Script,
    /// Office Deployment Tool `configuration.xml` (`<Product ID=… PIDKEY=…>`).
    OfficeClickToRun,
    /// MSI Office `config.xml` (`<PIDKEY Value=…/>`).
    OfficeMsi,
    /// MDT `CustomSettings.ini` / `Bootstrap.ini`.
    DeploymentIni,
    /// Install media `sources/pid.txt`.
    PidTxt,
    /// Install media `sources/ei.cfg`.
    EiCfg,
    /// Windows Setup `SetupConfig.ini`.
    SetupConfigIni,
    /// Any other text file, whatever its name (`.ini .log .yml .psd1`, no extension): only
    /// checksum-valid keys or keys beside a key word.
    Text,
    /// Any other file, searched only with `--deep`, as bytes.
    Binary,
}

impl FileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::AnswerFile => "answer-file",
            FileKind::Script => "script",
            FileKind::OfficeClickToRun => "office-click-to-run",
            FileKind::OfficeMsi => "office-msi",
            FileKind::DeploymentIni => "deployment-ini",
            FileKind::PidTxt => "pid-txt",
            FileKind::EiCfg => "ei-cfg",
            FileKind::SetupConfigIni => "setupconfig-ini",
            FileKind::Text => "text",
            FileKind::Binary => "binary",
        }
    }

    /// True for kinds that exist to carry keys or settings: too big a file of such a kind is
    /// still searched (as bytes, in bounded memory) rather than skipped.
    pub fn is_strong_candidate(self) -> bool {
        !matches!(self, FileKind::Text | FileKind::Binary)
    }
}

const SCRIPT_EXTENSIONS: &[&str] = &["cmd", "bat", "ps1", "psm1", "vbs", "wsf", "js"];
const TEXT_EXTENSIONS: &[&str] = &["ini", "inf", "reg", "txt", "xml", "json", "log"];

/// Folders (lower case, `/`-separated, matched anywhere in the path) where Windows Setup or
/// MDT look for answer files under any `.xml` name.
const ANSWER_FILE_FOLDERS: &[&str] = &["windows/panther/unattend/", "$windows.~bt/sources/panther/"];

/// The kind a file's path suggests, or `None` when the file is not a candidate. XML files come
/// back as [`FileKind::Text`] or [`FileKind::AnswerFile`] and are refined from their content by
/// [`detect_kind`].
pub fn candidate_by_name(rel_path: &str) -> Option<FileKind> {
    let lower_with_suffix = rel_path.to_lowercase();
    let lower = strip_backup_suffixes(&lower_with_suffix);
    let lower = lower.as_ref();
    let name = lower.rsplit('/').next().unwrap_or(lower);
    let extension = name.rsplit_once('.').map(|(_, ext)| ext);
    match name {
        "unattend.xml" | "autounattend.xml" => return Some(FileKind::AnswerFile),
        "customsettings.ini" | "bootstrap.ini" => return Some(FileKind::DeploymentIni),
        "pid.txt" => return Some(FileKind::PidTxt),
        "ei.cfg" => return Some(FileKind::EiCfg),
        "setupconfig.ini" => return Some(FileKind::SetupConfigIni),
        _ => {}
    }
    let extension = extension?;
    if SCRIPT_EXTENSIONS.contains(&extension) {
        return Some(FileKind::Script);
    }
    if extension == "xml" && is_answer_file_location(lower) {
        return Some(FileKind::AnswerFile);
    }
    TEXT_EXTENSIONS.contains(&extension).then_some(FileKind::Text)
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

/// True for an `.xml` in a folder Setup searches for answer files, and for MDT's per-task-
/// sequence `Control/<ID>/Unattend.xml` (matched by name already).
fn is_answer_file_location(lower_path: &str) -> bool {
    let with_root = format!("/{lower_path}");
    ANSWER_FILE_FOLDERS.iter().any(|folder| {
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
    matches!(by_name, FileKind::Text | FileKind::AnswerFile)
}

/// Refines a name-based kind from the decoded text: which XML is an answer file, which an
/// Office configuration, which just text.
pub(crate) fn refine_by_content(by_name: FileKind, decoded: &DecodedText) -> FileKind {
    if !needs_content(by_name) {
        return by_name;
    }
    let text = decoded.text.as_str();
    // A file Setup reads as an answer file (by its name or folder) goes to the answer-file
    // scanner when it does not parse, namespace or not (a truncated file may end before it),
    // so that it becomes an MG902 finding, not text.
    if unattend::is_answer_file(text) || (by_name == FileKind::AnswerFile && !xmltext::is_well_formed(text)) {
        return FileKind::AnswerFile;
    }
    match office::sniff(text) {
        Some(kind) => kind,
        None => FileKind::Text,
    }
}

/// Scan one file's bytes as `scan_paths` would (the fixer re-scans a rewritten file with
/// this to check it still parses).
pub fn scan_file_bytes(kind: FileKind, bytes: &[u8], ctx: &FileContext<'_>) -> Vec<Finding> {
    if kind == FileKind::Binary {
        let mut findings = Vec::new();
        if let Err(error) = binary::scan_reader(bytes, ctx, &mut findings) {
            findings.push(crate::unreadable_finding(ctx.path, &error));
        }
        return findings;
    }
    scan_decoded(kind, &decode(bytes), ctx)
}

/// Runs the scanner for `kind` over already decoded text.
pub(crate) fn scan_decoded(kind: FileKind, decoded: &DecodedText, ctx: &FileContext<'_>) -> Vec<Finding> {
    let mut findings = scan_decoded_unordered(kind, decoded, ctx);
    findings.sort_by_key(|f| (f.line.unwrap_or(0), f.column.unwrap_or(0)));
    findings
}

fn scan_decoded_unordered(kind: FileKind, decoded: &DecodedText, ctx: &FileContext<'_>) -> Vec<Finding> {
    if let Some(problem) = decoded.unsupported_encoding()
        && kind != FileKind::Binary
    {
        // The text is not what the file means: say so, and search it only as bytes of text.
        let mut findings = vec![Finding::new(
            &makguard_core::rules::XML_ENCODING_UNSUPPORTED,
            ctx.path.clone(),
            format!("{problem}; its keys could not be checked (save it as UTF-8 or UTF-16)"),
        )];
        findings.extend(textfile::scan(decoded, ctx));
        return findings;
    }
    match kind {
        FileKind::AnswerFile => unattend::scan(decoded, ctx),
        FileKind::Script => script::scan(decoded, ctx),
        FileKind::OfficeClickToRun | FileKind::OfficeMsi => office::scan(kind, decoded, ctx),
        FileKind::DeploymentIni | FileKind::PidTxt | FileKind::SetupConfigIni => ini::scan(kind, decoded, ctx),
        FileKind::EiCfg => ini::scan_ei_cfg(decoded, ctx),
        FileKind::Text => textfile::scan(decoded, ctx),
        FileKind::Binary => {
            let bytes = makguard_core::text::encode(&decoded.text, decoded.encoding)
                .unwrap_or_else(|| decoded.text.as_bytes().to_vec());
            scan_file_bytes(FileKind::Binary, &bytes, ctx)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
