//! `makguard scan`: scan, apply the policy, write every requested report, exit by the contract.

use crate::cli::ScanArgs;
use crate::commands::prepare_scan;
use crate::output::write_reports;
use crate::progress::with_progress;
use makguard_scan::scan_paths;

pub fn run(args: &ScanArgs) -> anyhow::Result<u8> {
    let opts = &args.scan;
    let prepared = prepare_scan(opts)?;
    let mut report = with_progress(prepared.options.progress.clone(), "scanning", || {
        scan_paths(&opts.paths, &prepared.options)
    });
    prepared.policy.apply(&mut report, prepared.today);
    let fail_on = opts.fail_on.severity();
    write_reports(&report, &opts.formats, opts.color, opts.show_keys, fail_on)?;
    Ok(report.exit_status(fail_on) as u8)
}
