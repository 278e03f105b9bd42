//! Finding key-shaped tokens in decoded text, and recognising what stands before them: a
//! command that installs a key, or a key word that says the token is meant as a key.
//!
//! Every file-kind scanner builds on these primitives, so they decide alone what counts as
//! a token boundary and which commands install keys.

use std::sync::OnceLock;

use makguard_core::{ProductKey, TextRange};
use regex::Regex;

/// The characters a key is written in (the key alphabet and the `N` of post-2009 keys), as
/// core defines them: every search for key-shaped text in this crate uses this one test.
pub(crate) use makguard_core::key::is_key_char as is_key_symbol;

/// A regex character class of the key symbols, upper case only or in either case.
pub(crate) fn key_symbol_class(any_case: bool) -> String {
    let upper = (0..=u8::MAX).filter(|&b| is_key_symbol(b)).map(char::from);
    let symbols: String = if any_case {
        upper.flat_map(|c| [c, c.to_ascii_lowercase()]).collect()
    } else {
        upper.collect()
    };
    format!("[{symbols}]")
}

/// A key-shaped token in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyToken {
    /// Where the token is in the text searched.
    pub range: TextRange,
    /// The key the token spells.
    pub key: ProductKey,
    /// True for the 25-character form without dashes.
    pub bare: bool,
}

fn dashed_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(&format!(
            "{s}{{5}}-{s}{{5}}-{s}{{5}}-{s}{{5}}-{s}{{5}}",
            s = key_symbol_class(true)
        ))
        .expect("static regex")
    })
}

fn bare_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(&format!("{s}{{25}}", s = key_symbol_class(true))).expect("static regex"))
}

use makguard_core::key::stands_alone;

/// Every dashed, well-formed key in `text` (five groups of five, at most one `N`).
pub fn find_dashed_keys(text: &str) -> Vec<KeyToken> {
    if !may_hold_dashed_key(text) {
        return Vec::new();
    }
    find_keys(dashed_regex(), text, false)
}

/// False only when `text` has no four dashes six bytes apart after five bytes of anything,
/// the frame every dashed key sits in (its symbols are one byte each). The dash search is a
/// `memchr`, far cheaper than the key regex, which has no literal to skip ahead to.
fn may_hold_dashed_key(text: &str) -> bool {
    let bytes = text.as_bytes();
    text.match_indices('-')
        .any(|(at, _)| at >= 5 && [6, 12, 18].iter().all(|step| bytes.get(at + step) == Some(&b'-')))
}

/// Every 25-symbol run without dashes that parses as a key. Only meaningful where a key is
/// expected (MSI `PIDKEY Value`) or beside a key word: random text has many such runs.
pub fn find_bare_keys(text: &str) -> Vec<KeyToken> {
    find_keys(bare_regex(), text, true)
}

/// Every match of `shape` in `text` that stands alone and parses as a key.
fn find_keys(shape: &Regex, text: &str, bare: bool) -> Vec<KeyToken> {
    shape
        .find_iter(text)
        .filter(|m| stands_alone(text, m.start(), m.end()))
        .filter_map(|m| {
            ProductKey::parse(m.as_str()).ok().map(|key| KeyToken {
                range: TextRange::new(m.start(), m.end()),
                key,
                bare,
            })
        })
        .collect()
}

/// A tool or API that installs a product key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstallCommand {
    /// `slmgr /ipk`, `slmgr.vbs -ipk`, `cscript //b …\slmgr.vbs /ipk`
    Slmgr,
    /// `ospp.vbs /inpkey:`
    Ospp,
    /// `DISM /Set-ProductKey:` and `DISM /Set-Edition … /ProductKey:`
    Dism,
    /// `changepk.exe /ProductKey`
    Changepk,
    /// `setup.exe /pkey` (and `PKey=` in SetupConfig.ini)
    SetupPkey,
    /// WMI/CIM `SoftwareLicensingService.InstallProductKey`
    WmiInstallProductKey,
}

impl InstallCommand {
    /// How the command is named in messages, e.g. `slmgr /ipk`.
    pub fn describe(self) -> &'static str {
        match self {
            InstallCommand::Slmgr => "slmgr /ipk",
            InstallCommand::Ospp => "ospp.vbs /inpkey",
            InstallCommand::Dism => "DISM /Set-ProductKey",
            InstallCommand::Changepk => "changepk.exe /ProductKey",
            InstallCommand::SetupPkey => "setup.exe /pkey",
            InstallCommand::WmiInstallProductKey => "WMI InstallProductKey",
        }
    }
}

