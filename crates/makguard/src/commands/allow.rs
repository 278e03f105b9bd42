//! `makguard allow`: appends a justified exception (`[[allow]]`) to the policy file a scan of
//! the same path reads (same discovery, `--config` and `MAKGUARD_CONFIG` honoured), keeping
//! its formatting and comments (makguard-policy's `edit` does the editing).

use anyhow::{Context, bail};
use makguard_core::rules;

use crate::cli::AllowArgs;
use crate::output::{diag, print_safe};
use makguard_core::key::mask_keys_in;
use makguard_policy::{CivilDate, Discovery, NewException, add_exception, is_fingerprint};

pub(crate) fn run(args: &AllowArgs) -> anyhow::Result<u8> {
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
    let exception = NewException {
        fingerprint: &args.fingerprint,
        path: args.path.as_deref(),
        rule,
        justification: &justification,
        expires,
    };
    let line = add_exception(&target, &exception)?;
    print_safe(&format!(
        "added an exception for {} at {}:{line}\n",
        args.fingerprint, target.display
    ));
    Ok(0)
}
