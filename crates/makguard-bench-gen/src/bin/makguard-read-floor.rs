//! makguard-read-floor: the benchmark's floor. Walks a tree with makguard's own walker and
//! candidate decision and reads exactly the bytes `makguard scan` reads, without searching
//! them, so that `makguard scan` minus this is the cost of the search itself.
//!
//! `makguard-read-floor TREE [--deep]` prints `FILES files read, BYTES bytes read`.

use std::path::PathBuf;
use std::process::ExitCode;

use makguard_scan::{ScanOptions, scan_paths};

fn main() -> ExitCode {
    let mut tree = None;
    let mut deep = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--deep" => deep = true,
            _ if tree.is_none() => tree = Some(PathBuf::from(arg)),
            _ => {
                eprintln!("usage: makguard-read-floor TREE [--deep]");
                return ExitCode::from(2);
            }
        }
    }
    let Some(tree) = tree else {
        eprintln!("usage: makguard-read-floor TREE [--deep]");
        return ExitCode::from(2);
    };
    let options = ScanOptions {
        deep,
        read_only: true,
        ..ScanOptions::default()
    };
    let report = scan_paths(&[tree], &options);
    println!(
        "{} files read, {} bytes read",
        report.summary.files_scanned, report.summary.bytes_read
    );
    ExitCode::SUCCESS
}
