//! Office Deployment Tool `configuration.xml` (`<Product ID=… PIDKEY=…>`), told from other XML
//! by content.

use makguard_core::rules::OFFICE_C2R_NON_KMS_KEY;

use super::{FileKind, KindSpec, NameRules, Scanner};
use crate::office::{self, OfficeLayout};

pub(super) const KIND: KindSpec = KindSpec {
    kind: FileKind::OfficeClickToRun,
    name: "office-click-to-run",
    names: NameRules::NONE,
    refined_by_content: false,
    sniff: Some(|text, _| office::sniff(text) == Some(OfficeLayout::ClickToRun)),
    scanner: Scanner::Text(|decoded, ctx| office::scan(&OFFICE_C2R_NON_KMS_KEY, decoded, ctx)),
    strong_candidate: true,
};
