//! The WIM writer against wimlib, the oracle: a WIM captured by `wimlib-imagex` and rewritten
//! by [`write_replacements`] verifies with `wimlib-imagex verify` (and `info --check` when it
//! has an integrity table), applies to the original tree except for the replaced files, reads
//! back through our reader, grows only by what was appended, and survives `SIGKILL` at any
//! moment as either the original or the fixed WIM.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use makguard_testkit::wimlib;
use makguard_wim::{Replacement, Sha1Hash, WriteError, WriteTarget, temporary_path, write_replacements};

const ANSWER_FILE: &str = "/Windows/Panther/unattend.xml";
const LINKED: &str = "/Windows/System32/linked.ini";
const LINKED_TOO: &str = "/Windows/linked-too.ini";
const SHARED: &str = "/shared/setup.cfg";

/// An image tree with an answer file, a hard-linked pair, a file whose content the other
/// image shares, an unchanged twin of the answer file, an empty file, a symlink and noise.
fn build_tree(root: &Path, seed: u64, noise_len: usize) {
    for dir in ["Windows/Panther", "Windows/System32", "shared", "empty dir"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    std::fs::write(at(root, ANSWER_FILE), answer_file("PLACEHOLDER-OLD")).unwrap();
    std::fs::write(root.join("Windows/twin.xml"), answer_file("PLACEHOLDER-OLD")).unwrap();
    std::fs::write(at(root, LINKED), b"[key]\nvalue=old\n").unwrap();
    std::fs::hard_link(at(root, LINKED), at(root, LINKED_TOO)).unwrap();
    std::fs::write(at(root, SHARED), b"shared between images\n").unwrap();
    std::fs::write(root.join("empty"), b"").unwrap();
    std::fs::write(root.join("Windows/System32/noise.bin"), noise(noise_len, seed)).unwrap();
    std::fs::write(root.join(format!("image-{seed}.txt")), format!("image {seed}\n")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("Windows", root.join("link")).unwrap();
}

fn answer_file(value: &str) -> Vec<u8> {
    format!("<unattend><settings><ProductKey>{value}</ProductKey></settings></unattend>\r\n").into_bytes()
}

fn at(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

fn replacement(image: u32, path: &str, contents: &[u8]) -> Replacement {
    Replacement {
        image,
        path: path.to_owned(),
        contents: contents.to_vec(),
    }
}

/// Captures `images` trees (the first with `capture`, the others with `append`).
fn make_wim(dir: &Path, images: u64, args: &[&str], noise_len: usize) -> PathBuf {
    let wim = dir.join("install.wim");
    for image in 1..=images {
        let source = dir.join(format!("source-{image}"));
        build_tree(&source, image, noise_len);
        let name = format!("image {image}");
        if image == 1 {
            capture(&source, &wim, &name, args);
        } else {
            append(&source, &wim, &name, args);
        }
    }
    wim
}

/// `wimlib-imagex verify` (fails the test when wimlib finds a problem).
fn wimlib_verify(wim: &Path) {
    wimlib(&["verify".as_ref(), wim.as_os_str()]);
}

/// Every path below `root` with what it is: a directory, a link target or a file's bytes.
fn snapshot(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let relative = format!("/{}", path.strip_prefix(root).unwrap().to_string_lossy());
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let what = if meta.file_type().is_symlink() {
                format!("link {:?}", std::fs::read_link(&path).unwrap())
            } else if meta.is_dir() {
                stack.push(path);
                "dir".to_owned()
            } else {
                format!("file {}", Sha1Hash::of(&std::fs::read(&path).unwrap()))
            };
            out.insert(relative, what);
        }
    }
    out
}

fn apply(wim: &Path, image: u32, dest: &Path) -> BTreeMap<String, String> {
    let index = image.to_string();
    wimlib(&["apply".as_ref(), wim.as_os_str(), index.as_ref(), dest.as_os_str()]);
    snapshot(dest)
}

/// Applies each image of `original` and `fixed`: the trees are equal except that each path in
/// `changed` (image, path, bytes) holds its new bytes.
fn assert_applies_with_only(original: &Path, fixed: &Path, images: u32, changed: &[(u32, &str, &[u8])], work: &Path) {
    for image in 1..=images {
        let mut expected = apply(original, image, &work.join(format!("orig-{image}")));
        for &(_, path, bytes) in changed.iter().filter(|c| c.0 == image) {
            assert!(expected.contains_key(path), "{path} in image {image}");
            expected.insert(path.to_owned(), format!("file {}", Sha1Hash::of(bytes)));
        }
        let actual = apply(fixed, image, &work.join(format!("fixed-{image}")));
        assert_eq!(actual, expected, "image {image} applied");
    }
}

/// Our reader returns `bytes` for `path` in `image` of `wim`.
fn assert_reads(wim: &Path, image: u32, path: &str, bytes: &[u8]) {
    let wim = open(wim).expect("reopen fixed WIM");
    let tree = wim.image_tree(image).unwrap();
    assert!(tree.problems.is_empty(), "{:?}", tree.problems);
    let (index, _) = tree.walk().find(|(_, p)| p == path).expect("path in the fixed WIM");
    assert_eq!(wim.read_blob(tree.entries[index].data.hash).unwrap(), bytes, "{path}");
}

/// The largest number of bytes a rewrite may append: the new blobs (`new_bytes`, `new_blobs`
/// entries), each changed image's decoded metadata, a blob table, the XML (a few digits more)
/// and an integrity table (one more chunk hash at most).
fn growth_bound(wim: &Path, images: &[u32], new_bytes: usize, new_blobs: usize) -> u64 {
    let before = open(wim).unwrap();
    let header = before.header();
    let metadata: u64 = images
        .iter()
        .map(|&image| before.metadata_resource(image).unwrap().resource.original_size)
        .sum();
    new_bytes as u64
        + metadata
        + header.blob_table.stored_size
        + 50 * new_blobs as u64
        + header.xml_data.stored_size
        + 64
        + header.integrity_table.stored_size
        + 20
}

/// The line of `wimlib-imagex info wim image` starting with `label`.
fn info_line(wim: &Path, image: u32, label: &str) -> String {
    let index = image.to_string();
    let info = wimlib(&["info".as_ref(), wim.as_os_str(), index.as_ref()]);
    info.lines()
        .find(|line| line.starts_with(label))
        .unwrap_or_else(|| panic!("no {label} in {info}"))
        .to_owned()
}

fn round_trip(args: &[&str]) {
    if !have_wimlib() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wim = make_wim(dir.path(), 1, args, 200_000);
    let original = std::fs::read(&wim).unwrap();
    let fixed = dir.path().join("fixed.wim");
    let new_answer = answer_file("PLACEHOLDER-NEW-AND-LONGER");
    let new_linked: &[u8] = b"[key]\nvalue=new and longer\n";
    let summary = write_replacements(
        &wim,
        &[
            replacement(1, ANSWER_FILE, &new_answer),
            replacement(1, LINKED, new_linked),
        ],
        WriteTarget::NewFile(&fixed),
    )
    .unwrap();
    assert_eq!(std::fs::read(&wim).unwrap(), original, "the input is untouched");
    assert!(summary.written);
    let mut paths: Vec<&str> = summary.changed.iter().map(|c| c.path.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [ANSWER_FILE, LINKED, LINKED_TOO],
        "both links of the group change"
    );
    assert_eq!(summary.new_blobs, 2);
    let fixed_bytes = std::fs::read(&fixed).unwrap();
    assert_eq!(fixed_bytes.len() as u64, summary.new_len);
    assert_eq!(
        &fixed_bytes[208..original.len()],
        &original[208..],
        "every old byte after the header stays"
    );
    let growth = summary.new_len - summary.original_len;
    let bound = growth_bound(&wim, &[1], new_answer.len() + new_linked.len(), 2);
    let metadata_len = open(&wim).unwrap().metadata_resource(1).unwrap().resource.original_size;
    println!(
        "{args:?}: {} bytes grew by {growth} (bound {bound}; decoded metadata {metadata_len} bytes)",
        summary.original_len
    );
    assert!(growth <= bound, "grew by {growth}, more than {bound}");
    wimlib_verify(&fixed);
    assert_applies_with_only(
        &wim,
        &fixed,
        1,
        &[
            (1, ANSWER_FILE, &new_answer),
            (1, LINKED, new_linked),
            (1, LINKED_TOO, new_linked),
        ],
        dir.path(),
    );
    // The XML's sizes are what wimlib itself records for the fixed tree.
    let recaptured = dir.path().join("recaptured.wim");
    capture(&dir.path().join("fixed-1"), &recaptured, "image 1", args);
    for label in ["Total Bytes:", "Hard Link Bytes:", "File Count:", "Directory Count:"] {
        assert_eq!(info_line(&fixed, 1, label), info_line(&recaptured, 1, label), "{label}");
    }
    assert_ne!(info_line(&fixed, 1, "Total Bytes:"), info_line(&wim, 1, "Total Bytes:"));
    assert_reads(&fixed, 1, ANSWER_FILE, &new_answer);
    assert_reads(&fixed, 1, LINKED_TOO, new_linked);
    assert_reads(&fixed, 1, "/Windows/twin.xml", &answer_file("PLACEHOLDER-OLD"));
    assert!(!temporary_path(&fixed).exists(), "no temporary file is left");
}

#[test]
fn uncompressed_wim_is_fixed() {
    round_trip(&["--compress=none"]);
}

#[test]
fn xpress_wim_is_fixed() {
    round_trip(&["--compress=xpress"]);
}

#[test]
fn lzx_wim_is_fixed() {
    round_trip(&["--compress=lzx"]);
}

#[test]
fn a_blob_shared_by_two_images_keeps_serving_the_one_not_fixed() {
    if !have_wimlib() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wim = make_wim(dir.path(), 3, &["--compress=lzx"], 50_000);
    let original = dir.path().join("original.wim");
    std::fs::copy(&wim, &original).unwrap();
    let new_shared: &[u8] = b"changed in image 2 only\n";
    // Image 3's answer file gets bytes already stored in the WIM (image 2's twin): no new blob.
    let summary = write_replacements(
        &wim,
        &[
            replacement(2, SHARED, new_shared),
            replacement(3, ANSWER_FILE, b""),
            replacement(2, ANSWER_FILE, &answer_file("PLACEHOLDER-OLD")),
        ],
        WriteTarget::InPlace,
    )
    .unwrap();
    assert_eq!(summary.changed_images, [2, 3]);
    assert_eq!(summary.new_blobs, 1, "only the new shared file is a new blob");
    wimlib_verify(&wim);
    assert_applies_with_only(
        &original,
        &wim,
        3,
        &[(2, SHARED, new_shared), (3, ANSWER_FILE, b"")],
        dir.path(),
    );
    assert_reads(&wim, 1, SHARED, b"shared between images\n");
    assert_reads(&wim, 3, SHARED, b"shared between images\n");
    let fixed = open(&wim).unwrap();
    let old_shared = Sha1Hash::of(b"shared between images\n");
    assert_eq!(
        fixed.blob(old_shared).unwrap().reference_count,
        2,
        "images 1 and 3 still refer to it"
    );
    assert_eq!(fixed.blob(Sha1Hash::of(new_shared)).unwrap().reference_count, 1);

    // The same replacements again change nothing and write nothing.
    let before = std::fs::read(&wim).unwrap();
    let again = write_replacements(
        &wim,
        &[replacement(2, SHARED, new_shared), replacement(3, ANSWER_FILE, b"")],
        WriteTarget::InPlace,
    )
    .unwrap();
    assert!(!again.written && again.changed.is_empty());
    assert_eq!(std::fs::read(&wim).unwrap(), before);
}

#[test]
fn a_blob_no_stream_refers_to_any_more_leaves_the_blob_table() {
    if !have_wimlib() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wim = make_wim(dir.path(), 1, &["--compress=xpress"], 10_000);
    let old = Sha1Hash::of(b"shared between images\n");
    assert!(open(&wim).unwrap().blob(old).is_some());
    write_replacements(&wim, &[replacement(1, SHARED, b"other")], WriteTarget::InPlace).unwrap();
    assert!(open(&wim).unwrap().blob(old).is_none());
    wimlib_verify(&wim);
}

#[test]
fn a_wim_with_an_integrity_table_still_checks() {
    if !have_wimlib() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wim = make_wim(dir.path(), 2, &["--compress=lzx", "--check"], 100_000);
    let before = open(&wim).unwrap().header().integrity_table;
    assert!(before.stored_size > 0, "wimlib wrote an integrity table");
    let summary = write_replacements(
        &wim,
        &[replacement(2, ANSWER_FILE, &answer_file("PLACEHOLDER-NEW"))],
        WriteTarget::InPlace,
    )
    .unwrap();
    assert!(summary.integrity_table);
    let after = open(&wim).unwrap().header().integrity_table;
    assert!(after.offset > before.offset, "a new table was appended");
    wimlib_verify(&wim);
    let output = wimlib(&["info".as_ref(), wim.as_os_str(), "--check".as_ref()]);
    assert!(output.contains("Integrity"), "{output}");
    // A second rewrite checks the table this one wrote.
    write_replacements(
        &wim,
        &[replacement(1, ANSWER_FILE, &answer_file("PLACEHOLDER-NEW"))],
        WriteTarget::InPlace,
    )
    .unwrap();
    wimlib(&["info".as_ref(), wim.as_os_str(), "--check".as_ref()]);
}

#[test]
fn a_wrong_integrity_table_is_refused() {
    if !have_wimlib() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wim = make_wim(dir.path(), 1, &["--compress=none", "--check"], 1000);
    let table = open(&wim).unwrap().header().integrity_table;
    let mut bytes = std::fs::read(&wim).unwrap();
    bytes[table.offset as usize + 12] ^= 1;
    std::fs::write(&wim, &bytes).unwrap();
    let out = dir.path().join("out.wim");
    let error = write_replacements(&wim, &[replacement(1, SHARED, b"x")], WriteTarget::NewFile(&out)).unwrap_err();
    assert!(matches!(error, WriteError::IntegrityMismatch { chunk: 0 }), "{error}");
    assert!(!out.exists());
}

#[test]
fn paths_that_are_not_regular_files_or_conflict_are_refused_before_writing() {
    if !have_wimlib() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wim = make_wim(dir.path(), 1, &["--compress=xpress"], 1000);
    let original = std::fs::read(&wim).unwrap();
    let refusals = [
        (vec![replacement(1, "/Windows/missing.xml", b"x")], "no file"),
        (vec![replacement(1, "Windows/twin.xml", b"x")], "no file"),
        (vec![replacement(1, "/Windows", b"x")], "a directory"),
        (vec![replacement(1, "/", b"x")], "a directory"),
        (vec![replacement(1, "/link", b"x")], "a reparse point"),
        (vec![replacement(2, ANSWER_FILE, b"x")], "no image 2"),
        (
            vec![replacement(1, LINKED, b"one"), replacement(1, LINKED_TOO, b"two")],
            "two different replacements",
        ),
    ];
    for (replacements, expected) in refusals {
        let error = write_replacements(&wim, &replacements, WriteTarget::InPlace).unwrap_err();
        assert!(error.to_string().contains(expected), "{expected}: {error}");
        assert_eq!(std::fs::read(&wim).unwrap(), original);
        assert!(!temporary_path(&wim).exists());
    }
    let error = write_replacements(&wim, &[replacement(1, SHARED, b"x")], WriteTarget::NewFile(&wim)).unwrap_err();
    assert!(matches!(error, WriteError::OutputIsInput(_)), "{error}");
    // Two links of one file given the same bytes are one change.
    let out = dir.path().join("out.wim");
    let summary = write_replacements(
        &wim,
        &[replacement(1, LINKED, b"same"), replacement(1, LINKED_TOO, b"same")],
        WriteTarget::NewFile(&out),
    )
    .unwrap();
    assert_eq!(summary.changed.len(), 2);
    wimlib_verify(&out);
}

#[test]
fn malicious_and_corrupted_corpus_wims_are_refused_before_writing() {
    let corpus = makguard_testkit::shared_dir().join("corpus/wim");
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "cyclic",
        "dotdot",
        "duplicate_names",
        "corrupted_file_1",
        "corrupted_file_2",
    ] {
        let source = corpus.join(format!("ebiggers__wimlib__tests__wims__{name}.wim"));
        let original = std::fs::read(&source).unwrap();
        let path = open(&source)
            .ok()
            .and_then(|wim| wim.image_tree(1).ok())
            .and_then(|tree| {
                tree.walk()
                    .find(|(index, _)| !tree.entries[*index].is_dir() && !tree.entries[*index].is_reparse())
                    .map(|(_, path)| path)
            })
            .unwrap_or_else(|| "/file".to_owned());
        let out = dir.path().join(format!("{name}.wim"));
        let error =
            write_replacements(&source, &[replacement(1, &path, b"new")], WriteTarget::NewFile(&out)).expect_err(name);
        println!("{name}: refused: {error}");
        assert!(
            !out.exists() && !temporary_path(&out).exists(),
            "{name}: nothing written"
        );
        assert_eq!(std::fs::read(&source).unwrap(), original, "{name}: input untouched");
        // In place, on a copy.
        let copy = dir.path().join(format!("{name}-copy.wim"));
        std::fs::write(&copy, &original).unwrap();
        assert!(write_replacements(&copy, &[replacement(1, &path, b"new")], WriteTarget::InPlace).is_err());
        assert_eq!(std::fs::read(&copy).unwrap(), original, "{name}: copy untouched");
    }
}

