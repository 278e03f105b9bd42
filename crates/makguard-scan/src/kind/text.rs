//! Any other text file. By name only `.ini .inf .reg .txt .xml .json .log` are candidates here;
//! the walk sends every other text file it sniffs by content to this kind too.

use super::{FileKind, KindSpec, NameRules, Scanner};

pub(super) const KIND: KindSpec = KindSpec {
    kind: FileKind::Text,
    name: "text",
    names: NameRules {
        extensions: &["ini", "inf", "reg", "txt", "xml", "json", "log"],
        ..NameRules::NONE
    },
    refined_by_content: true,
    sniff: None,
    scanner: Scanner::Text(crate::textfile::scan),
    strong_candidate: false,
};
