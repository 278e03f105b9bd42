//! The SHA-1 digests that name blobs in a WIM.

use std::fmt;

/// A blob's SHA-1 (of its uncompressed bytes). All zeros names the empty stream.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Sha1Hash(pub [u8; 20]);

impl Sha1Hash {
    /// The all-zero hash a dentry carries for an empty (or absent) stream.
    pub const ZERO: Sha1Hash = Sha1Hash([0; 20]);

    /// Whether this is the all-zero hash (an empty stream, stored nowhere).
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 20]
    }

    pub(crate) fn from_slice(bytes: &[u8]) -> Sha1Hash {
        let mut hash = [0; 20];
        hash.copy_from_slice(&bytes[..20]);
        Sha1Hash(hash)
    }

    /// The SHA-1 of `data`.
    pub fn of(data: &[u8]) -> Sha1Hash {
        use sha1::Digest;
        Sha1Hash(sha1::Sha1::digest(data).into())
    }
}

impl fmt::Display for Sha1Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for Sha1Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha1Hash({self})")
    }
}
