//! A progress line on standard error while a scan runs: only on a terminal, never in CI logs
//! or when `--no-progress` is given. It shows the scan library's live counters (files walked
//! and searched) and the elapsed time.
//!
//! The line is redrawn with a carriage return and cleared with spaces, not with terminal
//! escapes, so every console shows it the same; it is written through `anstream`, which would
//! strip any escape a Windows console without VT mode cannot show.

use std::io::Write;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use makguard_scan::ScanProgress;

/// Runs `work`, showing `label`, the counters and the elapsed time on standard error when
/// `progress` is given.
pub(crate) fn with_progress<T>(progress: Option<Arc<ScanProgress>>, label: &str, work: impl FnOnce() -> T) -> T {
    let Some(progress) = progress else {
        return work();
    };
    let (done, finished) = mpsc::channel::<()>();
    let label = label.to_string();
    let ticker = thread::spawn(move || {
        let start = Instant::now();
        let mut stderr = anstream::stderr();
        let mut shown = 0;
        while let Err(RecvTimeoutError::Timeout) = finished.recv_timeout(Duration::from_millis(200)) {
            let (walked, searched) = progress.counts();
            let line = format!(
                "makguard: {label}: {walked} files walked, {searched} searched, {}s",
                start.elapsed().as_secs()
            );
            let _ = write!(stderr, "\r{line:<shown$}");
            let _ = stderr.flush();
            shown = shown.max(line.len());
        }
        // Clear the line so reports start on a clean line.
        let _ = write!(stderr, "\r{:shown$}\r", "");
        let _ = stderr.flush();
    });
    let result = work();
    let _ = done.send(());
    let _ = ticker.join();
    result
}
