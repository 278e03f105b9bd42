//! A progress line on standard error while a scan runs: only on a terminal, never in CI logs
//! or when `--no-progress` is given. The scan library reports no progress of its own, so this
//! shows that makguard is working and for how long.

use std::io::Write;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// Runs `work`, showing `label` and the elapsed time on standard error when `enabled`.
pub fn with_progress<T>(enabled: bool, label: &str, work: impl FnOnce() -> T) -> T {
    if !enabled {
        return work();
    }
    let (done, finished) = mpsc::channel::<()>();
    let label = label.to_string();
    let ticker = thread::spawn(move || {
        let start = Instant::now();
        let mut stderr = std::io::stderr();
        while let Err(RecvTimeoutError::Timeout) = finished.recv_timeout(Duration::from_millis(250)) {
            let _ = write!(stderr, "\rmakguard: {label} {}s", start.elapsed().as_secs());
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