fn install_command_regexes() -> &'static [(InstallCommand, Regex)] {
    static RES: OnceLock<Vec<(InstallCommand, Regex)>> = OnceLock::new();
    RES.get_or_init(|| {
        // Each pattern must match the text that ends right where the key starts.
        [
            (InstallCommand::Slmgr, r#"(?i)[/-]ipk\s*[:=]?\s*["']?$"#),
            (InstallCommand::Ospp, r#"(?i)[/-]inpkey\s*:\s*["']?$"#),
            (InstallCommand::Dism, r#"(?i)[/-](?:set-)?productkey\s*:\s*["']?$"#),
            (
                InstallCommand::Changepk,
                r#"(?i)changepk(?:\.exe)?["']?\s+.*[/-]productkey\s+["']?$"#,
            ),
            (
                InstallCommand::SetupPkey,
                r#"(?i)(?:[/-]pkey\s*[:\s]\s*|^\s*pkey\s*=\s*)["']?$"#,
            ),
            (
                InstallCommand::WmiInstallProductKey,
                r#"(?i)installproductkey.*?(?:\(\s*|-arguments\s*@\{\s*productkey\s*=\s*|productkey\s*=\s*|\s)["']?$"#,
            ),
        ]
        .into_iter()
        .map(|(cmd, re)| (cmd, Regex::new(re).expect("static regex")))
        .collect()
    })
}

/// The text of the line before `offset`, from the line start (at most 400 bytes back).
pub(crate) fn line_prefix(text: &str, offset: usize) -> &str {
    let line_start = text[..offset].rfind(['\n', '\r']).map_or(0, |i| i + 1);
    let mut start = line_start.max(offset.saturating_sub(400));
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..offset]
}

/// The command that installs the key starting at `offset`, if the text right before it is one.
pub fn install_command_before(text: &str, offset: usize) -> Option<InstallCommand> {
    let prefix = line_prefix(text, offset);
    install_command_regexes()
        .iter()
        .find(|(_, re)| re.is_match(prefix))
        .map(|(cmd, _)| *cmd)
}

/// The key words [`key_word_before`] looks for.
const KEY_WORDS: &str = r"(?i)(?:product[\s_-]*key|pid[\s_-]*key|\bpkey|[/-]ipk\b|[/-]inpkey|set-productkey|installproductkey|\bkey\s*[=:]|\bserial|licen[cs]e[\s_-]*key|\bcd[\s_-]*key|activation[\s_-]*key|\bmak\b|\bgvlk\b)";

fn key_word_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(KEY_WORDS).expect("static regex"))
}

/// False only when no [`key_word_before`] can hold anywhere in `text`, so a search for keys
/// that need a key word can be skipped. It is the key-word pattern without its `\b`
/// anchors: a window [`key_word_before`] matches in is a substring of `text`, where a word
/// boundary at the window's edge may not be one, and the unanchored pattern matches every
/// such substring. Its literals also let the regex skip ahead, which the bare-key shape
/// (25 symbols, no literal) cannot.
pub(crate) fn may_hold_key_word(text: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(&KEY_WORDS.replace(r"\b", "")).expect("static regex"))
        .is_match(text)
}

/// True when a key word (`ProductKey`, `PIDKEY`, `/ipk`, `key=`, …) stands on the same line
/// shortly before `offset` (within 80 bytes).
pub(crate) fn key_word_before(text: &str, offset: usize) -> bool {
    let prefix = line_prefix(text, offset);
    let mut start = prefix.len().saturating_sub(80);
    while !prefix.is_char_boundary(start) {
        start += 1;
    }
    key_word_regex().is_match(&prefix[start..])
}

