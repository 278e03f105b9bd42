//! Test-only support for the codec tests: trees of awkward file contents built at run time,
//! WIMs captured from them by wimlib-imagex (the independent oracle), and just enough WIM
//! walking (header, blob table, chunk tables) to decode every blob chunk by chunk with this
//! crate's decoders and check each blob's SHA-1 against the blob table's.

#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::path::Path;

use makguard_testkit::{on_path, require_tool_for, wim_capture};
use makguard_wim::CodecError;
use sha1::{Digest, Sha1};

const HEADER_SIZE: usize = 208;
const BLOB_TABLE_RESHDR: usize = 0x30;
const BLOB_ENTRY_SIZE: usize = 50;
const RESHDR_SIZE: usize = 24;
const FLAG_METADATA: u8 = 0x02;
const FLAG_COMPRESSED: u8 = 0x04;
const FLAG_SOLID: u8 = 0x10;
const HEADER_FLAG_XPRESS: u32 = 0x0002_0000;
const HEADER_FLAG_LZX: u32 = 0x0004_0000;

/// True when wimlib-imagex can be used; otherwise the house policy applies (fail, or skip
/// with a printed reason under `MAKGUARD_SKIP_MISSING_TOOLS=1`), except that under CI (`CI`
/// set) a missing oracle always fails: the codecs must never go unchecked there.
pub(crate) fn have_wimlib() -> bool {
    const WHY: &str = "the oracle that compresses the chunks these tests decode";
    if std::env::var_os("CI").is_some() && !on_path("wimlib-imagex") {
        panic!("wimlib-imagex is required under CI ({WHY})");
    }
    require_tool_for("wimlib-imagex", WHY)
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub(crate) fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// English-like text: compresses well, with many repeat offsets and long matches.
pub(crate) fn text(rng: &mut Rng, len: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "product",
        "key",
        "Windows",
        "image",
        "deployment",
        "answer",
        "file",
        "the",
        "of",
        "and",
        "registry",
        "volume",
        "license",
        "<component>",
        "</settings>",
        "\r\n",
        "    ",
        "KMS",
    ];
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        out.extend_from_slice(WORDS[rng.below(WORDS.len() as u64) as usize].as_bytes());
        out.push(if rng.below(9) == 0 { b'\n' } else { b' ' });
    }
    out.truncate(len);
    out
}

/// x86-like bytes dense in 0xE8 (CALL) opcodes whose operands the LZX compressor translates:
/// zeros, small and negative targets, targets that translate to exactly 0 (operand = minus the
/// position in its chunk), targets near the 12,000,000 translation size, and E8 bytes in the
/// last 10 bytes of chunks (where no translation happens).
pub(crate) fn x86_like(rng: &mut Rng, len: usize, chunk_size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        let pos_in_chunk = (out.len() % chunk_size) as i64;
        match rng.below(6) {
            0 => {
                let filler = rng.below(12) as usize;
                out.extend(rng.bytes(filler));
            }
            1 => out.extend_from_slice(&[0x55, 0x8B, 0xEC, 0x83, 0xEC, 0x10]),
            _ => {
                let operand: i64 = match rng.below(9) {
                    0 => 0,
                    1 => -pos_in_chunk,
                    2 => -pos_in_chunk - 1 - rng.below(3) as i64,
                    3 => -(rng.below(100) as i64),
                    4 => 12_000_000 - pos_in_chunk - 2 + rng.below(5) as i64,
                    5 => 12_000_000 - 2 + rng.below(5) as i64,
                    6 => rng.below(100_000) as i64,
                    7 => i32::MIN as i64 + rng.below(3) as i64,
                    _ => i32::MAX as i64 - rng.below(3) as i64,
                };
                out.push(0xE8);
                out.extend_from_slice(&(operand as i32).to_le_bytes());
            }
        }
    }
    // E8 bytes in and just before the last 10 bytes of every chunk.
    for chunk_end in (chunk_size..=len).step_by(chunk_size) {
        for back in [1, 5, 9, 10, 11, 14, 15] {
            if let Some(byte) = out.get_mut(chunk_end - back) {
                *byte = 0xE8;
            }
        }
    }
    out.truncate(len);
    out
}

