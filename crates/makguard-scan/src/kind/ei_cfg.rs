//! Install media `sources/ei.cfg`: its edition and channel as an `MG232` note.

use super::{FileKind, KindSpec, NameRules, Scanner};

pub(super) const KIND: KindSpec = KindSpec {
    kind: FileKind::EiCfg,
    name: "ei-cfg",
    names: NameRules {
        file_names: &["ei.cfg"],
        ..NameRules::NONE
    },
    refined_by_content: false,
    sniff: None,
    scanner: Scanner::Text(crate::ini::scan_ei_cfg),
    strong_candidate: true,
};
