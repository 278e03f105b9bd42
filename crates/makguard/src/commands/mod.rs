//! One module per subcommand. `scan` and `fix` share the preparation of a scan (policy files,
//! options, path checks) through [`prepare_scan`], and the scan itself, with the same
//! judgements (makguard-policy's), through [`scan_and_judge`]: whatever `fix` would change,
//! `scan` reports first.

pub(crate) mod allow;
pub(crate) mod docs;
pub(crate) mod fix;
pub(crate) mod fix_wim;
pub(crate) mod key;
pub(crate) mod rules;
pub(crate) mod scan;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use makguard_policy::{CivilDate, Discovery, JudgedScan, ScanRequest, Workspace};
use makguard_scan::ScanOptions;

use crate::cli::ScanOpts;
use crate::progress::with_progress;

/// Everything a scan needs, resolved from the command line and the policy files.
pub(crate) struct PreparedScan {
    pub workspace: Workspace,
    pub request: ScanRequest,
    pub today: CivilDate,
}

/// Checks the paths, finds and loads each path's policy and builds the scan request
/// (command-line options win over a policy). Every failure here is a usage or configuration
/// error (exit 2).
pub(crate) fn prepare_scan(opts: &ScanOpts) -> anyhow::Result<PreparedScan> {
    crate::output::check_outputs(&opts.formats)?;
    for path in opts.paths.iter().filter(|path| path.as_os_str() != "-") {
        std::fs::symlink_metadata(path).with_context(|| format!("cannot scan {}", path.display()))?;
    }
    let discovery = Discovery::new(opts.config.as_deref())?;
    let workspace = Workspace::load(&opts.paths, &discovery)?;
    workspace.check_key_config_files(&opts.pkeyconfig)?;
    let options = ScanOptions {
        deep: opts.deep,
        jobs: opts.jobs.map(usize::from),
        allow_incomplete: opts.allow_incomplete,
        key_config_files: opts.pkeyconfig.clone(),
        progress: (!opts.no_progress && !opts.quiet && std::io::stderr().is_terminal())
            .then(|| Arc::new(makguard_scan::ScanProgress::default())),
        wim_indexes: opts.wim_indexes.clone(),
        ..ScanOptions::default()
    };
    let request = ScanRequest {
        options,
        size_cap: opts.size_cap,
    };
    let today = CivilDate::today().map_err(anyhow::Error::msg)?;
    Ok(PreparedScan {
        workspace,
        request,
        today,
    })
}

/// The scan both `scan` and `fix` run: each path scanned and judged by its own policy.
pub(crate) fn scan_and_judge<'w>(paths: &[PathBuf], prepared: &'w PreparedScan) -> JudgedScan<'w> {
    with_progress(prepared.request.options.progress.clone(), "scanning", || {
        prepared
            .workspace
            .scan_and_judge(paths, &prepared.request, prepared.today)
    })
}