const KILL_CHILD_ENV: &str = "MAKGUARD_WIM_KILL_CHILD";

fn kill_test_replacements() -> Vec<Replacement> {
    vec![
        replacement(1, ANSWER_FILE, &answer_file("PLACEHOLDER-KILL-TEST")),
        replacement(2, SHARED, b"new shared\n"),
    ]
}

/// Not a test on its own: the child process of the kill test, which runs the in-place write
/// on the WIM named by the environment and is killed at some moment.
#[test]
fn kill_test_child() {
    if let Some(path) = std::env::var_os(KILL_CHILD_ENV) {
        write_replacements(Path::new(&path), &kill_test_replacements(), WriteTarget::InPlace).unwrap();
    }
}

/// A small deterministic generator for the kill moments.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn sigkill_at_any_moment_leaves_the_original_or_the_fixed_wim() {
    if !have_wimlib() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wim = make_wim(dir.path(), 2, &["--compress=xpress", "--check"], 4_000_000);
    let original = std::fs::read(&wim).unwrap();
    let reference = dir.path().join("reference.wim");
    std::fs::write(&reference, &original).unwrap();
    write_replacements(&reference, &kill_test_replacements(), WriteTarget::InPlace).unwrap();
    let fixed = std::fs::read(&reference).unwrap();
    assert_ne!(fixed, original);

    let work = dir.path().join("work.wim");
    let spawn = || {
        std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "kill_test_child", "--test-threads=1"])
            .env(KILL_CHILD_ENV, &work)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    // One uninterrupted run sets the range the kill moments are drawn from (not asserted on).
    std::fs::write(&work, &original).unwrap();
    let started = std::time::Instant::now();
    assert!(spawn().wait().unwrap().success());
    let full_run = started.elapsed();
    assert_eq!(
        std::fs::read(&work).unwrap(),
        fixed,
        "the child writes what the test does"
    );

    let (mut originals, mut fixes) = (0, 0);
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..50 {
        std::fs::write(&work, &original).unwrap();
        // Half the moments anywhere in the run, half in its last fifth, where the file is written.
        let permille = match next_random(&mut state) % 2 {
            0 => next_random(&mut state) % 1200,
            _ => 800 + next_random(&mut state) % 300,
        };
        let delay = full_run.mul_f64(permille as f64 / 1000.0);
        let mut child = spawn();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        let left = std::fs::read(&work).unwrap();
        if left == original {
            originals += 1;
        } else if left == fixed {
            fixes += 1;
        } else {
            panic!("after a kill {delay:?} in, the WIM is neither the original nor the fixed one");
        }
        wimlib_verify(&work);
    }
    println!("kill test: {originals} kills left the original, {fixes} the fixed WIM (full run {full_run:?})");
    // A run after a kill (with a stale temporary file possibly beside it) still completes.
    std::fs::write(&work, &original).unwrap();
    std::fs::write(temporary_path(&work), b"stale").unwrap();
    assert!(spawn().wait().unwrap().success());
    assert_eq!(std::fs::read(&work).unwrap(), fixed);
    assert!(!temporary_path(&work).exists());
}

