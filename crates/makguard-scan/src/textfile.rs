//! Other text files (`.ini .inf .reg .txt .xml .json .log`) and the text rule every
//! structured scanner falls back on for the rest of its file.
//!
//! Logs and inventories are full of 5×5 strings, so the rule is strict: a post-2009 key whose
//! checksum validates is reported anywhere; any other well-formed key only when a key word
//! (`ProductKey`, `PIDKEY`, `/ipk`, `key=`, …) stands just before it. GVLKs and placeholders are
//! never reported.

use makguard_core::classify::is_placeholder;
use makguard_core::rules::TEXT_KEY;
use makguard_core::text::{DecodedText, LineIndex};
use makguard_core::{Checksum, Finding, TextRange};

use crate::keyscan::{self, KeyToken};
use crate::{FileContext, key_finding};

/// True for a key that may leak: neither a public GVLK nor a placeholder.
pub(crate) fn is_secret_candidate(token: &KeyToken, text: &str) -> bool {
    !token.key.is_gvlk() && !is_placeholder(&text[token.range.start..token.range.end])
}

/// The keys of `text` the text rule reports, in text order.
pub(crate) fn reportable_keys(text: &str) -> Vec<KeyToken> {
    let mut tokens: Vec<KeyToken> = keyscan::find_dashed_keys(text)
        .into_iter()
        .filter(|t| t.key.checksum() == Checksum::Valid || keyscan::key_word_before(text, t.range.start))
        .collect();
    tokens.extend(
        keyscan::find_bare_keys(text)
            .into_iter()
            .filter(|t| keyscan::key_word_before(text, t.range.start)),
    );
    tokens.retain(|t| is_secret_candidate(t, text));
    tokens.sort_by_key(|t| t.range.start);
    tokens
}

/// Text-rule findings (`MG241`) for the keys of `text` outside `already_reported`.
pub(crate) fn leftover_findings(
    text: &str,
    index: &LineIndex,
    ctx: &FileContext<'_>,
    already_reported: &[TextRange],
) -> Vec<Finding> {
    reportable_keys(text)
        .into_iter()
        .filter(|t| !already_reported.iter().any(|r| r.overlaps(&t.range)))
        .map(|t| {
            let what = match keyscan::install_command_before_any_spelling(text, t.range.start) {
                Some(command) => format!("A `{}` command in a text file", command.describe()),
                None => "A text file".to_string(),
            };
            key_finding(&TEXT_KEY, ctx, text, index, t.range, &t.key, &what)
        })
        .collect()
}

/// Every `MG241` finding in a text file.
pub fn scan(decoded: &DecodedText, ctx: &FileContext<'_>) -> Vec<Finding> {
    let text = decoded.text.as_str();
    let index = LineIndex::new(text);
    leftover_findings(text, &index, ctx, &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use makguard_core::FindingPath;
    use makguard_core::text::decode;

    const MAK: &str = "6QWQ4-8NRCW-KHGHV-CR226-3PPQC";
    const BAD_CHECKSUM: &str = "FRYPW-J6N9G-4BHXK-4BMQ3-3GXXP";
    const LEGACY: &str = "Y7BYD-BQG8X-7THCD-3XHD2-JGBRF";
    const GVLK: &str = "NPPR9-FWDCX-D2C8J-H872K-2YT43";

    fn scan_text(text: &str) -> Vec<Finding> {
        let path = FindingPath::new("x.log");
        let ctx = FileContext {
            path: &path,
            key_config: None,
        };
        scan(&decode(text.as_bytes()), &ctx)
    }

    #[test]
    fn checksum_valid_keys_are_reported_anywhere() {
        let found = scan_text(&format!("line one\nbuild {MAK} done\n"));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].rule.code, "MG241");
        assert_eq!((found[0].line, found[0].column), (Some(2), Some(7)));
        assert!(!found[0].message.contains("6QWQ4"));
    }

    #[test]
    fn other_keys_need_a_key_word() {
        assert!(scan_text(&format!("id {BAD_CHECKSUM} and {LEGACY}\n")).is_empty());
        let found = scan_text(&format!("ProductKey={LEGACY}\nkey: {BAD_CHECKSUM}\n"));
        assert_eq!(found.len(), 2);
        let bare = LEGACY.replace('-', "");
        assert!(scan_text(&format!("token {bare}\n")).is_empty());
        assert_eq!(scan_text(&format!("PIDKEY={bare}\n")).len(), 1);
    }

    #[test]
    fn gvlks_and_placeholders_are_quiet() {
        assert!(scan_text(&format!("ProductKey={GVLK}\nProductKey={}\n", ["BBBBB"; 5].join("-"))).is_empty());
    }
}
