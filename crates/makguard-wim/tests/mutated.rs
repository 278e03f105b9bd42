//! Truncated and bit-flipped WIMs under proptest: no panic, no hang, and every blob read
//! either yields exactly the source file's bytes or an error, never wrong bytes as success.

mod common;

use std::collections::HashMap;
use std::sync::OnceLock;

use common::*;
use makguard_wim::{Sha1Hash, Wim};
use proptest::prelude::*;

/// Small WIMs (none, XPRESS, LZX) and the source bytes of every file, by SHA-1.
struct Fixtures {
    wims: Vec<Vec<u8>>,
    sources: HashMap<Sha1Hash, Vec<u8>>,
}

fn fixtures() -> Option<&'static Fixtures> {
    static FIXTURES: OnceLock<Option<Fixtures>> = OnceLock::new();
    FIXTURES
        .get_or_init(|| {
            if !have_wimlib() {
                return None;
            }
            let dir = tempfile::tempdir().unwrap();
            let source = dir.path().join("src");
            std::fs::create_dir_all(source.join("d")).unwrap();
            let files: Vec<(&str, Vec<u8>)> = vec![
                ("a.txt", b"alpha alpha alpha alpha".to_vec()),
                ("d/b.bin", noise(40_000, 9)),
                ("d/c.txt", b"charlie ".repeat(6000)),
                ("d/e", b"e".to_vec()),
            ];
            for (path, bytes) in &files {
                std::fs::write(source.join(path), bytes).unwrap();
            }
            let sources = files
                .into_iter()
                .map(|(_, bytes)| (Sha1Hash::of(&bytes), bytes))
                .collect();
            let wims = ["none", "xpress", "lzx"]
                .iter()
                .map(|compress| {
                    let wim = dir.path().join(format!("{compress}.wim"));
                    capture(&source, &wim, "img", &[&format!("--compress={compress}")]);
                    std::fs::read(wim).unwrap()
                })
                .collect();
            Some(Fixtures { wims, sources })
        })
        .as_ref()
}

fn corpus_wims() -> Vec<Vec<u8>> {
    let dir = makguard_testkit::shared_dir().join("corpus/wim");
    let mut wims: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    wims.sort();
    wims
}

/// Opens and reads everything; checks each successful read against `sources` when given.
fn exercise(bytes: Vec<u8>, sources: Option<&HashMap<Sha1Hash, Vec<u8>>>) {
    let Ok(wim) = Wim::from_reader(bytes) else { return };
    for info in wim.images().to_vec() {
        let Ok(tree) = wim.image_tree(info.index) else { continue };
        let _ = tree.walk();
        for (_, _, stream) in tree.stream_refs() {
            if let Ok(read) = wim.read_blob(stream.hash) {
                assert_eq!(
                    Sha1Hash::of(&read),
                    stream.hash,
                    "bytes returned as OK do not match their hash"
                );
                if let Some(sources) = sources {
                    let expected = sources
                        .get(&stream.hash)
                        .expect("an OK blob is one of the source files");
                    assert!(&read == expected, "an OK blob differs from its source file");
                }
            }
            if let Ok(random) = wim.blob_random_access(stream.hash) {
                let mut buf = vec![0u8; 5000];
                let _ = random.read_blob_at(random.len() / 2, &mut buf);
            }
        }
    }
}

fn mutate(mut bytes: Vec<u8>, flips: &[(usize, u8)], truncate: Option<usize>) -> Vec<u8> {
    for &(at, bit) in flips {
        if !bytes.is_empty() {
            let at = at % bytes.len();
            bytes[at] ^= 1 << (bit % 8);
        }
    }
    if let Some(len) = truncate {
        bytes.truncate(len % (bytes.len() + 1));
    }
    bytes
}

proptest! {
    #[test]
    fn mutated_captured_wims_never_lie(
        which in 0usize..3,
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        truncate in prop::option::weighted(0.2, any::<usize>()),
    ) {
        let Some(fixtures) = fixtures() else { return Ok(()) };
        exercise(mutate(fixtures.wims[which].clone(), &flips, truncate), Some(&fixtures.sources));
    }

    #[test]
    fn mutated_metadata_never_lies(
        which in 0usize..3,
        flips in prop::collection::vec((0usize..2048, any::<u8>()), 1..6),
    ) {
        // Flips aimed at the metadata resource and the tables behind the file data.
        let Some(fixtures) = fixtures() else { return Ok(()) };
        let wim = &fixtures.wims[which];
        let tail_start = wim.len().saturating_sub(2048);
        let aimed: Vec<(usize, u8)> = flips.iter().map(|&(at, bit)| (tail_start + at, bit)).collect();
        exercise(mutate(wim.clone(), &aimed, None), Some(&fixtures.sources));
    }

    #[test]
    fn mutated_corpus_wims_do_not_panic(
        which in 0usize..8,
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        truncate in prop::option::weighted(0.2, any::<usize>()),
    ) {
        let wims = corpus_wims();
        exercise(mutate(wims[which % wims.len()].clone(), &flips, truncate), None);
    }
}

#[test]
fn every_truncation_of_a_small_wim_fails_or_reads_true() {
    let Some(fixtures) = fixtures() else { return };
    for wim in &fixtures.wims {
        for len in (0..wim.len()).step_by(7) {
            exercise(wim[..len].to_vec(), Some(&fixtures.sources));
        }
    }
}