/// Writes the standard tree of awkward contents into `dir`, sized for `chunk_size`: text,
/// incompressible, zero, x86-like and mixed files at sizes around chunk boundaries, tiny files,
/// and (when `large`) files of a few MiB.
pub(crate) fn build_tree(dir: &Path, chunk_size: usize, large: bool) {
    let mut rng = Rng::new(chunk_size as u64 ^ u64::from(large));
    let c = chunk_size;
    let mut sizes = vec![
        1, 2, 3, 10, 11, 12, 100, 4095, 4096, 4097, 32_767, 32_768, 32_769, 65_535, 65_536, 65_537,
    ];
    sizes.extend([c - 1, c, c + 1, 2 * c - 1, 2 * c + 1, 3 * c + 5]);
    sizes.sort_unstable();
    sizes.dedup();
    for &size in &sizes {
        // Multi-MiB files of every kind would make wimlib's compression dominate the tests;
        // the x86-like and mixed ones exercise the most.
        if size <= 1 << 20 {
            write(dir, &format!("text_{size}.txt"), &text(&mut rng, size));
            write(dir, &format!("random_{size}.bin"), &rng.bytes(size));
            write(dir, &format!("zeros_{size}.bin"), &vec![0; size]);
        }
        write(dir, &format!("x86_{size}.exe"), &x86_like(&mut rng, size, c));
        if size <= 4 << 20 {
            write(dir, &format!("mixed_{size}.dat"), &mixed(&mut rng, size, c));
        }
    }
    if large {
        let big = 3 << 20;
        write(dir, "large/text.txt", &text(&mut rng, big + 12_345));
        write(dir, "large/x86.dll", &x86_like(&mut rng, big, c));
        write(dir, "large/mixed.dat", &mixed(&mut rng, big + 7, c));
        write(dir, "large/random.bin", &rng.bytes(1 << 20));
    }
}

/// Alternating runs of text, random, zero and x86-like bytes, so chunks mix block types.
pub(crate) fn mixed(rng: &mut Rng, len: usize, chunk_size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 4096);
    while out.len() < len {
        let run = 1 + rng.below(6000) as usize;
        match rng.below(4) {
            0 => out.extend(text(rng, run)),
            1 => out.extend(rng.bytes(run)),
            2 => out.extend(std::iter::repeat_n(rng.next() as u8, run)),
            _ => out.extend(x86_like(rng, run, chunk_size)),
        }
    }
    out.truncate(len);
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Captures `dir` into `wim` with wimlib, compressed with `compress` (`lzx`/`xpress`) in
/// chunks of `chunk_size` bytes (`None`: wimlib's default, 32 KiB).
pub(crate) fn capture(dir: &Path, wim: &Path, compress: &str, chunk_size: Option<usize>) {
    let mut args = vec![format!("--compress={compress}")];
    if let Some(size) = chunk_size {
        args.push(format!("--chunk-size={size}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    wim_capture(dir, wim, "codec test", &args);
}

/// The compression a WIM's header announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    Lzx,
    Xpress,
}

/// The parts of a WIM the codec tests need.
pub(crate) struct Wim {
    pub bytes: Vec<u8>,
    pub compression: Compression,
    pub chunk_size: usize,
    pub blobs: Vec<BlobEntry>,
}

/// One blob table entry.
pub(crate) struct BlobEntry {
    pub resource: Resource,
    pub sha1: [u8; 20],
}

/// A resource header: where a blob's stored bytes are and how large it is.
#[derive(Clone, Copy)]
pub(crate) struct Resource {
    pub stored_size: u64,
    pub flags: u8,
    pub offset: u64,
    pub original_size: u64,
}

/// A compressed chunk as stored, with its uncompressed size.
pub(crate) struct Chunk<'a> {
    pub stored: &'a [u8],
    pub uncompressed_len: usize,
}

fn le_u64(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes[..8].try_into().unwrap())
}

