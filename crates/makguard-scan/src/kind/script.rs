//! Scripts: `.cmd .bat .ps1 .psm1 .vbs .wsf .js`, `SetupComplete.cmd` and `ErrorHandler.cmd`
//! above all.

use super::{FileKind, KindSpec, NameRules, Scanner};

pub(super) const KIND: KindSpec = KindSpec {
    kind: FileKind::Script,
    name: "script",
    names: NameRules {
        extensions: &["cmd", "bat", "ps1", "psm1", "vbs", "wsf", "js"],
        ..NameRules::NONE
    },
    refined_by_content: false,
    sniff: None,
    scanner: Scanner::Text(crate::script::scan),
    strong_candidate: true,
};
