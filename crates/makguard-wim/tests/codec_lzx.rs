//! The LZX decoder against wimlib-imagex: every blob of LZX WIMs built from awkward trees
//! (text, incompressible, zero and E8-dense x86-like files, sizes around chunk boundaries, tiny
//! and multi-MiB files) decodes chunk by chunk to the blob table's SHA-1.

mod codec_common;

use codec_common::{capture_and_verify, have_wimlib};

#[test]
fn lzx_default_chunk_size_matches_wimlib() {
    if !have_wimlib() {
        return;
    }
    capture_and_verify("lzx", None, true);
}

#[test]
fn lzx_64k_chunks_match_wimlib() {
    if !have_wimlib() {
        return;
    }
    capture_and_verify("lzx", Some(65_536), false);
}

#[test]
fn lzx_256k_chunks_match_wimlib() {
    if !have_wimlib() {
        return;
    }
    capture_and_verify("lzx", Some(262_144), false);
}

#[test]
fn lzx_2m_chunks_match_wimlib() {
    if !have_wimlib() {
        return;
    }
    capture_and_verify("lzx", Some(2_097_152), false);
}

/// Documents why [`makguard_wim::lzx::decompress_lzx_chunk_in_window`] exists: in a WIM whose
/// chunk size is above 32 KiB, wimlib compresses a resource's short last chunk with the full
/// chunk-size window, so decoding it with a window sized to the chunk itself goes wrong.
#[test]
fn short_last_chunks_of_large_chunk_wims_need_the_wim_window() {
    if !have_wimlib() {
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let tree = temp.path().join("tree");
    codec_common::build_tree(&tree, 65_536, false);
    let wim_path = temp.path().join("test.wim");
    codec_common::capture(&tree, &wim_path, "lzx", Some(65_536));
    let wim = codec_common::Wim::open(&wim_path);
    let mut short = 0;
    let mut misdecoded_with_own_size = 0;
    for chunk in wim.compressed_chunks() {
        if chunk.uncompressed_len >= wim.chunk_size {
            continue;
        }
        short += 1;
        let right = makguard_wim::lzx::decompress_lzx_chunk_in_window(chunk.stored, chunk.uncompressed_len, 65_536)
            .expect("decodes with the WIM's window");
        assert_eq!(right.len(), chunk.uncompressed_len);
        let own = makguard_wim::lzx::decompress_lzx_chunk(chunk.stored, chunk.uncompressed_len);
        if own.as_ref() != Ok(&right) {
            misdecoded_with_own_size += 1;
        }
    }
    println!("{short} short chunks, {misdecoded_with_own_size} misdecoded with their own size as window");
    assert!(short > 0);
    assert!(misdecoded_with_own_size > 0);
}
