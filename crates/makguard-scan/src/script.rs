//! Scripts (`.cmd .bat .ps1 .psm1 .vbs .wsf .js`; `SetupComplete.cmd` and `ErrorHandler.cmd`
//! above all): commands that install a key (`MG201`) and any other key literal (`MG202`).
//!
//! Scripts run on every machine built from the image, so every non-GVLK key literal in one is
//! reported, not only checksum-valid ones. A 25-character key without dashes counts only after
//! an install command or a key word, where a key is expected.

use makguard_core::rules::{SCRIPT_INSTALLS_KEY, SCRIPT_KEY_LITERAL};
use makguard_core::text::{DecodedText, LineIndex};
use makguard_core::{Finding, FindingPath};

use crate::keyscan::{self, InstallCommand, KeyToken};
use crate::textfile::is_secret_candidate;
use crate::{FileContext, key_finding};

/// Every `MG201` / `MG202` finding in a script.
pub(crate) fn scan(decoded: &DecodedText, ctx: &FileContext<'_>) -> Vec<Finding> {
    let text = decoded.text.as_str();
    let index = LineIndex::new(text);
    let script_name = script_label(ctx.path);
    command_keys(text)
        .into_iter()
        .map(|found| match found.command {
            Some(command) => key_finding(
                &SCRIPT_INSTALLS_KEY,
                ctx,
                text,
                &index,
                found.token.range,
                &found.token.key,
                &format!("The `{}` command in {script_name}", command.describe()),
            ),
            None => key_finding(
                &SCRIPT_KEY_LITERAL,
                ctx,
                text,
                &index,
                found.token.range,
                &found.token.key,
                &format!("A literal in {script_name}"),
            ),
        })
        .collect()
}

/// A non-GVLK key in command text, with the command that installs it when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommandKey {
    pub token: KeyToken,
    pub command: Option<InstallCommand>,
}

/// Every non-GVLK, non-placeholder key in `text` read as commands (a script, a `Run` value):
/// dashed keys anywhere, keys without dashes only after an install command or a key word.
pub(crate) fn command_keys(text: &str) -> Vec<CommandKey> {
    let dashed = keyscan::find_dashed_keys(text);
    let bare = keyscan::find_bare_keys(text).into_iter().filter(|t| {
        keyscan::install_command_before_any_spelling(text, t.range.start).is_some()
            || keyscan::key_word_before(text, t.range.start)
    });
    dashed
        .into_iter()
        .chain(bare)
        .filter(|t| is_secret_candidate(t, text))
        .map(|token| CommandKey {
            command: keyscan::install_command_before_any_spelling(text, token.range.start),
            token,
        })
        .collect()
}

/// `SetupComplete.cmd (runs after Setup on every machine)` or `the script`.
fn script_label(path: &FindingPath) -> &'static str {
    let name = path.display.rsplit('/').next().unwrap_or_default().to_ascii_lowercase();
    match name.as_str() {
        "setupcomplete.cmd" => "SetupComplete.cmd (Setup runs it on every machine)",
        "errorhandler.cmd" => "ErrorHandler.cmd (Setup runs it on a fatal error)",
        _ => "the script",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use makguard_core::text::{TextEncoding, decode, encode};

    const MAK: &str = "6QWQ4-8NRCW-KHGHV-CR226-3PPQC";
    const LEGACY: &str = "Y7BYD-BQG8X-7THCD-3XHD2-JGBRF";
    const GVLK: &str = "NPPR9-FWDCX-D2C8J-H872K-2YT43";

    fn scan_bytes(name: &str, bytes: &[u8]) -> Vec<Finding> {
        let path = FindingPath::new(name);
        let ctx = FileContext {
            path: &path,
            key_config: None,
        };
        scan(&decode(bytes), &ctx)
    }

    #[test]
    fn install_commands_and_literals() {
        let text = format!(
            "@echo off\r\ncscript //b %windir%\\system32\\slmgr.vbs /ipk {MAK}\r\nset K={LEGACY}\r\nslmgr -ipk {GVLK}\r\n"
        );
        let found = scan_bytes("Windows/Setup/Scripts/SetupComplete.cmd", text.as_bytes());
        let codes: Vec<_> = found.iter().map(|f| (f.rule.code, f.line())).collect();
        assert_eq!(codes, vec![("MG201", Some(2)), ("MG202", Some(3))]);
        assert!(found[0].message.contains("SetupComplete.cmd"));
        assert!(found[0].message.contains("slmgr /ipk"));
    }

    #[test]
    fn utf16_scripts_keep_character_columns() {
        let text = format!("# é\r\n$s.InstallProductKey(\"{MAK}\")\r\n");
        let bytes = encode(&text, TextEncoding::Utf16Le { bom: true }).unwrap();
        let found = scan_bytes("a.ps1", &bytes);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].rule.code, "MG201");
        assert_eq!((found[0].line(), found[0].column()), (Some(2), Some(23)));
        let range = found[0].range().unwrap();
        assert_eq!(&text[range.start..range.end], MAK);
    }

    #[test]
    fn dism_powershell_cmdlets_install_keys() {
        for line in [
            format!("Set-WindowsProductKey -Path C:\\mount -ProductKey {MAK}"),
            format!("Set-WindowsEdition -Path C:\\mount -Edition ServerDatacenter -ProductKey '{MAK}' -AcceptEula"),
        ] {
            let found = scan_bytes("edition.ps1", line.as_bytes());
            assert_eq!(found.len(), 1, "{line}");
            assert_eq!(found[0].rule.code, "MG201");
            assert!(found[0].message.contains("DISM"));
        }
    }

    #[test]
    fn bare_keys_only_where_a_key_is_expected() {
        let bare = MAK.replace('-', "");
        assert!(scan_bytes("a.cmd", format!("echo {bare}\r\n").as_bytes()).is_empty());
        let found = scan_bytes("a.cmd", format!("slmgr /ipk {bare}\r\n").as_bytes());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].rule.code, "MG201");
    }
}
