//! `makguard key`: classifies keys an administrator has in hand, from the arguments or one per
//! line on standard input. A non-GVLK key is only ever shown masked with its fingerprint
//! (unless `--show-keys`); text that is not a key is never echoed.

use std::io::{IsTerminal, Read};

use anyhow::Context;
use makguard_core::{Checksum, KeyClass, KeyConfigIndex, SlotValue, classify_key, classify_slot};
use serde_json::{Value, json};

use crate::cli::{KeyArgs, KeyFormat};
use crate::output::{diag, print_safe};

/// The keys that end standard input on this platform's terminal.
const END_OF_INPUT: &str = if cfg!(windows) { "Ctrl-Z, then Enter" } else { "Ctrl-D" };

/// The verdict on one input line or argument.
struct KeyReport {
    /// 1-based position among the inputs (blank stdin lines are not counted).
    input: usize,
    class: KeyClass,
    masked: Option<String>,
    fingerprint: Option<String>,
    checksum: Checksum,
    product: Option<String>,
    edition: Option<String>,
    /// The full key: for a GVLK (public) or under `--show-keys`.
    full_key: Option<String>,
}

impl KeyReport {
    fn to_json(&self) -> Value {
        let mut value = json!({
            "input": self.input,
            "masked": self.masked,
            "fingerprint": self.fingerprint,
            "class": self.class.as_str(),
            "checksum": self.checksum.as_str(),
            "product": self.product,
            "edition": self.edition,
        });
        if let Some(key) = &self.full_key {
            value["key"] = json!(key);
        }
        value
    }

    fn to_text(&self) -> String {
        let shown = self
            .full_key
            .as_deref()
            .or(self.masked.as_deref())
            .unwrap_or("(not a product key)");
        let mut line = format!("{}: {shown}  {}", self.input, self.class);
        if self.masked.is_some() {
            line.push_str(&format!("  checksum {}", self.checksum.as_str()));
        }
        if let Some(what) = self.edition.as_deref().or(self.product.as_deref()) {
            line.push_str(&format!("  {what}"));
        }
        if let Some(fingerprint) = &self.fingerprint {
            line.push_str(&format!("  {fingerprint}"));
        }
        line
    }
}

fn classify_input(input: usize, text: &str, key_config: Option<&KeyConfigIndex>, show_keys: bool) -> KeyReport {
    match classify_slot(text) {
        SlotValue::Key(key) => {
            let classification = classify_key(&key, key_config);
            let public = classification.class == KeyClass::Gvlk;
            KeyReport {
                input,
                class: classification.class,
                masked: Some(key.masked()),
                fingerprint: Some(key.fingerprint()),
                checksum: classification.checksum,
                product: classification.product,
                edition: classification.edition,
                full_key: (public || show_keys).then(|| key.reveal_unmasked().to_string()),
            }
        }
        other => KeyReport {
            input,
            class: other.class().unwrap_or(KeyClass::Malformed),
            masked: None,
            fingerprint: None,
            checksum: Checksum::NotApplicable,
            product: None,
            edition: None,
            full_key: None,
        },
    }
}

fn load_key_config(args: &KeyArgs) -> anyhow::Result<Option<KeyConfigIndex>> {
    if args.pkeyconfig.is_empty() {
        return Ok(None);
    }
    let mut index = KeyConfigIndex::default();
    for file in &args.pkeyconfig {
        let display = file.display().to_string();
        let loaded = makguard_scan::load_key_config_file(file, &display)
            .with_context(|| format!("cannot use the key-configuration file {display}"))?;
        index.extend(loaded);
    }
    Ok(Some(index))
}

pub(crate) fn run(args: &KeyArgs) -> anyhow::Result<u8> {
    let key_config = load_key_config(args)?;
    let inputs: Vec<String> = if args.keys.is_empty() {
        let mut stdin = std::io::stdin();
        if stdin.is_terminal() {
            diag(&format!(
                "reading keys from standard input, one per line (end with {END_OF_INPUT})"
            ));
        }
        let mut bytes = Vec::new();
        stdin.read_to_end(&mut bytes).context("cannot read standard input")?;
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_string)
            .collect()
    } else {
        args.keys.clone()
    };
    let reports: Vec<KeyReport> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| classify_input(i + 1, text, key_config.as_ref(), args.show_keys))
        .collect();
    let mut document = match args.format {
        KeyFormat::Json => {
            let list: Vec<Value> = reports.iter().map(KeyReport::to_json).collect();
            serde_json::to_string_pretty(&list)?
        }
        KeyFormat::Text => reports.iter().map(KeyReport::to_text).collect::<Vec<_>>().join("\n"),
    };
    document.push('\n');
    // The one masking step, unless the user asked to see the keys.
    if args.show_keys {
        print!("{document}");
    } else {
        print_safe(&document);
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_gvlk_is_masked_and_malformed_input_is_not_echoed() {
        let mak = classify_input(1, "6qwq4-8nrcw-khghv-cr226-3ppqc", None, false);
        assert_eq!(mak.class, KeyClass::NonKms);
        assert_eq!(mak.checksum, Checksum::Valid);
        assert!(mak.full_key.is_none());
        let text = format!("{}{}", mak.to_text(), mak.to_json());
        assert!(!text.contains("6QWQ4") && text.contains("3PPQC"), "{text}");

        let junk = classify_input(2, "secret-ish text ABCDE", None, false);
        assert_eq!(junk.class, KeyClass::Malformed);
        assert!(!format!("{}{}", junk.to_text(), junk.to_json()).contains("secret-ish"));

        let partial = classify_input(3, "6QWQ4-8NRCW-KHGHV-CR226", None, true);
        assert_eq!(partial.class, KeyClass::Partial);
        assert!(!partial.to_json().to_string().contains("6QWQ4"));
    }

    #[test]
    fn the_prompt_names_the_end_of_input_key_of_this_platform() {
        if cfg!(windows) {
            assert_eq!(END_OF_INPUT, "Ctrl-Z, then Enter");
        } else {
            assert_eq!(END_OF_INPUT, "Ctrl-D");
        }
    }

    #[test]
    fn gvlk_is_shown_in_full() {
        let gvlk = classify_input(1, "W269NWFGWXYVC9B4J6C9T83GX", None, false);
        assert_eq!(gvlk.class, KeyClass::Gvlk);
        assert_eq!(gvlk.full_key.as_deref(), Some("W269N-WFGWX-YVC9B-4J6C9-T83GX"));
        assert!(gvlk.edition.is_some());
    }
}
