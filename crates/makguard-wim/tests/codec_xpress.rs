//! The XPRESS decoder against wimlib-imagex: every blob of XPRESS WIMs built from awkward
//! trees (text, incompressible, zero and x86-like files, sizes around chunk boundaries, tiny and
//! multi-MiB files), at every chunk size wimlib offers for XPRESS, decodes chunk by chunk to
//! the blob table's SHA-1.

mod codec_common;

use codec_common::{capture_and_verify, have_wimlib};

#[test]
fn xpress_default_chunk_size_matches_wimlib() {
    if !have_wimlib() {
        return;
    }
    capture_and_verify("xpress", None, true);
}

#[test]
fn xpress_small_and_64k_chunks_match_wimlib() {
    if !have_wimlib() {
        return;
    }
    for chunk_size in [4096, 8192, 16_384, 65_536] {
        capture_and_verify("xpress", Some(chunk_size), false);
    }
}
