//! What a file is by its bytes, whatever its name: a disk or image container makguard cannot
//! look inside yet ([`detect_container`], the one place that decides it), an ordinary archive,
//! other binary data, or text.
//!
//! The walk reads the first [`HEAD_LEN`] bytes of every file it opens (a text file is read
//! whole anyway) and, for a large file whose size is a whole number of 512-byte sectors, the
//! last 512 bytes (a fixed VHD's footer).

/// Bytes of a file's start that decide its content class: up to the ISO 9660 / UDF volume
/// recognition sequence (2048-byte sectors 16 to 19, identifiers at byte 1 of each).
pub(crate) const HEAD_LEN: usize = 0x9801 + 5;
/// Bytes of the start searched for NUL bytes when telling binary data from text.
pub(crate) const BINARY_PROBE_LEN: usize = 4096;
/// A VHD footer (fixed disks keep only this one, at the end).
pub(crate) const VHD_FOOTER_LEN: u64 = 512;

/// A disk or image container: a file system inside a file. Until makguard reads one itself,
/// finding one is an `MG905` error, except [`ContainerKind::Wim`], which the walk reads (`wim_scan`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContainerKind {
    /// A Windows image (`.wim`) or electronic software download (`.esd`): `MSWIM\0\0\0`.
    Wim,
    /// wimlib's pipable WIM: `WLPWM\0\0\0`.
    PipableWim,
    /// An ISO 9660 CD/DVD image: `CD001` in a volume descriptor.
    Iso9660,
    /// A UDF image: `BEA01`/`NSR02`/`NSR03` in the volume recognition sequence.
    Udf,
    /// A Hyper-V VHDX virtual disk: `vhdxfile`.
    Vhdx,
    /// A VHD virtual disk: `conectix` in the footer (or at the start of a dynamic disk).
    Vhd,
}

impl ContainerKind {
    /// What it is, for messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            ContainerKind::Wim => "a Windows image (WIM/ESD)",
            ContainerKind::PipableWim => "a pipable Windows image (WIM)",
            ContainerKind::Iso9660 => "an ISO 9660 disc image",
            ContainerKind::Udf => "a UDF disc image",
            ContainerKind::Vhdx => "a VHDX virtual disk",
            ContainerKind::Vhd => "a VHD virtual disk",
        }
    }

    /// How to scan its contents today.
    pub(crate) fn how_to_scan(self) -> &'static str {
        match self {
            ContainerKind::Wim | ContainerKind::PipableWim => {
                "mount each image and scan the mount: `wimlib-imagex mount FILE INDEX DIR` on Linux, \
`DISM /Mount-Image /ImageFile:FILE /Index:INDEX /MountDir:DIR /ReadOnly` on Windows (list the \
indexes with `wimlib-imagex info FILE` or `DISM /Get-ImageInfo`); a pipable WIM must first be \
converted with `wimlib-imagex export FILE all NEW.wim`"
            }
            ContainerKind::Iso9660 | ContainerKind::Udf => {
                "mount the disc image (`mount -o loop,ro FILE DIR`, or `Mount-DiskImage` on Windows) and \
scan the mount, including the WIMs in its `sources` folder"
            }
            ContainerKind::Vhdx | ContainerKind::Vhd => {
                "attach and mount the virtual disk read-only (`guestmount --ro -a FILE -i DIR` or \
`qemu-nbd --read-only`, or `Mount-VHD -ReadOnly` on Windows) and scan the mounted volume"
            }
        }
    }
}

/// The container `head` (a file's first bytes, up to 38,918: through the ISO 9660 / UDF volume
/// recognition sequence) and `tail` (its last 512 bytes, when read) show, if any.
pub(crate) fn detect_container(head: &[u8], tail: Option<&[u8]>) -> Option<ContainerKind> {
    if head.starts_with(b"MSWIM\0\0\0") {
        return Some(ContainerKind::Wim);
    }
    if head.starts_with(b"WLPWM\0\0\0") {
        return Some(ContainerKind::PipableWim);
    }
    if head.starts_with(b"vhdxfile") {
        return Some(ContainerKind::Vhdx);
    }
    if head.starts_with(b"conectix") || tail.is_some_and(|t| t.starts_with(b"conectix")) {
        return Some(ContainerKind::Vhd);
    }
    let descriptor = |sector: usize| head.get(0x8001 + sector * 0x800..0x8001 + sector * 0x800 + 5);
    let identifiers: Vec<&[u8]> = (0..4).filter_map(descriptor).collect();
    if identifiers.iter().any(|id| matches!(*id, b"NSR02" | b"NSR03")) {
        return Some(ContainerKind::Udf);
    }
    if identifiers.iter().any(|id| *id == b"CD001") {
        return Some(ContainerKind::Iso9660);
    }
    if identifiers.iter().any(|id| *id == b"BEA01") {
        return Some(ContainerKind::Udf);
    }
    None
}