/// Like [`install_command_before`], and also the DISM PowerShell cmdlets
/// `Set-WindowsProductKey -ProductKey <key>` and `Set-WindowsEdition … -ProductKey <key>`
/// (reported as [`InstallCommand::Dism`], whose command-line form they wrap).
pub(crate) fn install_command_before_any_spelling(text: &str, offset: usize) -> Option<InstallCommand> {
    static RE: OnceLock<Regex> = OnceLock::new();
    install_command_before(text, offset).or_else(|| {
        let re = RE.get_or_init(|| {
            Regex::new(r#"(?i)\bset-windows(?:productkey|edition)\b.*\s-productkey(?:\s*:\s*|\s+)["']?$"#)
                .expect("static regex")
        });
        re.is_match(line_prefix(text, offset)).then_some(InstallCommand::Dism)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_symbols_are_the_alphabet_and_n() {
        assert_eq!(key_symbol_class(false), "[2346789BCDFGHJKMNPQRTVWXY]");
        assert_eq!(
            key_symbol_class(true),
            "[22334466778899BbCcDdFfGgHhJjKkMmNnPpQqRrTtVvWwXxYy]"
        );
    }

    const MAK: &str = "6QWQ4-8NRCW-KHGHV-CR226-3PPQC";

    proptest::proptest! {
        /// The dash-frame prefilter never hides a match of the key regex.
        #[test]
        fn the_dash_frame_prefilter_never_hides_a_dashed_key(
            pieces in proptest::collection::vec(proptest::sample::select(vec!["-", "BCDFG", "x", "6QWQ4", "é", " ", "\n", "22"]), 0..40),
        ) {
            let text: String = pieces.concat();
            proptest::prop_assert!(may_hold_dashed_key(&text) || dashed_regex().find(&text).is_none(), "{}", text);
        }

        /// Where a key word stands before an offset, the whole text passes the key-word gate.
        #[test]
        fn the_key_word_gate_never_hides_a_key_word(
            pieces in proptest::collection::vec(proptest::sample::select(vec!["key", "=", "Product", "pid", "mon", "-", "/", "ipk", " ", "\n", "serial", "x", "MAK", "gvlk", "cd"]), 0..30),
        ) {
            let text: String = pieces.concat();
            for offset in 0..=text.len() {
                if text.is_char_boundary(offset) && key_word_before(&text, offset) {
                    proptest::prop_assert!(may_hold_key_word(&text), "{}", text);
                }
            }
        }
    }

    #[test]
    fn the_dash_frame_prefilter_passes_every_dashed_shape() {
        let lower = MAK.to_lowercase();
        for text in [MAK.to_string(), format!("ab-cd {lower} -"), format!("x{MAK}{MAK}")] {
            assert!(may_hold_dashed_key(&text), "{text}");
            assert!(dashed_regex().find(&text).is_some(), "{text}");
        }
        for text in [
            "",
            "no dashes here",
            "amd64_microsoft-windows-shell-setup_31bf3856ad364e35",
            "-----",
        ] {
            assert!(!may_hold_dashed_key(text), "{text}");
            assert!(dashed_regex().find(text).is_none(), "the regex agrees: {text}");
        }
    }

    #[test]
    fn finds_dashed_keys_with_exact_ranges() {
        let text = format!("x {MAK} y {}", MAK.to_lowercase());
        let found = find_dashed_keys(&text);
        assert_eq!(found.len(), 2);
        assert_eq!(&text[found[0].range.start..found[0].range.end], MAK);
        assert_eq!(found[1].key, found[0].key);
    }

    #[test]
    fn longer_runs_are_not_keys() {
        assert!(find_dashed_keys(&format!("{MAK}-BCDFG")).is_empty());
        assert!(find_dashed_keys(&format!("BCDFG-{MAK}")).is_empty());
        assert!(find_dashed_keys(&format!("A{MAK}")).is_empty());
        assert_eq!(find_dashed_keys(&format!("\"{MAK}\"")).len(), 1);
    }

    #[test]
    fn finds_bare_keys() {
        let bare = MAK.replace('-', "");
        let text = format!("<PIDKEY Value=\"{bare}\" />");
        let found = find_bare_keys(&text);
        assert_eq!(found.len(), 1);
        assert!(found[0].bare);
        assert_eq!(found[0].key.reveal_unmasked(), MAK);
    }

    #[test]
    fn recognises_install_commands() {
        let cases = [
            ("cscript //b %windir%\\system32\\slmgr.vbs /ipk ", InstallCommand::Slmgr),
            ("slmgr.vbs -ipk ", InstallCommand::Slmgr),
            ("cscript ospp.vbs /inpkey:", InstallCommand::Ospp),
            ("DISM /Image:C:\\mount /Set-ProductKey:", InstallCommand::Dism),
            (
                "DISM /Online /Set-Edition:ServerStandard /ProductKey:",
                InstallCommand::Dism,
            ),
            ("changepk.exe /ProductKey ", InstallCommand::Changepk),
            ("setup.exe /auto upgrade /pkey ", InstallCommand::SetupPkey),
            ("PKey=", InstallCommand::SetupPkey),
            (
                "(Get-WmiObject SoftwareLicensingService).InstallProductKey(\"",
                InstallCommand::WmiInstallProductKey,
            ),
            (
                "Invoke-CimMethod -InputObject $s -MethodName InstallProductKey -Arguments @{ProductKey='",
                InstallCommand::WmiInstallProductKey,
            ),
        ];
        for (prefix, expected) in cases {
            let text = format!("{prefix}{MAK}");
            assert_eq!(install_command_before(&text, prefix.len()), Some(expected), "{prefix}");
        }
        assert_eq!(install_command_before(&format!("echo {MAK}"), 5), None);
    }

    #[test]
    fn recognises_key_words() {
        for prefix in ["ProductKey=", "PIDKEY Value=\"", "key: ", "product_key = '", "/ipk "] {
            let text = format!("{prefix}{MAK}");
            assert!(key_word_before(&text, prefix.len()), "{prefix}");
        }
        assert!(!key_word_before(&format!("build id {MAK}"), 9));
    }
}
