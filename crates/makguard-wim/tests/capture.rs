//! Trees captured at run time with `wimlib-imagex capture`/`append`: every path equals
//! `wimlib-imagex dir`, every file's bytes equal the source's.

mod common;

use std::path::Path;

use common::*;
use makguard_wim::{Compression, Wim};

/// A tree with the cases a reader gets wrong: hard links, identical files, empty files,
/// incompressible data, sizes around chunk boundaries, non-ASCII names, deep and long paths,
/// a symlink.
fn build_tree(root: &Path, seed: u64) {
    let sub = root.join("sub");
    std::fs::create_dir_all(sub.join("empty dir")).unwrap();
    std::fs::write(root.join("a.txt"), b"hello, world\n").unwrap();
    std::fs::write(root.join("same-as-a.txt"), b"hello, world\n").unwrap();
    std::fs::hard_link(root.join("a.txt"), sub.join("hard link to a")).unwrap();
    std::fs::write(root.join("empty"), b"").unwrap();
    std::fs::write(sub.join("noise.bin"), noise(300_000, seed)).unwrap();
    let text: Vec<u8> = (0..200_000u32)
        .flat_map(|i| format!("line {i} of text\n").into_bytes())
        .collect();
    std::fs::write(sub.join("text.log"), text).unwrap();
    for (i, len) in [1usize, 2, 10, 32767, 32768, 32769, 65536, 65537]
        .into_iter()
        .enumerate()
    {
        std::fs::write(sub.join(format!("size-{len}")), noise(len, seed + i as u64)).unwrap();
    }
    std::fs::write(sub.join("calls.exe"), x86_like(150_000, seed)).unwrap();
    std::fs::write(root.join("naïve résumé ☃ 日本語 𝄞.txt"), "ünïcödé".as_bytes()).unwrap();
    let mut deep = root.join("deep");
    for level in 0..60 {
        deep = deep.join(format!("level-{level:02}-{}", "d".repeat(20)));
    }
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join(format!("{}.txt", "long".repeat(60))), b"at the bottom").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("a.txt", root.join("link to a")).unwrap();
}

/// Bytes dense in E8 (x86 CALL) opcodes, with targets of 0, near 12,000,000 and negative, so
/// LZX's E8 translation is exercised.
fn x86_like(len: usize, seed: u64) -> Vec<u8> {
    let filler = noise(len, seed);
    let mut out = Vec::with_capacity(len + 8);
    let mut i = 0;
    while out.len() < len {
        let target: i32 = match i % 5 {
            0 => 0,
            1 => 12_000_000 - (i as i32 % 64),
            2 => -(i as i32),
            3 => out.len() as i32,
            _ => i32::from(filler[i % len]),
        };
        out.push(0xE8);
        out.extend_from_slice(&target.to_le_bytes());
        out.extend_from_slice(&filler[i % len..(i % len + 3).min(len)]);
        i += 1;
    }
    out.truncate(len);
    out
}

fn round_trip(compress: &str, expected: Compression) {
    round_trip_with(compress, expected, &[]);
}

fn round_trip_with(compress: &str, expected: Compression, extra: &[&str]) {
    if !have_wimlib() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("one"), dir.path().join("two"));
    build_tree(&first, 1);
    build_tree(&second, 2);
    std::fs::write(second.join("only-in-two"), b"second image").unwrap();
    let wim_path = dir.path().join("x.wim");
    let compress_arg = format!("--compress={compress}");
    let args: Vec<&str> = std::iter::once(compress_arg.as_str())
        .chain(extra.iter().copied())
        .collect();
    capture(&first, &wim_path, "first", &args);
    append(&second, &wim_path, "second", &[]);

    let wim = open(&wim_path).unwrap();
    assert_eq!(wim.header().compression, expected);
    if let Some(size) = extra.iter().find_map(|arg| arg.strip_prefix("--chunk-size=")) {
        assert_eq!(wim.header().chunk_size.to_string(), size);
    }
    let names: Vec<_> = wim.images().iter().map(|i| (i.index, i.name.clone())).collect();
    assert_eq!(names, [(1, Some("first".to_owned())), (2, Some("second".to_owned()))]);
    let one = assert_image_matches(&wim_path, &wim, 1, &first);
    let two = assert_image_matches(&wim_path, &wim, 2, &second);

    let find = |tree: &makguard_wim::ImageTree, path: &str| {
        let (index, _) = tree.walk().find(|(_, p)| p == path).unwrap();
        tree.entries[index].clone()
    };
    let a = find(&one, "/a.txt");
    let linked = find(&one, "/sub/hard link to a");
    assert!(a.hard_link_group.is_some());
    assert_eq!(a.hard_link_group, linked.hard_link_group, "hard links share a group");
    assert_eq!(find(&one, "/same-as-a.txt").hard_link_group, None);
    assert_eq!(
        find(&one, "/same-as-a.txt").data.hash,
        a.data.hash,
        "identical files share a blob"
    );
    assert_eq!(find(&two, "/a.txt").data.hash, a.data.hash, "images share blobs");
    assert!(find(&one, "/empty").data.hash.is_zero());
    #[cfg(unix)]
    assert!(find(&one, "/link to a").is_reparse());

    // Deduplication: each unique blob once, and fewer than the stream references.
    let refs: Vec<_> = one
        .stream_refs()
        .chain(two.stream_refs())
        .map(|(_, _, s)| s.hash)
        .collect();
    let unique: std::collections::HashSet<_> = refs.iter().collect();
    assert!(unique.len() < refs.len());
    assert!(unique.len() <= wim.blob_count());
}

