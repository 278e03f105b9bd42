//! `makguard scan`: scan (a tree, an image, or standard input for `-`), apply the policy,
//! write every requested report, exit by the contract.

use std::io::Read;

use anyhow::bail;
use makguard_core::{FindingPath, ScanReport};
use makguard_policy::Workspace;

use crate::cli::{ScanArgs, ScanOpts};
use crate::commands::{prepare_scan, scan_and_judge};
use crate::output::report_and_exit;

/// What findings call standard input without `--stdin-filename`.
pub(crate) const STDIN_NAME: &str = "-";

pub(crate) fn run(args: &ScanArgs) -> anyhow::Result<u8> {
    let opts = &args.scan;
    if opts.reads_stdin() {
        return run_on_stdin(opts);
    }
    if opts.stdin_filename.is_some() {
        bail!("--stdin-filename names standard input: give `-` as the PATH to scan it");
    }
    let prepared = prepare_scan(opts)?;
    let mut report = scan_and_judge(&opts.paths, &prepared).report;
    report_and_exit(&mut report, opts)
}

/// `scan -`: standard input read whole and searched as one file named by `--stdin-filename`.
fn run_on_stdin(opts: &ScanOpts) -> anyhow::Result<u8> {
    if opts.paths.len() != 1 {
        bail!("`-` (standard input) must be the only PATH to scan");
    }
    let prepared = prepare_scan(opts)?;
    let policy = prepared.workspace.policy_for_path(0);
    let mut options = Workspace::options_for(policy, &prepared.request);
    options.progress = None;
    let name = opts.stdin_filename.as_deref().unwrap_or(STDIN_NAME);
    let mut bytes = Vec::new();
    // A closed standard input reads as empty: either way nothing was scanned, which must not pass.
    let mut report = match std::io::stdin().lock().read_to_end(&mut bytes) {
        Ok(0) => unreadable_stdin(
            name,
            &std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "standard input is empty or closed, so nothing was scanned",
            ),
        ),
        Ok(_) => makguard_scan::scan_memory_file(name, bytes, &options),
        Err(error) => unreadable_stdin(name, &error),
    };
    report.sort();
    let mut report = prepared.workspace.judge_report(report, prepared.today).report;
    report_and_exit(&mut report, opts)
}

/// Fail closed: standard input that could not be read is an incomplete scan (MG901), never a pass.
fn unreadable_stdin(name: &str, error: &std::io::Error) -> ScanReport {
    let file_name = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let finding = makguard_scan::unreadable_finding(&FindingPath::new(file_name), error);
    let mut report = ScanReport::default();
    report.roots.push(makguard_core::RootReport {
        path: name.to_string(),
        is_file: true,
        ..Default::default()
    });
    report.summary.files_walked = 1;
    report.summary.skipped.insert("unreadable".to_string(), 1);
    report.findings.push(finding);
    report
}
