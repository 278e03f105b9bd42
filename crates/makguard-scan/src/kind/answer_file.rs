//! Answer files: `unattend.xml` / `autounattend.xml` anywhere, any `.xml` in a folder Windows
//! Setup searches for answer files, and any XML carrying the unattend namespace.

use super::{FileKind, KindSpec, NameRules, Scanner};
use crate::{unattend, xmltext};

pub(super) const KIND: KindSpec = KindSpec {
    kind: FileKind::AnswerFile,
    name: "answer-file",
    names: NameRules {
        file_names: &["unattend.xml", "autounattend.xml"],
        // MDT's per-task-sequence `Control/<ID>/Unattend.xml` is matched by name already.
        folders: &["windows/panther/unattend/", "$windows.~bt/sources/panther/"],
        folder_extensions: &["xml"],
        extensions: &[],
    },
    refined_by_content: true,
    sniff: Some(sniff),
    scanner: Scanner::Text(unattend::scan),
    strong_candidate: true,
};

/// A file Setup reads as an answer file (by its name or folder) goes to the answer-file
/// scanner when it does not parse, namespace or not (a truncated file may end before it), so
/// that it becomes an MG902 finding, not text.
fn sniff(text: &str, by_name: FileKind) -> bool {
    unattend::is_answer_file(text) || (by_name == FileKind::AnswerFile && !xmltext::is_well_formed(text))
}
