//! Memory stays bounded by a few chunks whatever the blob's size: a 64 MiB LZX blob streamed
//! and read at random raises the process's peak RSS by far less than the blob. Linux only
//! (reads `/proc/self/status`); alone in its test binary so no other test moves the peak.

#[cfg(target_os = "linux")]
mod common;

#[cfg(target_os = "linux")]
use std::io::Read;

#[cfg(target_os = "linux")]
use common::*;

#[cfg(target_os = "linux")]
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn a_large_blob_is_read_in_bounded_memory() {
    if !have_wimlib() {
        return;
    }
    const SIZE: usize = 64 * 1024 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("src");
    std::fs::create_dir(&source).unwrap();
    {
        use std::io::Write;
        let mut file = std::io::BufWriter::new(std::fs::File::create(source.join("big.log")).unwrap());
        let mut written = 0;
        let mut line = 0u64;
        while written < SIZE {
            let text = format!("{line:012} the same line of log text again and again\n");
            file.write_all(text.as_bytes()).unwrap();
            written += text.len();
            line += 1;
        }
    }
    let wim_path = dir.path().join("big.wim");
    capture(&source, &wim_path, "big", &["--compress=lzx"]);
    let wim = open(&wim_path).unwrap();
    let tree = wim.image_tree(1).unwrap();
    let file = &tree.entries[tree.root().children[0]];
    assert!(file.data.size >= SIZE as u64);

    let before = peak_rss_kib();
    let mut reader = wim.open_blob(file.data.hash).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        match reader.read(&mut buf).unwrap() {
            0 => break,
            n => total += n as u64,
        }
    }
    assert_eq!(total, file.data.size);
    let random = wim.blob_random_access(file.data.hash).unwrap();
    let mut at = 0;
    while at < random.len() {
        random.read_blob_at(at, &mut buf).unwrap();
        at += 3 * 1024 * 1024 + 12345;
    }
    let growth_kib = peak_rss_kib().saturating_sub(before);
    assert!(
        growth_kib < 16 * 1024,
        "peak RSS grew by {growth_kib} KiB reading a 64 MiB blob"
    );
}
