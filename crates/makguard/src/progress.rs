//! A progress line on standard error while a scan runs: only on a terminal, never in CI logs
//! or when `--no-progress` is given. It shows the scan library's live counters (files walked
//! and searched) and the elapsed time.

use std::io::Write;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use makguard_scan::ScanProgress;

/// Runs `work`, showing `label`, the counters and the elapsed time on standard error when
/// `progress` is given.
pub fn with_progress<T>(progress: Option<Arc<ScanProgress>>, label: &str, work: impl FnOnce() -> T) -> T {
    let Some(progress) = progress else {
        return work();
    };
    let (done, finished) = mpsc::channel::<()>();
    let label = label.to_string();
    let ticker = thread::spawn(move || {
        let start = Instant::now();
        let mut stderr = std::io::stderr();
        while let Err(RecvTimeoutError::Timeout) = finished.recv_timeout(Duration::from_millis(200)) {
            let (walked, searched) = progress.counts();
            let _ = write!(
                stderr,
                "\r\x1b[2Kmakguard: {label}: {walked} files walked, {searched} searched, {}s",
                start.elapsed().as_secs()
            );
            let _ = stderr.flush();
        }
        // Clear the line so reports start on a clean line.
        let _ = write!(stderr, "\r\x1b[2K");
        let _ = stderr.flush();
    });
    let result = work();
    let _ = done.send(());
    let _ = ticker.join();
    result
}
