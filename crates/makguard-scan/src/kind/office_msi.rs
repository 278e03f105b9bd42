//! MSI Office `config.xml` (`<PIDKEY Value=…/>`), told from other XML by content.

use makguard_core::rules::OFFICE_MSI_NON_KMS_KEY;

use super::{FileKind, KindSpec, NameRules, Scanner};
use crate::office::{self, OfficeLayout};

pub(super) const KIND: KindSpec = KindSpec {
    kind: FileKind::OfficeMsi,
    name: "office-msi",
    names: NameRules::NONE,
    refined_by_content: false,
    sniff: Some(|text, _| office::sniff(text) == Some(OfficeLayout::Msi)),
    scanner: Scanner::Text(|decoded, ctx| office::scan(&OFFICE_MSI_NON_KMS_KEY, decoded, ctx)),
    strong_candidate: true,
};