/// An ordinary archive: common in images, counted as `archive-not-opened`; `--deep` searches its
/// raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArchiveKind {
    Cab,
    Zip,
    /// An OLE compound file: `.msi`, `.msp`, `.mst`.
    Ole,
    SevenZip,
}

pub(crate) fn detect_archive(head: &[u8]) -> Option<ArchiveKind> {
    if head.starts_with(b"MSCF") {
        Some(ArchiveKind::Cab)
    } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Some(ArchiveKind::Zip)
    } else if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        Some(ArchiveKind::Ole)
    } else if head.starts_with(b"7z\xBC\xAF\x27\x1C") {
        Some(ArchiveKind::SevenZip)
    } else {
        None
    }
}

/// Magic numbers of binary formats common in Windows images: PE (`MZ`), registry hives, ELF,
/// images, fonts, event logs, ESE databases and compressed streams.
const BINARY_MAGIC: &[&[u8]] = &[
    b"MZ",
    b"regf",
    b"\x7fELF",
    b"\x89PNG",
    b"GIF8",
    b"\xFF\xD8\xFF",
    b"BM",
    b"\0\0\x01\0",
    b"ElfFile\0",
    b"\x00\x01\x00\x00\x00",
    b"OTTO",
    b"\x1F\x8B",
    b"BZh",
    b"\xFD7zXZ\0",
    b"(\xB5/\xFD",
    b"DCM\x01PA30",
    b"PA30",
];

/// True for data that is recognisably not text: a known binary magic number, or NUL bytes in
/// the first block that are not the zero half of UTF-16 (BOM or alternating zeros) or UTF-32.
pub(crate) fn looks_binary(head: &[u8]) -> bool {
    if has_text_bom(head) {
        return false;
    }
    // "BM" and "MZ" also start ordinary words; only binary if NULs follow too.
    let probe = &head[..head.len().min(BINARY_PROBE_LEN)];
    let has_nul = probe.contains(&0);
    if BINARY_MAGIC
        .iter()
        .any(|magic| head.starts_with(magic) && (magic.len() > 2 || has_nul))
    {
        return true;
    }
    if looks_like_utf16(probe) {
        return false;
    }
    has_nul || control_bytes(probe) * 10 > probe.len()
}

/// Bytes that no text encoding makguard reads uses as text: C0 controls other than tab, line
/// breaks, form feed and escape, and DEL.
fn control_bytes(probe: &[u8]) -> usize {
    probe
        .iter()
        .filter(|&&b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0C | 0x1B)) || b == 0x7F)
        .count()
}

fn has_text_bom(head: &[u8]) -> bool {
    head.starts_with(b"\xEF\xBB\xBF")
        || head.starts_with(b"\xFF\xFE")
        || head.starts_with(b"\xFE\xFF")
        || head.starts_with(b"\0\0\xFE\xFF")
}

/// BOM-less UTF-16 of mostly-ASCII text: zeros in (nearly) every other byte and (nearly) none
/// in the rest.
fn looks_like_utf16(probe: &[u8]) -> bool {
    let sample = &probe[..probe.len().min(512) & !1];
    if sample.len() < 4 {
        return false;
    }
    let pairs = sample.len() / 2;
    let even = sample.iter().step_by(2).filter(|&&b| b == 0).count();
    let odd = sample.iter().skip(1).step_by(2).filter(|&&b| b == 0).count();
    let mostly = |n: usize| n * 10 >= pairs * 7;
    let rarely = |n: usize| n * 10 <= pairs;
    (mostly(odd) && rarely(even)) || (mostly(even) && rarely(odd))
}

/// Extensions of files that are binary by nature: never searched as text (only `--deep`
/// searches them), and opened only to sniff for a container when they are large.
pub const BINARY_EXTENSIONS: &[&str] = &[
    "exe", "dll", "sys", "mui", "cat", "efi", "ocx", "cpl", "drv", "scr", "tlb", "olb", "ax", "acm", "ime", "winmd",
    "pnf", "mun", "com", "png", "jpg", "jpeg", "gif", "bmp", "ico", "cur", "ani", "tif", "tiff", "webp", "ttf", "ttc",
    "otf", "fon", "etl", "evtx", "evt", "edb", "chk", "jfm", "sdb", "pri", "wav", "wma", "wmv", "mp3", "mp4", "lnk",
    "pdb", "lib", "obj", "nls",
];

/// Extensions of ordinary archives: `archive-not-opened` in the default scan.
pub const ARCHIVE_EXTENSIONS: &[&str] = &["cab", "zip", "msi", "msp", "mst", "7z", "appx", "msix", "nupkg"];

/// Extensions that name containers: always opened to check their magic, whatever their size.
pub const CONTAINER_EXTENSIONS: &[&str] = &["wim", "esd", "swm", "iso", "vhd", "vhdx", "img"];

