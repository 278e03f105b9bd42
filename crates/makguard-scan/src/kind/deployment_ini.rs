//! MDT `CustomSettings.ini` / `Bootstrap.ini`: `ProductKey=`, `OverrideProductKey=` and
//! `ConfigMgr`'s `OSDProductKey=` in any section (`MG221`).

use makguard_core::Rule;
use makguard_core::rules::DEPLOYMENT_SETTING_NON_KMS_KEY;

use super::{FileKind, KindSpec, NameRules, Scanner};
use crate::ini;

pub(super) const KIND: KindSpec = KindSpec {
    kind: FileKind::DeploymentIni,
    name: "deployment-ini",
    names: NameRules {
        file_names: &["customsettings.ini", "bootstrap.ini"],
        ..NameRules::NONE
    },
    refined_by_content: false,
    sniff: None,
    scanner: Scanner::Text(|decoded, ctx| ini::scan(decoded, ctx, key_setting)),
    strong_candidate: true,
};

/// What an MDT setting means when it holds a key.
fn key_setting(section: &str, name: &str) -> Option<(&'static Rule, String)> {
    let meaning = if name.eq_ignore_ascii_case("OverrideProductKey") {
        "MDT setting OverrideProductKey (the key MDT applies after deployment)"
    } else if name.eq_ignore_ascii_case("ProductKey") {
        "MDT setting ProductKey (written into every answer file MDT generates)"
    } else if name.eq_ignore_ascii_case("OSDProductKey") {
        "ConfigMgr variable OSDProductKey"
    } else {
        return None;
    };
    Some((&DEPLOYMENT_SETTING_NON_KMS_KEY, format!("The {meaning} in [{section}]")))
}
