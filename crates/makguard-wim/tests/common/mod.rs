//! Helpers shared by the WIM reader's tests: build trees, capture them with wimlib (the
//! oracle), and compare what the reader sees with the source and with `wimlib-imagex dir`.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};

use makguard_testkit::{require_tool_for, wimlib};
use makguard_wim::{ImageTree, Wim, WimError};

/// Whether wimlib-imagex is installed (else the test skips or, in CI, fails).
pub(crate) fn have_wimlib() -> bool {
    require_tool_for("wimlib-imagex", "the WIM reader's oracle")
}

/// Deterministic pseudo-random bytes (xorshift), incompressible for the codecs.
pub(crate) fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// `wimlib-imagex capture source wim name args…`.
pub(crate) fn capture(source: &Path, wim: &Path, name: &str, args: &[&str]) {
    let mut all: Vec<&OsStr> = vec!["capture".as_ref(), source.as_os_str(), wim.as_os_str(), name.as_ref()];
    all.extend(args.iter().map(OsStr::new));
    wimlib(&all);
}

/// `wimlib-imagex append source wim name args…`.
pub(crate) fn append(source: &Path, wim: &Path, name: &str, args: &[&str]) {
    let mut all: Vec<&OsStr> = vec!["append".as_ref(), source.as_os_str(), wim.as_os_str(), name.as_ref()];
    all.extend(args.iter().map(OsStr::new));
    wimlib(&all);
}

/// The paths `wimlib-imagex dir wim index` lists, sorted.
pub(crate) fn wimlib_dir(wim: &Path, index: u32) -> Vec<String> {
    let index = index.to_string();
    let listing = wimlib(&["dir".as_ref(), wim.as_os_str(), index.as_ref()]);
    let mut paths: Vec<String> = listing.lines().map(str::to_owned).filter(|l| !l.is_empty()).collect();
    paths.sort();
    paths
}

/// The paths our reader lists (the root as `/`), sorted.
pub(crate) fn our_paths(tree: &ImageTree) -> Vec<String> {
    let mut paths: Vec<String> = std::iter::once("/".to_owned())
        .chain(tree.walk().map(|(_, path)| path))
        .collect();
    paths.sort();
    paths
}

pub(crate) fn open(path: &Path) -> Result<Wim, WimError> {
    Wim::open(std::fs::File::open(path).expect("open WIM"))
}

/// Reads a blob with the streaming reader in odd-sized pieces.
pub(crate) fn stream_blob(wim: &Wim, hash: makguard_wim::Sha1Hash) -> std::io::Result<Vec<u8>> {
    let mut reader = wim.open_blob(hash).map_err(WimError::into_io)?;
    let mut out = Vec::new();
    let mut piece = [0u8; 7777];
    loop {
        match reader.read(&mut piece)? {
            0 => return Ok(out),
            n => out.extend_from_slice(&piece[..n]),
        }
    }
}

/// Checks image `index` of `wim` against the directory it was captured from: the same paths
/// as `wimlib-imagex dir`, and every regular file's bytes (streamed and random-access) equal
/// to the source's. Returns the tree.
pub(crate) fn assert_image_matches(wim_path: &Path, wim: &Wim, index: u32, source: &Path) -> ImageTree {
    let tree = wim.image_tree(index).expect("image tree");
    assert!(tree.problems.is_empty(), "problems: {:?}", tree.problems);
    assert_eq!(
        our_paths(&tree),
        wimlib_dir(wim_path, index),
        "path list of image {index}"
    );
    let mut checked = 0;
    for (entry_index, path) in tree.walk() {
        let entry = &tree.entries[entry_index];
        let on_disk: PathBuf = source.join(path.trim_start_matches('/'));
        let meta = std::fs::symlink_metadata(&on_disk).expect("source file exists");
        assert_eq!(entry.is_dir(), meta.is_dir(), "{path}: directory or not");
        assert_eq!(
            entry.is_reparse(),
            meta.file_type().is_symlink(),
            "{path}: reparse point or not"
        );
        if !meta.is_file() {
            continue;
        }
        let expected = std::fs::read(&on_disk).expect("read source");
        assert_eq!(entry.data.size, expected.len() as u64, "{path}: size");
        let streamed = wim.read_blob(entry.data.hash).expect("read blob");
        assert!(streamed == expected, "{path}: streamed bytes differ from the source");
        assert!(
            stream_blob(wim, entry.data.hash).expect("stream") == expected,
            "{path}: pieces"
        );
        let random = wim.blob_random_access(entry.data.hash).expect("random access");
        random.verify().expect("verify");
        let mut back = vec![0u8; expected.len()];
        // Read back to front in uneven steps so chunks are fetched out of order.
        let mut end = expected.len();
        while end > 0 {
            let start = end.saturating_sub(40_000);
            let n = random
                .read_blob_at(start as u64, &mut back[start..end])
                .expect("read_at");
            assert_eq!(n, end - start);
            end = start;
        }
        assert!(back == expected, "{path}: random-access bytes differ from the source");
        checked += 1;
    }
    assert!(checked > 0, "no file was compared");
    tree
}