fn le_u32(bytes: &[u8]) -> u32 {
    u32::from_le_bytes(bytes[..4].try_into().unwrap())
}

fn resource_at(bytes: &[u8]) -> Resource {
    let mut size = [0u8; 8];
    size[..7].copy_from_slice(&bytes[..7]);
    Resource {
        stored_size: u64::from_le_bytes(size),
        flags: bytes[7],
        offset: le_u64(&bytes[8..]),
        original_size: le_u64(&bytes[16..]),
    }
}

impl Wim {
    /// Reads a wimlib-written, non-solid WIM's header and blob table.
    pub(crate) fn open(path: &Path) -> Wim {
        let bytes = std::fs::read(path).unwrap();
        assert!(
            bytes.len() >= HEADER_SIZE && bytes.starts_with(b"MSWIM\0\0\0"),
            "not a WIM"
        );
        let flags = le_u32(&bytes[16..]);
        let compression = if flags & HEADER_FLAG_LZX != 0 {
            Compression::Lzx
        } else if flags & HEADER_FLAG_XPRESS != 0 {
            Compression::Xpress
        } else {
            panic!("WIM header flags {flags:#x} name neither LZX nor XPRESS");
        };
        let chunk_size = le_u32(&bytes[20..]) as usize;
        let mut wim = Wim {
            bytes,
            compression,
            chunk_size,
            blobs: Vec::new(),
        };
        let table = resource_at(&wim.bytes[BLOB_TABLE_RESHDR..]);
        let table_bytes = wim.read_resource(&table).expect("blob table decodes");
        assert_eq!(table_bytes.len() % BLOB_ENTRY_SIZE, 0, "blob table size");
        wim.blobs = table_bytes
            .chunks_exact(BLOB_ENTRY_SIZE)
            .map(|entry| BlobEntry {
                resource: resource_at(entry),
                sha1: entry[30..50].try_into().unwrap(),
            })
            .collect();
        wim
    }

    /// The stored chunks of a compressed, non-solid resource.
    pub(crate) fn chunks(&self, resource: &Resource) -> Vec<Chunk<'_>> {
        assert_eq!(resource.flags & FLAG_SOLID, 0, "solid resources are not used here");
        let start = resource.offset as usize;
        let stored = &self.bytes[start..start + resource.stored_size as usize];
        let original = resource.original_size as usize;
        let count = original.div_ceil(self.chunk_size);
        let entry_size = if resource.original_size > u64::from(u32::MAX) {
            8
        } else {
            4
        };
        let table_len = count.saturating_sub(1) * entry_size;
        let data = &stored[table_len..];
        let mut bounds = vec![0usize];
        for entry in stored[..table_len].chunks_exact(entry_size) {
            bounds.push(if entry_size == 4 {
                le_u32(entry) as usize
            } else {
                le_u64(entry) as usize
            });
        }
        bounds.push(data.len());
        (0..count)
            .map(|i| Chunk {
                stored: &data[bounds[i]..bounds[i + 1]],
                uncompressed_len: self.chunk_size.min(original - i * self.chunk_size),
            })
            .collect()
    }

    /// A resource's bytes, decoding each compressed chunk with this crate's decoder.
    pub(crate) fn read_resource(&self, resource: &Resource) -> Result<Vec<u8>, CodecError> {
        if resource.flags & FLAG_COMPRESSED == 0 {
            let start = resource.offset as usize;
            return Ok(self.bytes[start..start + resource.original_size as usize].to_vec());
        }
        let mut out = Vec::with_capacity(resource.original_size as usize);
        for chunk in self.chunks(resource) {
            out.extend(self.decode_chunk(&chunk)?);
        }
        Ok(out)
    }

    /// One chunk's bytes: stored raw when it did not shrink, else decoded.
    pub(crate) fn decode_chunk(&self, chunk: &Chunk<'_>) -> Result<Vec<u8>, CodecError> {
        if chunk.stored.len() == chunk.uncompressed_len {
            return Ok(chunk.stored.to_vec());
        }
        match self.compression {
            Compression::Xpress => makguard_wim::xpress::decompress_xpress_chunk(chunk.stored, chunk.uncompressed_len),
            Compression::Lzx if self.chunk_size == 32_768 => {
                makguard_wim::lzx::decompress_lzx_chunk(chunk.stored, chunk.uncompressed_len)
            }
            Compression::Lzx => {
                makguard_wim::lzx::decompress_lzx_chunk_in_window(chunk.stored, chunk.uncompressed_len, self.chunk_size)
            }
        }
    }

    /// Every compressed chunk in the WIM (those stored raw are left out).
    pub(crate) fn compressed_chunks(&self) -> Vec<Chunk<'_>> {
        self.blobs
            .iter()
            .filter(|blob| blob.resource.flags & FLAG_COMPRESSED != 0)
            .flat_map(|blob| self.chunks(&blob.resource))
            .filter(|chunk| chunk.stored.len() != chunk.uncompressed_len)
            .collect()
    }
}

