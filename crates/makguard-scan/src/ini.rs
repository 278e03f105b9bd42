//! The ini reader behind the ini-style kinds (MDT `CustomSettings.ini` / `Bootstrap.ini`,
//! install media `sources/pid.txt`, Windows Setup `SetupConfig.ini`: each kind's module under
//! `kind/` says which settings hold keys), and `sources/ei.cfg` (edition and channel: an
//! `MG232` note).
//!
//! Any other key in these files falls to the text rule (`MG241`).

use makguard_core::classify::{SlotValue, classify_slot};
use makguard_core::rules::EI_CFG_CHANNEL;
use makguard_core::text::{DecodedText, LineIndex};
use makguard_core::{Finding, KeySpelling, Rule, TextRange};

use crate::textfile::leftover_findings;
use crate::{FileContext, key_finding};

/// One line of an ini file, with byte offsets into the whole text.
struct IniLine<'t> {
    /// The line without its terminator.
    text: &'t str,
    start: usize,
}

fn lines(text: &str) -> impl Iterator<Item = IniLine<'_>> {
    let mut start = 0;
    text.split_inclusive('\n').map(move |raw| {
        let line = IniLine {
            text: raw.trim_end_matches(['\n', '\r']),
            start,
        };
        start += raw.len();
        line
    })
}

/// `Some(name)` for a `[name]` section header.
fn section_name(line: &str) -> Option<&str> {
    let trimmed = line.trim();
    trimmed.strip_prefix('[')?.strip_suffix(']').map(str::trim)
}

fn is_comment(line: &str) -> bool {
    let trimmed = line.trim_start();
    trimmed.starts_with(';') || trimmed.starts_with('#')
}

/// `name=value`: the trimmed name and the value's range (trimmed, without surrounding quotes).
fn setting<'t>(line: &IniLine<'t>) -> Option<(&'t str, TextRange)> {
    if is_comment(line.text) {
        return None;
    }
    let (name, value) = line.text.split_once('=')?;
    let mut value_start = line.start + name.len() + 1;
    let leading = value.len() - value.trim_start().len();
    value_start += leading;
    let mut value = value.trim();
    if value.len() >= 2
        && ((value.starts_with('"') && value.ends_with('"')) || (value.starts_with('\'') && value.ends_with('\'')))
    {
        value = &value[1..value.len() - 1];
        value_start += 1;
    }
    Some((name.trim(), TextRange::new(value_start, value_start + value.len())))
}

