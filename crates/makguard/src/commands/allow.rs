//! `makguard allow`: appends a justified exception (`[[allow]]`) to the policy file a scan of
//! the same path reads (same discovery, `--config` and `MAKGUARD_CONFIG` honoured), keeping
//! its formatting and comments, and checks the result parses as a valid policy.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use makguard_core::rules;
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};

use crate::cli::AllowArgs;
use crate::output::{diag, print_safe};
use makguard_core::key::mask_keys_in;
use makguard_policy::{CivilDate, Discovery, Policy, is_fingerprint};

pub fn run(args: &AllowArgs) -> anyhow::Result<u8> {
    if !is_fingerprint(&args.fingerprint) {
        bail!("FINGERPRINT must be 'sha256:' followed by 64 lower-case hex digits, as reports print it");
    }
    let justification = args.justification.trim();
    if justification.is_empty() {
        bail!("--justification must not be empty: say why this key may stay");
    }
    // The policy file is committed and quoted in every report: a key pasted into the
    // justification is written masked, like everything else makguard writes.
    let justification = mask_keys_in(justification);
    if justification != args.justification.trim() {
        diag("the justification quoted a product key; it is written masked (the fingerprint identifies the key)");
    }
    if let Some(glob) = &args.path
        && mask_keys_in(glob) != *glob
    {
        bail!(
            "--path holds a product key, which makguard.toml must not: write a wildcard in its place (e.g. `*/unattend.xml`)"
        );
    }
    let expires = match &args.expires {
        Some(text) => Some(
            CivilDate::parse(text.trim()).with_context(|| format!("--expires '{text}' is not a date (YYYY-MM-DD)"))?,
        ),
        None => None,
    };
    let rule = match &args.rule {
        Some(name) => Some(rules::find(name.trim()).with_context(|| format!("unknown rule '{name}'"))?),
        None => None,
    };

    let target = Discovery::new(args.config.as_deref())?.allow_target(&args.scan_path);
    let config = &target.file;
    let display = target.display.clone();
    let existing = match std::fs::read_to_string(config) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(err) => return Err(err).with_context(|| format!("cannot read {display}")),
    };
    let base_dir = config.parent().unwrap_or(Path::new(""));
    // A broken policy is reported as such rather than appended to.
    Policy::parse(&existing, &display, base_dir)?;
    let mut document: DocumentMut = existing.parse().with_context(|| format!("cannot parse {display}"))?;

    let mut entry = Table::new();
    entry["fingerprint"] = value(args.fingerprint.as_str());
    if let Some(glob) = &args.path {
        entry["path"] = value(glob.as_str());
    }
    if let Some(rule) = rule {
        entry["rule"] = value(rule.code);
    }
    entry["justification"] = value(justification.as_str());
    if let Some(date) = expires {
        let datetime: toml_edit::Datetime = date.to_string().parse().context("cannot write the expiry date")?;
        entry["expires"] = value(datetime);
    }
    let allow = document
        .entry("allow")
        .or_insert(Item::ArrayOfTables(ArrayOfTables::new()))
        .as_array_of_tables_mut()
        .with_context(|| format!("{display}: `allow` must be a list of [[allow]] tables"))?;
    allow.push(entry);

    let updated = document.to_string();
    let policy = Policy::parse(&updated, &display, base_dir)
        .context("the new entry would make the policy invalid; nothing was written")?;
    write_atomically(config, updated.as_bytes()).with_context(|| format!("cannot write {display}"))?;
    let line = policy.allow.last().map_or(0, |entry| entry.line);
    print_safe(&format!(
        "added an exception for {} at {display}:{line}\n",
        args.fingerprint
    ));
    Ok(0)
}

/// Writes through a temporary file beside the target and renames it over, so an interrupted
/// write never leaves a half-written policy.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{file_name}.makguard-tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}