/// What [`verify_all_blobs`] checked.
#[derive(Debug, Default)]
pub(crate) struct Verified {
    pub blobs: usize,
    pub metadata_blobs: usize,
    pub compressed_chunks: usize,
    pub raw_chunks: usize,
}

/// Decodes every blob of `wim` chunk by chunk and asserts each one's SHA-1 is the blob
/// table's; returns the counts, after asserting every blob table entry was checked.
pub(crate) fn verify_all_blobs(wim: &Wim) -> Verified {
    let mut verified = Verified::default();
    for (index, blob) in wim.blobs.iter().enumerate() {
        let resource = &blob.resource;
        if resource.flags & FLAG_COMPRESSED != 0 {
            for chunk in wim.chunks(resource) {
                if chunk.stored.len() == chunk.uncompressed_len {
                    verified.raw_chunks += 1;
                } else {
                    verified.compressed_chunks += 1;
                }
            }
        }
        let data = wim
            .read_resource(resource)
            .unwrap_or_else(|e| panic!("blob {index} ({} bytes) failed to decode: {e}", resource.original_size));
        assert_eq!(data.len() as u64, resource.original_size, "blob {index} size");
        let digest: [u8; 20] = Sha1::digest(&data).into();
        assert_eq!(
            digest, blob.sha1,
            "blob {index} ({} bytes) SHA-1",
            resource.original_size
        );
        verified.blobs += 1;
        if resource.flags & FLAG_METADATA != 0 {
            verified.metadata_blobs += 1;
        }
    }
    assert_eq!(verified.blobs, wim.blobs.len());
    verified
}

/// Builds the standard tree for `chunk_size`, captures it with `compress`, and verifies every
/// blob; returns the counts.
pub(crate) fn capture_and_verify(compress: &str, chunk_size: Option<usize>, large: bool) -> Verified {
    let temp = tempfile::tempdir().unwrap();
    let tree = temp.path().join("tree");
    build_tree(&tree, chunk_size.unwrap_or(32_768), large);
    let wim_path = temp.path().join("test.wim");
    capture(&tree, &wim_path, compress, chunk_size);
    let wim = Wim::open(&wim_path);
    assert_eq!(wim.chunk_size, chunk_size.unwrap_or(32_768), "WIM chunk size");
    let verified = verify_all_blobs(&wim);
    println!("{compress} chunk size {}: {verified:?}", wim.chunk_size);
    assert!(verified.blobs > 0);
    assert!(verified.metadata_blobs >= 1, "the image's metadata blob was checked");
    assert!(
        verified.compressed_chunks > verified.blobs / 2,
        "most blobs were really compressed"
    );
    verified
}