/// Files with a binary extension at least this large are opened to check for a container
/// (a WIM renamed `.dll`); smaller ones are not opened at all, which keeps the walk over the
/// tens of thousands of small PE files of an image cheap.
pub(crate) const BINARY_EXTENSION_SNIFF_MIN: u64 = 1 << 20;

/// What a file's name says before it is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameClass {
    Binary,
    Archive,
    Container,
    /// Anything else: text or not, its content decides.
    Unknown,
}

pub(crate) fn class_by_name(lower_name: &str) -> NameClass {
    let Some((_, extension)) = lower_name.rsplit_once('.') else {
        return NameClass::Unknown;
    };
    if CONTAINER_EXTENSIONS.contains(&extension) {
        NameClass::Container
    } else if ARCHIVE_EXTENSIONS.contains(&extension) {
        NameClass::Archive
    } else if BINARY_EXTENSIONS.contains(&extension) {
        NameClass::Binary
    } else {
        NameClass::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: usize, magic: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0u8; HEAD_LEN];
        bytes[offset..offset + magic.len()].copy_from_slice(magic);
        bytes
    }

    #[test]
    fn containers_are_told_by_their_magic() {
        assert_eq!(detect_container(&at(0, b"MSWIM\0\0\0"), None), Some(ContainerKind::Wim));
        assert_eq!(
            detect_container(&at(0, b"WLPWM\0\0\0"), None),
            Some(ContainerKind::PipableWim)
        );
        assert_eq!(detect_container(&at(0, b"vhdxfile"), None), Some(ContainerKind::Vhdx));
        assert_eq!(detect_container(&at(0, b"conectix"), None), Some(ContainerKind::Vhd));
        let mut footer = vec![0u8; 512];
        footer[..8].copy_from_slice(b"conectix");
        assert_eq!(detect_container(&[0u8; 64], Some(&footer)), Some(ContainerKind::Vhd));
        for offset in [0x8001, 0x8801, 0x9001] {
            assert_eq!(
                detect_container(&at(offset, b"CD001"), None),
                Some(ContainerKind::Iso9660)
            );
        }
        assert_eq!(detect_container(&at(0x8001, b"BEA01"), None), Some(ContainerKind::Udf));
        let mut udf = at(0x8001, b"CD001");
        udf[0x8801..0x8806].copy_from_slice(b"BEA01");
        udf[0x9001..0x9006].copy_from_slice(b"NSR03");
        assert_eq!(detect_container(&udf, None), Some(ContainerKind::Udf));
        assert_eq!(detect_container(&at(0x9801, b"NSR02"), None), Some(ContainerKind::Udf));
        assert_eq!(detect_container(b"MSWIM", None), None);
        assert_eq!(detect_container(&at(0x8000, b"CD001"), None), None);
        assert_eq!(detect_container(b"<unattend/>", None), None);
    }

    #[test]
    fn archives_by_magic() {
        assert_eq!(detect_archive(b"MSCF\0\0"), Some(ArchiveKind::Cab));
        assert_eq!(detect_archive(b"PK\x03\x04..."), Some(ArchiveKind::Zip));
        assert_eq!(
            detect_archive(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0]),
            Some(ArchiveKind::Ole)
        );
        assert_eq!(detect_archive(b"7z\xBC\xAF\x27\x1C\0"), Some(ArchiveKind::SevenZip));
        assert_eq!(detect_archive(b"PKZIP notes"), None);
    }

    #[test]
    fn text_in_any_encoding_is_not_binary() {
        let utf16le: Vec<u8> = "<Task>\r\n  x\r\n</Task>"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let utf16be: Vec<u8> = "key: value\n".encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert!(!looks_binary(&utf16le));
        assert!(!looks_binary(&utf16be));
        assert!(!looks_binary(b"\xFF\xFEa\0"));
        assert!(!looks_binary(b"plain: yaml\n"));
        assert!(!looks_binary(b"MZ is a word here"));
        assert!(!looks_binary(b"BMW notes"));
        assert!(!looks_binary("caf\u{e9} na\u{ef}ve".as_bytes()));
        assert!(looks_binary(b"MZ\x90\0\x03\0"));
        assert!(looks_binary(b"regf\x01\0\0\0"));
        assert!(looks_binary(b"text then \0\0\0\x01\x02 binary"));
        assert!(looks_binary(&[0x01u8; 4096]));
        assert!(!looks_binary(b"tabs\tand\x0cform feeds\r\n\x1b[0m colours\n"));
    }

    #[test]
    fn names_sort_files_before_opening() {
        assert_eq!(class_by_name("kernel32.dll"), NameClass::Binary);
        assert_eq!(class_by_name("a.cab"), NameClass::Archive);
        assert_eq!(class_by_name("install.wim"), NameClass::Container);
        assert_eq!(class_by_name("winre.wim"), NameClass::Container);
        assert_eq!(class_by_name("foo"), NameClass::Unknown);
        assert_eq!(class_by_name("build.yml"), NameClass::Unknown);
    }
}