/// What a setting (`section`, `name` without a leading `/` or `-`) means when it holds a key:
/// its rule and how the finding names it; `None` when it is not a key setting.
pub(crate) type KeySetting = fn(section: &str, name: &str) -> Option<(&'static Rule, String)>;

/// Every key finding in a deployment ini, `pid.txt` or `SetupConfig.ini` (`key_setting` says
/// which settings hold keys).
pub(crate) fn scan(decoded: &DecodedText, ctx: &FileContext<'_>, key_setting: KeySetting) -> Vec<Finding> {
    let text = decoded.text.as_str();
    let index = LineIndex::new(text);
    let mut findings = Vec::new();
    let mut reported = Vec::new();
    let mut section = String::new();
    for line in lines(text) {
        if let Some(name) = section_name(line.text) {
            section = name.to_string();
            continue;
        }
        let Some((name, range)) = setting(&line) else {
            continue;
        };
        let Some((rule, what)) = key_setting(&section, name.trim_start_matches(['/', '-'])) else {
            continue;
        };
        if let SlotValue::Key(key) = classify_slot(&text[range.start..range.end]) {
            reported.push(range);
            if !key.is_gvlk() {
                let bare = !text[range.start..range.end].contains('-');
                let finding = key_finding(rule, ctx, text, &index, range, &key, &what).spelled(KeySpelling {
                    bare,
                    not_rewritable: None,
                });
                findings.push(finding);
            }
        }
    }
    findings.extend(leftover_findings(text, &index, ctx, &reported));
    findings
}

/// `sources/ei.cfg`: an `MG232` note naming its edition, channel and volume-licence flag, plus
/// any key the text rule finds.
pub(crate) fn scan_ei_cfg(decoded: &DecodedText, ctx: &FileContext<'_>) -> Vec<Finding> {
    let text = decoded.text.as_str();
    let index = LineIndex::new(text);
    let mut edition = None;
    let mut channel = None;
    let mut volume = None;
    let mut anchor = TextRange::new(0, 0);
    let mut pending: Option<String> = None;
    for line in lines(text) {
        if let Some(name) = section_name(line.text) {
            if name.eq_ignore_ascii_case("Channel") {
                anchor = TextRange::new(line.start, line.start + line.text.len());
            }
            pending = Some(name.to_ascii_lowercase());
            continue;
        }
        let value = line.text.trim();
        if value.is_empty() || is_comment(value) {
            continue;
        }
        match pending.take().as_deref() {
            Some("editionid") => edition = Some(value.to_string()),
            Some("channel") => channel = Some(value.to_string()),
            Some("vl") => volume = Some(value.to_string()),
            _ => {}
        }
    }
    let or_unset = |v: &Option<String>| v.clone().unwrap_or_else(|| "not set".to_string());
    let volume_meaning = match volume.as_deref() {
        Some("1") => " (volume licence: Setup asks for a key unless pid.txt or an answer file gives one)",
        Some("0") => " (not volume licence)",
        _ => "",
    };
    let message = format!(
        "ei.cfg sets EditionID {}, Channel {}, VL {}{volume_meaning}",
        or_unset(&edition),
        or_unset(&channel),
        or_unset(&volume)
    );
    let mut findings = vec![Finding::new(&EI_CFG_CHANNEL, ctx.path.clone(), message).at(text, &index, anchor)];
    findings.extend(leftover_findings(text, &index, ctx, &[]));
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FileKind;
    use makguard_core::FindingPath;

    const MAK: &str = "6QWQ4-8NRCW-KHGHV-CR226-3PPQC";
    const LEGACY: &str = "Y7BYD-BQG8X-7THCD-3XHD2-JGBRF";
    const GVLK: &str = "NPPR9-FWDCX-D2C8J-H872K-2YT43";

    /// Through the kind's declaration, which says which settings hold keys.
    fn run(kind: FileKind, name: &str, text: &str) -> Vec<Finding> {
        let path = FindingPath::new(name);
        let ctx = FileContext {
            path: &path,
            key_config: None,
        };
        crate::kind::scan_file_bytes(kind, text.as_bytes(), &ctx)
    }

    #[test]
    fn mdt_product_keys() {
        let text = format!(
            "[Settings]\r\nPriority=Default\r\n\r\n[Default]\r\n; ProductKey=old\r\nOverrideProductKey = \"{LEGACY}\"\r\nProductKey={GVLK}\r\n"
        );
        let found = run(FileKind::DeploymentIni, "CustomSettings.ini", &text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rule.code, "MG221");
        assert_eq!((found[0].line(), found[0].column()), (Some(6), Some(23)));
        assert!(found[0].message.contains("OverrideProductKey"));
    }

    #[test]
    fn pid_txt_and_setupconfig() {
        let found = run(FileKind::PidTxt, "sources/pid.txt", &format!("[PID]\nValue={LEGACY}\n"));
        assert_eq!(found.iter().map(|f| f.rule.code).collect::<Vec<_>>(), vec!["MG231"]);
        let found = run(
            FileKind::SetupConfigIni,
            "SetupConfig.ini",
            &format!("[SetupConfig]\nPKey={MAK}\nNoReboot\n"),
        );
        assert_eq!(
            found.iter().map(|f| (f.rule.code, f.line())).collect::<Vec<_>>(),
            vec![("MG231", Some(2))]
        );
    }

    #[test]
    fn ei_cfg_note_names_the_channel() {
        let found = run(
            FileKind::EiCfg,
            "sources/ei.cfg",
            "[EditionID]\r\nEnterprise\r\n[Channel]\r\nRetail\r\n[VL]\r\n1\r\n",
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].rule.code, "MG232");
        assert_eq!(found[0].line(), Some(3));
        assert!(
            found[0].message.contains("EditionID Enterprise, Channel Retail, VL 1"),
            "{}",
            found[0].message
        );
        let found = run(FileKind::EiCfg, "ei.cfg", "[EditionID]\n[Channel]\nRetail ");
        assert!(
            found[0]
                .message
                .contains("EditionID not set, Channel Retail, VL not set"),
            "{}",
            found[0].message
        );
    }
}