#[test]
fn the_boot_image_header_entry_follows_its_new_metadata() {
    if !have_wimlib() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wim = make_wim(dir.path(), 1, &["--compress=lzx", "--boot"], 1000);
    let boot_offset = |wim: &Path| {
        let bytes = std::fs::read(wim).unwrap();
        u64::from_le_bytes(bytes[0x68..0x70].try_into().unwrap())
    };
    let opened = open(&wim).unwrap();
    assert_eq!(opened.header().boot_index, 1);
    assert_eq!(boot_offset(&wim), opened.metadata_resource(1).unwrap().resource.offset);
    write_replacements(&wim, &[replacement(1, SHARED, b"boot")], WriteTarget::InPlace).unwrap();
    let fixed = open(&wim).unwrap();
    assert_eq!(boot_offset(&wim), fixed.metadata_resource(1).unwrap().resource.offset);
    wimlib_verify(&wim);
    assert!(
        wimlib(&["info".as_ref(), wim.as_os_str()])
            .lines()
            .any(|line| line.split_whitespace().eq(["Boot", "Index:", "1"]))
    );
}

#[test]
fn wimlibs_own_test_wims_are_fixed_and_still_verify() {
    if !have_wimlib() {
        return;
    }
    let corpus = makguard_testkit::shared_dir().join("corpus/wim");
    let dir = tempfile::tempdir().unwrap();
    for name in ["empty_dacl", "linux_xattrs_old", "longpaths"] {
        let source = corpus.join(format!("ebiggers__wimlib__tests__wims__{name}.wim"));
        let tree = open(&source).unwrap().image_tree(1).unwrap();
        let files: Vec<String> = tree
            .walk()
            .filter(|(index, _)| !tree.entries[*index].is_dir() && !tree.entries[*index].is_reparse())
            .map(|(_, path)| path)
            .collect();
        let Some(path) = files.last() else {
            println!("{name}: no regular file to replace");
            continue;
        };
        let out = dir.path().join(format!("{name}.wim"));
        let contents = format!("replaced in {name}\n").into_bytes();
        write_replacements(&source, &[replacement(1, path, &contents)], WriteTarget::NewFile(&out)).unwrap();
        wimlib_verify(&out);
        assert_reads(&out, 1, path, &contents);
        let extract = dir.path().join(format!("{name}-extract"));
        let dest = format!("--dest-dir={}", extract.display());
        wimlib(&[
            "extract".as_ref(),
            out.as_os_str(),
            "1".as_ref(),
            path.as_ref(),
            dest.as_ref(),
        ]);
        let name_only = path.rsplit('/').next().unwrap();
        assert_eq!(
            std::fs::read(extract.join(name_only)).unwrap(),
            contents,
            "{name}: {path}"
        );
        println!("{name}: replaced {path}");
    }
}

#[test]
fn a_corrupt_blob_elsewhere_is_refused_unless_only_the_replaced_files_are_checked() {
    if !have_wimlib() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wim = make_wim(dir.path(), 1, &["--compress=none"], 5000);
    let noise_blob = Sha1Hash::of(&noise(5000, 1));
    let offset = open(&wim).unwrap().blob(noise_blob).unwrap().resource.offset as usize;
    let mut bytes = std::fs::read(&wim).unwrap();
    bytes[offset + 100] ^= 0xFF;
    std::fs::write(&wim, &bytes).unwrap();
    let replacements = [replacement(1, SHARED, b"new")];
    let out = dir.path().join("out.wim");
    let error = write_replacements(&wim, &replacements, WriteTarget::NewFile(&out)).unwrap_err();
    assert!(
        matches!(&error, WriteError::Unreadable(makguard_wim::WimError::HashMismatch { expected, .. }) if *expected == noise_blob),
        "{error}"
    );
    assert!(!out.exists());
    let only_replaced = makguard_wim::WriteOptions {
        verify_every_blob: false,
    };
    makguard_wim::write_replacements_with(&wim, &replacements, WriteTarget::NewFile(&out), only_replaced).unwrap();
    assert_reads(&out, 1, SHARED, b"new");
}
