//! `makguard fix`: checks the change log and the `--output` WIM can be written, removes stale
//! temporary files, scans, plans a GVLK for every fixable finding, rewrites the files (or with
//! `--dry-run` prints the masked diff), then scans again and exits by the post-fix scan, so a
//! key no file edit can remove still fails the gate.

use anyhow::Context;
use makguard_core::ExitStatus;
use makguard_fix::{ApplyOptions, ChangeLog, ImageFiles, KeyChoice, apply_with_images, cleanup_stale_temp_files};

use crate::cli::FixArgs;
use crate::commands::fix_wim::{WimImages, write_wims};
use crate::commands::{prepare_scan, scan_and_judge};
use crate::output::{check_change_log, check_fixed_wim_output, diag, print_safe, report_and_exit, write_file};

fn print_change_summary(log: &ChangeLog) {
    for file in &log.files {
        let what = match file.status.reason() {
            Some(reason) => format!("{}: {reason}", file.status.as_str()),
            None => file.status.as_str().to_string(),
        };
        diag(&format!(
            "{} ({} key{}): {what}",
            file.path,
            file.edits.len(),
            if file.edits.len() == 1 { "" } else { "s" }
        ));
        // A skipped file says why once; a rewritten one names each fix it left out.
        if file.status.reason().is_none() {
            for left_out in file.edits.iter().filter_map(|e| e.not_applied.as_deref()) {
                diag(&format!("  one fix was not applied: {left_out}"));
            }
        }
        if let Some(backup) = &file.backup {
            diag(&format!(
                "the backup {backup} still holds the old key: delete it before capturing the image"
            ));
        }
    }
}

/// Every file the run will write is checked before anything is scanned or rewritten, under
/// --dry-run too, which writes no WIM: the dry run previews the real run, and the real run
/// would refuse this command line.
fn check_outputs(args: &FixArgs) -> anyhow::Result<()> {
    if let Some(file) = &args.report {
        check_change_log(file)?;
    }
    if let Some(file) = &args.output {
        check_fixed_wim_output(file, &args.scan.paths)?;
    }
    Ok(())
}

fn remove_stale_temp_files(paths: &[std::path::PathBuf]) {
    for path in paths {
        let removed = cleanup_stale_temp_files(path);
        if removed > 0 {
            diag(&format!(
                "removed {removed} temporary file(s) an interrupted fix left under {}",
                path.display()
            ));
        }
    }
}

/// What the post-fix scan reads: the paths given, except that with --output the fixed WIM is
/// what must scan clean, in place of the WIM it was made from.
fn paths_to_rescan(
    paths: &[std::path::PathBuf],
    report: &makguard_core::ScanReport,
    output: Option<&std::path::Path>,
) -> Vec<std::path::PathBuf> {
    let Some(output) = output else {
        return paths.to_vec();
    };
    let is_wim_root = |path: &std::path::PathBuf| {
        report
            .roots
            .iter()
            .any(|r| r.container.is_some() && std::path::Path::new(&r.path) == path)
    };
    paths
        .iter()
        .map(|path| {
            if is_wim_root(path) {
                output.to_path_buf()
            } else {
                path.clone()
            }
        })
        .collect()
}

pub(crate) fn run(args: &FixArgs) -> anyhow::Result<u8> {
    let opts = &args.scan;
    let choice =
        KeyChoice::new(args.edition.as_deref(), args.gvlk.as_deref(), args.unsafe_fixes)?.with_build(args.build);
    if opts.reads_stdin() {
        anyhow::bail!("fix rewrites files in place: it cannot fix standard input (`-`)");
    }
    check_outputs(args)?;
    let prepared = prepare_scan(opts)?;
    if !args.dry_run {
        remove_stale_temp_files(&opts.paths);
    }

    let mut judged = scan_and_judge(&opts.paths, &prepared);
    let unfixable = judged.plan_fixes(&choice);
    let mut report = judged.report;
    let options = ApplyOptions {
        dry_run: args.dry_run,
        backup_suffix: args.backup.clone(),
        unsafe_fixes: args.unsafe_fixes,
    };
    if args.output.is_some() && !report.roots.iter().any(|root| root.container.is_some()) {
        anyhow::bail!("--output is for fixing a WIM file into a new one; none of the paths is a WIM");
    }
    let wim_images = WimImages::open(&report);
    let (mut log, rewrites) = apply_with_images(&report, &options, wim_images.as_ref().map(|w| w as &dyn ImageFiles))?;
    // Files inside WIM images are written into the WIM in one atomic write per WIM.
    let wim_failures = if args.dry_run {
        Vec::new()
    } else {
        write_wims(&report, rewrites, args.output.as_deref(), &mut log)
    };
    if let Some(file) = &args.report {
        write_file(file, log.to_json().as_bytes())
            .with_context(|| format!("cannot write the change log to {}", file.display()))?;
    }
    for reason in &unfixable {
        diag(&format!("cannot fix {reason}"));
    }
    print_change_summary(&log);

    if args.dry_run {
        print_safe(&log.unified_diff());
        return report_and_exit(&mut report, opts);
    }
    for failure in &wim_failures {
        diag(failure);
    }
    let rescan = paths_to_rescan(&opts.paths, &report, args.output.as_deref());
    let mut after = scan_and_judge(&rescan, &prepared).report;
    let code = report_and_exit(&mut after, opts)?;
    if log.has_write_failures() {
        // The run failed (a read-only mount, a full disk): not a verdict on the image.
        diag("some files could not be written (see above); the image still holds those keys");
        return Ok(ExitStatus::Usage as u8);
    }
    Ok(code)
}
