//! `makguard scan`: scan, apply the policy, write every requested report, exit by the contract.

use crate::cli::ScanArgs;
use crate::commands::{prepare_scan, scan_and_judge};
use crate::output::write_reports_with_exit_code;

pub fn run(args: &ScanArgs) -> anyhow::Result<u8> {
    let opts = &args.scan;
    let prepared = prepare_scan(opts)?;
    let report = scan_and_judge(&opts.paths, &prepared);
    let fail_on = opts.fail_on.severity();
    // Computed before rendering: SARIF records the exit code.
    let exit_code = report.exit_status(fail_on) as u8;
    write_reports_with_exit_code(&report, &opts.formats, opts.color, opts.show_keys, fail_on, exit_code)?;
    Ok(exit_code)
}
