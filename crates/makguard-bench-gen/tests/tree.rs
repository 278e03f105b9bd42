//! The generator binary end to end on a small tree: what it writes matches what it reports,
//! the bytes do not depend on the thread count, every planted key is where the summary says,
//! and it refuses to write into a directory that is not empty.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

fn generate(out: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_makguard-bench-gen"))
        .arg(out)
        .args(["--seed", "7", "--scale", "0.02"])
        .args(extra)
        .output()
        .expect("run makguard-bench-gen")
}

fn files_under(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
                files.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn the_tree_matches_its_summary_and_every_planted_key_is_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let out = generate(&dir.path().join("tree"), &["--jobs", "2"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = String::from_utf8(out.stdout).unwrap();
    let files = files_under(&dir.path().join("tree"));
    let reported_files: usize = summary
        .lines()
        .find_map(|l| l.strip_prefix("files: "))
        .and_then(|n| n.parse().ok())
        .expect("files: line");
    assert_eq!(files.len(), reported_files);
    let reported_bytes: u64 = summary
        .lines()
        .find_map(|l| l.strip_prefix("bytes: "))
        .and_then(|n| n.split_whitespace().next()?.parse().ok())
        .expect("bytes: line");
    let actual_bytes: u64 = files.values().map(|b| b.len() as u64).sum();
    // Planted lines and binary keys written past a file's end may add a few bytes.
    assert!(
        actual_bytes >= reported_bytes && actual_bytes - reported_bytes < 4096,
        "{actual_bytes} vs {reported_bytes}"
    );

    let mut default_plants = 0;
    let mut deep_plants = 0;
    for line in summary
        .lines()
        .filter(|l| l.starts_with("  default ") || l.starts_with("  deep-only "))
    {
        let fields: Vec<&str> = line.trim_start().splitn(2, ' ').collect();
        let rest = fields[1].trim_start();
        let (masked, rest) = rest.split_once("  ").unwrap();
        let (path, how) = rest.split_once("  [").unwrap();
        let last_group = masked.rsplit('-').next().unwrap();
        assert_eq!(masked.len(), 29, "the summary shows keys masked: {masked}");
        let bytes = files.get(path).unwrap_or_else(|| panic!("planted file {path} missing"));
        let wide: Vec<u8> = last_group.bytes().flat_map(|b| [b, 0]).collect();
        let found = if how.contains("UTF-16") {
            contains(bytes, &wide)
        } else {
            contains(bytes, last_group.as_bytes())
        };
        assert!(found, "{path}: no key ending {last_group} ({how})");
        if fields[0] == "default" {
            default_plants += 1;
        } else {
            deep_plants += 1;
        }
    }
    assert!(default_plants >= 8, "{default_plants} keys in candidate files");
    assert!(deep_plants >= 4, "{deep_plants} keys in binaries");
    assert!(files.keys().any(|p| p.starts_with("Windows/WinSxS/Manifests/")));
    let has_extension = |path: &str, extension: &str| Path::new(path).extension().is_some_and(|e| e == extension);
    assert!(files.keys().any(|p| has_extension(p, "dll")) && files.keys().any(|p| has_extension(p, "mui")));
}

#[test]
fn the_bytes_do_not_depend_on_the_thread_count_and_a_full_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one");
    let three = dir.path().join("three");
    assert!(generate(&one, &["--jobs", "1"]).status.success());
    assert!(generate(&three, &["--jobs", "3"]).status.success());
    assert!(files_under(&one) == files_under(&three), "the trees differ");
    let again = generate(&one, &[]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "writing into a non-empty directory must be refused"
    );
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
}