#[test]
fn uncompressed_wims_read_back_exactly() {
    round_trip("none", Compression::None);
}

#[test]
fn wim_in_a_wim_opens_over_random_access() {
    if !have_wimlib() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (inner_src, outer_src) = (dir.path().join("inner"), dir.path().join("outer"));
    build_tree(&inner_src, 7);
    std::fs::create_dir_all(outer_src.join("Windows/System32/Recovery")).unwrap();
    let inner_wim = outer_src.join("Windows/System32/Recovery/Winre.wim");
    capture(&inner_src, &inner_wim, "winre", &["--compress=none"]);
    let outer_wim = dir.path().join("outer.wim");
    capture(&outer_src, &outer_wim, "outer", &["--compress=none"]);

    let outer = open(&outer_wim).unwrap();
    let tree = outer.image_tree(1).unwrap();
    let (index, _) = tree
        .walk()
        .find(|(_, p)| p == "/Windows/System32/Recovery/Winre.wim")
        .unwrap();
    let hash = tree.entries[index].data.hash;
    outer.verify_blob(hash).unwrap();
    let inner = Wim::from_reader(outer.blob_random_access(hash).unwrap()).unwrap();
    assert_eq!(inner.images()[0].name.as_deref(), Some("winre"));
    assert_image_matches(&inner_wim, &inner, 1, &inner_src);
}

#[test]
fn xpress_wims_read_back_exactly() {
    round_trip("xpress", Compression::Xpress);
}

#[test]
fn lzx_wims_read_back_exactly() {
    round_trip("lzx", Compression::Lzx);
}

#[test]
fn one_wim_serves_many_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Wim>();
    assert_send_sync::<makguard_wim::BlobRandomAccess>();
    fn assert_send<T: Send>() {}
    assert_send::<makguard_wim::BlobReader>();
    if !have_wimlib() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("src");
    build_tree(&source, 3);
    let wim_path = dir.path().join("x.wim");
    capture(&source, &wim_path, "img", &["--compress=lzx"]);
    let wim = open(&wim_path).unwrap();
    let tree = wim.image_tree(1).unwrap();
    let files: Vec<(String, makguard_wim::Sha1Hash)> = tree
        .walk()
        .filter(|(i, _)| !tree.entries[*i].is_dir() && !tree.entries[*i].is_reparse())
        .map(|(i, path)| (path, tree.entries[i].data.hash))
        .collect();
    std::thread::scope(|scope| {
        for worker in 0..4 {
            let (wim, files, source) = (&wim, &files, &source);
            scope.spawn(move || {
                for (path, hash) in files.iter().skip(worker).step_by(2) {
                    let expected = std::fs::read(source.join(path.trim_start_matches('/'))).unwrap();
                    assert!(wim.read_blob(*hash).unwrap() == expected, "{path}");
                }
            });
        }
    });
}

#[test]
fn other_chunk_sizes_read_back_exactly() {
    // Short last chunks of LZX resources use the WIM's chunk size as their window.
    round_trip_with("lzx", Compression::Lzx, &["--chunk-size=131072"]);
    round_trip_with("xpress", Compression::Xpress, &["--chunk-size=4096"]);
}
