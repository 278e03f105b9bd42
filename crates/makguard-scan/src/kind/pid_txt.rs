//! Install media `sources/pid.txt`: `[PID] Value=` (`MG231`).

use makguard_core::Rule;
use makguard_core::rules::INSTALL_MEDIA_NON_KMS_KEY;

use super::{FileKind, KindSpec, NameRules, Scanner};
use crate::ini;

pub(super) const KIND: KindSpec = KindSpec {
    kind: FileKind::PidTxt,
    name: "pid-txt",
    names: NameRules {
        file_names: &["pid.txt"],
        ..NameRules::NONE
    },
    refined_by_content: false,
    sniff: None,
    scanner: Scanner::Text(|decoded, ctx| ini::scan(decoded, ctx, key_setting)),
    strong_candidate: true,
};

fn key_setting(section: &str, name: &str) -> Option<(&'static Rule, String)> {
    (section.eq_ignore_ascii_case("PID") && name.eq_ignore_ascii_case("Value"))
        .then(|| (&INSTALL_MEDIA_NON_KMS_KEY, "The install-media pid.txt [PID] Value".to_string()))
}
