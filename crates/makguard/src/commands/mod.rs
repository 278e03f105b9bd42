//! One module per subcommand. `scan` and `fix` share the preparation of a scan (policy file,
//! options, path checks) through [`prepare_scan`], and the scan itself, with the same
//! judgements, through [`scan_and_judge`]: whatever `fix` would change, `scan` reports first.

pub mod allow;
pub mod fix;
pub mod fix_wim;
pub mod key;
pub mod rules;
pub mod scan;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};

use crate::cli::ScanOpts;
use crate::config::{self, Policy};
use crate::date::CivilDate;
use crate::progress::with_progress;
use makguard_core::{ProductKey, ScanReport};
use makguard_fix::edition_mismatches;
use makguard_scan::{ScanOptions, scan_paths};

/// Everything a scan needs, resolved from the command line and the policy file.
pub struct PreparedScan {
    pub policy: Policy,
    pub options: ScanOptions,
    pub today: CivilDate,
}

/// Checks the paths, loads the policy (command-line options win over it) and builds the
/// scan options. Every failure here is a usage or configuration error (exit 2).
pub fn prepare_scan(opts: &ScanOpts) -> anyhow::Result<PreparedScan> {
    crate::output::check_outputs(&opts.formats)?;
    for path in &opts.paths {
        std::fs::symlink_metadata(path).with_context(|| format!("cannot scan {}", path.display()))?;
    }
    let policy = match config::locate(opts.config.as_deref(), &opts.paths) {
        Some(location) => {
            if !location.file.is_file() {
                bail!("the policy file {} does not exist", location.file.display());
            }
            Policy::load(&location)?
        }
        None => Policy::default(),
    };
    let mut key_config_files: Vec<PathBuf> = opts.pkeyconfig.clone();
    key_config_files.extend(policy.scan.pkeyconfig.iter().cloned());
    for file in &key_config_files {
        match std::fs::metadata(file) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => bail!(
                "the key-configuration file {} is not a regular file (a FIFO, device or folder); it was not read",
                file.display()
            ),
            Err(_) => bail!("the key-configuration file {} does not exist", file.display()),
        }
    }
    let options = ScanOptions {
        deep: opts.deep || policy.scan.deep.unwrap_or(false),
        size_cap: opts
            .size_cap
            .or(policy.scan.size_cap)
            .unwrap_or(makguard_scan::DEFAULT_SIZE_CAP),
        jobs: opts.jobs.map(usize::from),
        allow_incomplete: opts.allow_incomplete,
        key_config_files,
        include_globs: policy.scan.include.clone(),
        exclude_globs: policy.scan.exclude.clone(),
        progress: (!opts.no_progress && std::io::stderr().is_terminal())
            .then(|| Arc::new(makguard_scan::ScanProgress::default())),
        wim_indexes: opts.wim_indexes.clone(),
        wim_depth: 0,
        read_only: false,
    };
    let today = CivilDate::today().map_err(anyhow::Error::msg)?;
    Ok(PreparedScan { policy, options, today })
}

/// The `[editions]` override for the image of scan root `root`, if the policy has one.
pub fn edition_override<'a>(
    report: &ScanReport,
    root: usize,
    overrides: &'a BTreeMap<String, ProductKey>,
) -> Option<(&'a String, &'a ProductKey)> {
    let edition = report.roots.get(root)?.image.as_ref()?.edition_id.as_deref()?;
    overrides.iter().find(|(name, _)| name.eq_ignore_ascii_case(edition))
}

/// The scan both `scan` and `fix` run: scan, add the edition-mismatch findings (MG401) for
/// GVLKs in an image's own tree, then apply the policy. A GVLK that is the policy's
/// `[editions]` choice for the image is what the organisation wants, not a mismatch.
pub fn scan_and_judge(paths: &[PathBuf], prepared: &PreparedScan) -> ScanReport {
    let mut report = with_progress(prepared.options.progress.clone(), "scanning", || {
        scan_paths(paths, &prepared.options)
    });
    let overrides = &prepared.policy.editions;
    let mismatches: Vec<_> = edition_mismatches(&report)
        .into_iter()
        .filter(|finding| {
            let chosen = edition_override(&report, finding.root, overrides).map(|(_, key)| key);
            chosen.is_none() || chosen != finding.key.as_ref().map(|info| &info.key)
        })
        .collect();
    report.findings.extend(mismatches);
    report.sort();
    prepared.policy.apply(&mut report, prepared.today);
    report
}
