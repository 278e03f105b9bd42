//! The decoders on hostile input: arbitrary bytes, bit-flipped and truncated real chunks
//! (compressed by wimlib-imagex) never panic or hang, and a result is either an error or
//! exactly the chunk's size. A truncated chunk that still decodes must decode to the original.

mod codec_common;

use codec_common::{Compression, Wim, build_tree, capture, have_wimlib};
use makguard_wim::CodecError;
use makguard_wim::lzx::{decompress_lzx_chunk, decompress_lzx_chunk_in_window};
use makguard_wim::xpress::decompress_xpress_chunk;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// A real compressed chunk, owned, with the WIM's chunk size as the LZX window.
#[derive(Debug, Clone)]
struct RealChunk {
    stored: Vec<u8>,
    uncompressed_len: usize,
    window: usize,
}

fn decode(compression: Compression, chunk: &RealChunk, stored: &[u8]) -> Result<Vec<u8>, CodecError> {
    match compression {
        Compression::Lzx => decompress_lzx_chunk_in_window(stored, chunk.uncompressed_len, chunk.window),
        Compression::Xpress => decompress_xpress_chunk(stored, chunk.uncompressed_len),
    }
}

/// The compressed chunks of a WIM captured from the standard tree.
fn real_chunks(compress: &str, chunk_size: usize) -> Vec<RealChunk> {
    let temp = tempfile::tempdir().unwrap();
    let tree = temp.path().join("tree");
    build_tree(&tree, chunk_size, false);
    let wim_path = temp.path().join("test.wim");
    capture(&tree, &wim_path, compress, Some(chunk_size));
    let wim = Wim::open(&wim_path);
    let chunks: Vec<RealChunk> = wim
        .compressed_chunks()
        .into_iter()
        .map(|chunk| RealChunk {
            stored: chunk.stored.to_vec(),
            uncompressed_len: chunk.uncompressed_len,
            window: chunk_size,
        })
        .collect();
    assert!(chunks.len() > 20, "enough real chunks to mutate");
    chunks
}

fn check_bit_flips(compression: Compression, chunks: &[RealChunk]) {
    let mut runner = TestRunner::new(Config::with_cases(400));
    let strategy = (
        0..chunks.len(),
        prop::collection::vec(any::<prop::sample::Index>(), 1..8),
    );
    runner
        .run(&strategy, |(index, flips)| {
            let chunk = &chunks[index];
            let mut stored = chunk.stored.clone();
            let bits = stored.len() * 8;
            for flip in &flips {
                let bit = flip.index(bits);
                stored[bit / 8] ^= 1 << (bit % 8);
            }
            if let Ok(out) = decode(compression, chunk, &stored) {
                prop_assert_eq!(out.len(), chunk.uncompressed_len);
            }
            Ok(())
        })
        .unwrap();
}

fn check_truncations(compression: Compression, chunks: &[RealChunk]) {
    let mut checked = 0;
    for chunk in chunks.iter().step_by(7) {
        let full = decode(compression, chunk, &chunk.stored).expect("real chunk decodes");
        let step = (chunk.stored.len() / 64).max(1);
        for cut in (0..chunk.stored.len()).step_by(step) {
            if let Ok(out) = decode(compression, chunk, &chunk.stored[..cut]) {
                assert_eq!(out, full, "a {cut}-byte prefix decoded to something else");
            }
            checked += 1;
        }
    }
    assert!(checked > 100);
}

#[test]
fn lzx_survives_bit_flips_and_truncation_of_real_chunks() {
    if !have_wimlib() {
        return;
    }
    for chunk_size in [32_768, 131_072] {
        let chunks = real_chunks("lzx", chunk_size);
        check_bit_flips(Compression::Lzx, &chunks);
        check_truncations(Compression::Lzx, &chunks);
    }
}

#[test]
fn xpress_survives_bit_flips_and_truncation_of_real_chunks() {
    if !have_wimlib() {
        return;
    }
    for chunk_size in [4096, 32_768, 65_536] {
        let chunks = real_chunks("xpress", chunk_size);
        check_bit_flips(Compression::Xpress, &chunks);
        check_truncations(Compression::Xpress, &chunks);
    }
}

