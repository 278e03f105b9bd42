//! Windows Setup `SetupConfig.ini`: `PKey=` in any section (`MG231`, the rule pid.txt uses).

use makguard_core::Rule;
use makguard_core::rules::INSTALL_MEDIA_NON_KMS_KEY;

use super::{FileKind, KindSpec, NameRules, Scanner};
use crate::ini;

pub(super) const KIND: KindSpec = KindSpec {
    kind: FileKind::SetupConfigIni,
    name: "setupconfig-ini",
    names: NameRules {
        file_names: &["setupconfig.ini"],
        ..NameRules::NONE
    },
    refined_by_content: false,
    sniff: None,
    scanner: Scanner::Text(|decoded, ctx| ini::scan(decoded, ctx, key_setting)),
    strong_candidate: true,
};

fn key_setting(section: &str, name: &str) -> Option<(&'static Rule, String)> {
    name.eq_ignore_ascii_case("PKey")
        .then(|| (&INSTALL_MEDIA_NON_KMS_KEY, format!("The SetupConfig.ini PKey in [{section}]")))
}