fn window_and_len() -> impl Strategy<Value = (usize, usize)> {
    prop_oneof![Just(32_768usize), Just(65_536), Just(1 << 21)]
        .prop_flat_map(|window| (Just(window), prop_oneof![0..64usize, 0..=window]))
}

proptest! {
    #![proptest_config(Config::with_cases(300))]

    #[test]
    fn lzx_arbitrary_bytes_error_or_exact_size(
        input in prop::collection::vec(any::<u8>(), 0..4096),
        (window, len) in window_and_len(),
    ) {
        if let Ok(out) = decompress_lzx_chunk_in_window(&input, len, window) {
            prop_assert_eq!(out.len(), len);
        }
        if len <= 32_768
            && let Ok(out) = decompress_lzx_chunk(&input, len)
        {
            prop_assert_eq!(out.len(), len);
        }
    }

    #[test]
    fn lzx_plausible_block_headers_with_arbitrary_bodies_error_or_exact_size(
        block_type in 0..8u16,
        len in 1..=32_768usize,
        size_delta in prop_oneof![Just(0usize), 0..64usize],
        body in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        // A real 20-bit block header (type, "not 32 KiB" flag, 16-bit size) reaches the tree
        // reading, symbol decoding and uncompressed-block paths.
        let size = (len + size_delta).min(0xFFFF) as u16;
        let first = (block_type << 13) | (size >> 4);
        let second = ((size & 0xF) << 12) | u16::from(body.first().copied().unwrap_or(0));
        let mut input = first.to_le_bytes().to_vec();
        input.extend(second.to_le_bytes());
        input.extend(body);
        if let Ok(out) = decompress_lzx_chunk(&input, len) {
            prop_assert_eq!(out.len(), len);
        }
    }

    #[test]
    fn xpress_arbitrary_bytes_error_or_exact_size(
        input in prop::collection::vec(any::<u8>(), 0..4096),
        len in prop_oneof![0..64usize, 0..=200_000usize],
    ) {
        if let Ok(out) = decompress_xpress_chunk(&input, len) {
            prop_assert_eq!(out.len(), len);
        }
    }

    #[test]
    fn xpress_complete_tables_with_arbitrary_streams_error_or_exact_size(
        stream in prop::collection::vec(any::<u8>(), 0..4096),
        len in 1..70_000usize,
    ) {
        // Every symbol with code length 9: a complete code, so decoding gets past the table.
        let mut input = vec![0x99u8; 256];
        input.extend(stream);
        if let Ok(out) = decompress_xpress_chunk(&input, len) {
            prop_assert_eq!(out.len(), len);
        }
    }
}

/// The reusable decoders carry nothing from one chunk to the next: decoding every real chunk
/// in turn with one decoder (after a corrupt chunk, too) gives what fresh decoders give.
#[test]
fn reused_decoders_decode_each_chunk_independently() {
    if !have_wimlib() {
        return;
    }
    for (compress, compression) in [("lzx", Compression::Lzx), ("xpress", Compression::Xpress)] {
        let chunks = real_chunks(compress, 32_768);
        let mut lzx = makguard_wim::lzx::LzxDecoder::new();
        let mut xpress = makguard_wim::xpress::XpressDecoder::new();
        for (index, chunk) in chunks.iter().enumerate() {
            let fresh = decode(compression, chunk, &chunk.stored).expect("real chunk decodes");
            let mut reused = vec![0xAA; chunk.uncompressed_len];
            match compression {
                Compression::Lzx => {
                    let mut corrupt = chunk.stored.clone();
                    corrupt.truncate(corrupt.len() / 2);
                    let mut scratch = vec![0; chunk.uncompressed_len];
                    let _ = lzx.decompress_into(&corrupt, &mut scratch, chunk.window);
                    lzx.decompress_into(&chunk.stored, &mut reused, chunk.window).unwrap();
                }
                Compression::Xpress => {
                    let _ = xpress.decompress_into(&chunk.stored[..chunk.stored.len() / 2], &mut [0; 9]);
                    xpress.decompress_into(&chunk.stored, &mut reused).unwrap();
                }
            }
            assert_eq!(reused, fresh, "{compress} chunk {index}");
        }
    }
}
