//! What each kind of file in the synthetic image looks like, byte for byte.
//!
//! Binaries are not pure noise: like real PE files they mix machine code (random bytes), zero
//! padding, ASCII string tables and UTF-16LE resource strings, so that a binary-safe search
//! (makguard `--deep`, `rg -a`) does the same kind of work as on a real image. Text files are
//! well-formed in their format (XML closes its root, JSON its brackets) so that a scanner that
//! parses them sees real structure, and use CRLF line ends as Windows does.

use crate::rng::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// `.dll`, `.exe`, `.sys`: PE-like binaries.
    Pe,
    /// `.mui`: resource-only binaries, mostly UTF-16 strings.
    Mui,
    /// `.cat`: signed catalogs (DER with hashes and UTF-16 file names).
    Catalog,
    /// `.pnf`: precompiled INF (binary with UTF-16 strings).
    Pnf,
    /// `.ttf`, `.png`, `.jpg`, `.dat`, `.etl`: compressed or opaque data.
    Data,
    /// `.manifest` and `.mum`: component manifests (XML).
    Manifest,
    /// `.xml`: configuration and data XML.
    Xml,
    /// `.admx` / `.adml`: policy definitions (XML).
    Admx,
    /// `.inf`: setup information.
    Inf,
    /// `.log`: setup and servicing logs.
    Log,
    /// `.txt`: readme and licence text.
    Txt,
    /// `.ini`: settings.
    Ini,
    /// `.json`: settings and manifests.
    Json,
    /// `.cmd` / `.bat`.
    Cmd,
    /// `.ps1` / `.psm1`.
    Ps1,
    /// `.vbs` / `.js`.
    Vbs,
}

impl Kind {
    pub(crate) fn is_text(self) -> bool {
        !matches!(self, Kind::Pe | Kind::Mui | Kind::Catalog | Kind::Pnf | Kind::Data)
    }
}

/// A key the generator plants in a file.
#[derive(Debug, Clone)]
pub(crate) enum Plant {
    /// The whole file is this text (an answer file, a script, an Office configuration).
    Whole { text: String, utf16: bool },
    /// This line stands somewhere in the middle of the file's usual text.
    Line(String),
    /// `key` sits at `offset` of a binary, NUL-delimited, in ASCII or UTF-16LE.
    Binary {
        key: &'static str,
        utf16: bool,
        offset: u64,
    },
}

const WORDS: &[&str] = &[
    "windows",
    "setup",
    "component",
    "servicing",
    "package",
    "driver",
    "network",
    "shell",
    "kernel",
    "runtime",
    "update",
    "security",
    "policy",
    "service",
    "device",
    "display",
    "audio",
    "storage",
    "print",
    "spooler",
    "firewall",
    "defender",
    "telemetry",
    "diagnostics",
    "license",
    "activation",
    "registry",
    "profile",
    "session",
    "desktop",
    "explorer",
    "search",
    "indexer",
    "media",
    "player",
    "camera",
    "sensor",
    "bluetooth",
    "wireless",
    "ethernet",
    "adapter",
    "protocol",
    "client",
    "server",
    "provider",
    "manager",
    "handler",
    "control",
    "panel",
    "settings",
    "notification",
    "language",
    "locale",
    "font",
    "graphics",
    "direct",
    "compositor",
    "input",
    "touch",
    "keyboard",
    "mouse",
    "power",
    "battery",
    "thermal",
    "processor",
    "memory",
    "cache",
    "volume",
    "partition",
    "backup",
    "restore",
    "recovery",
    "boot",
    "loader",
    "firmware",
    "hyperv",
    "container",
    "sandbox",
    "virtual",
    "credential",
    "crypto",
    "certificate",
    "token",
    "identity",
    "account",
    "group",
    "domain",
    "directory",
    "remote",
    "desktop",
    "terminal",
    "console",
    "command",
    "script",
    "host",
    "engine",
    "module",
    "library",
    "framework",
    "assembly",
    "manifest",
    "catalog",
    "resource",
    "string",
    "table",
    "event",
    "trace",
    "log",
    "counter",
    "performance",
    "monitor",
    "scheduler",
    "task",
    "job",
    "queue",
    "worker",
    "thread",
    "timer",
    "state",
    "store",
];

const PASCAL: &[&str] = &[
    "Create",
    "Open",
    "Close",
    "Read",
    "Write",
    "Query",
    "Set",
    "Get",
    "Register",
    "Unregister",
    "Enum",
    "Find",
    "Load",
    "Free",
    "Initialize",
    "Shutdown",
    "Start",
    "Stop",
    "Notify",
    "Validate",
    "Handle",
    "Object",
    "File",
    "Key",
    "Value",
    "Service",
    "Device",
    "Window",
    "Message",
    "Thread",
    "Process",
    "Module",
    "Resource",
    "Token",
    "Security",
    "Descriptor",
    "Policy",
    "Event",
    "Buffer",
    "String",
    "Info",
    "Ex",
    "Internal",
    "Callback",
];

const LANGS: &[&str] = &["en-US", "de-DE", "fr-FR", "es-ES", "ja-JP"];

fn word(rng: &mut Rng) -> &'static str {
    rng.pick(WORDS)
}

fn hex(rng: &mut Rng, digits: usize) -> String {
    let mut out = String::with_capacity(digits);
    while out.len() < digits {
        out.push_str(&format!("{:016x}", rng.next_u64()));
    }
    out.truncate(digits);
    out
}

fn guid(rng: &mut Rng) -> String {
    let h = hex(rng, 32);
    format!(
        "{{{}-{}-{}-{}-{}}}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn pascal_name(rng: &mut Rng) -> String {
    let mut name = String::new();
    for _ in 0..rng.range(2, 4) {
        name.push_str(rng.pick(PASCAL));
    }
    name.push(if rng.chance(0.5) { 'W' } else { 'A' });
    name
}

fn sentence(rng: &mut Rng, min_words: u64, max_words: u64) -> String {
    let words = rng.range(min_words, max_words);
    let mut out = String::new();
    for i in 0..words {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word(rng));
    }
    out
}

/// A string a binary's string table might hold: an API name, a path, a message.
fn binary_string(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => pascal_name(rng),
        1 => format!("C:\\Windows\\System32\\{}{}.dll", word(rng), word(rng)),
        2 => format!("SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\{}", pascal_name(rng)),
        _ => sentence(rng, 3, 9),
    }
}

/// Fills `out` with NUL-terminated strings, in ASCII or UTF-16LE.
fn fill_strings(rng: &mut Rng, out: &mut [u8], utf16: bool) {
    let mut pos = 0;
    while pos < out.len() {
        let text = binary_string(rng);
        for byte in text.bytes().chain(std::iter::once(0)) {
            if pos >= out.len() {
                return;
            }
            out[pos] = byte;
            pos += 1;
            if utf16 {
                if pos >= out.len() {
                    return;
                }
                out[pos] = 0;
                pos += 1;
            }
        }
    }
}

/// Block mix of a binary kind, in percent: (random code, zeros, ASCII strings, UTF-16 strings).
fn block_mix(kind: Kind) -> [u32; 4] {
    match kind {
        Kind::Pe => [48, 17, 18, 17],
        Kind::Mui => [10, 15, 5, 70],
        Kind::Catalog => [60, 5, 15, 20],
        Kind::Pnf => [35, 10, 5, 50],
        _ => [92, 6, 1, 1],
    }
}

fn binary(kind: Kind, size: usize, rng: &mut Rng) -> Vec<u8> {
    let mut buf = vec![0u8; size];
    let header: &[u8] = match kind {
        Kind::Pe | Kind::Mui => b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00",
        Kind::Catalog => b"\x30\x82\x4e\x21\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02\xa0",
        _ => b"",
    };
    let header_len = header.len().min(size);
    buf[..header_len].copy_from_slice(&header[..header_len]);
    let mut start = header_len;
    if matches!(kind, Kind::Pe | Kind::Mui) && size >= 0x400 {
        let stub = b"This program cannot be run in DOS mode.\r\r\n$";
        buf[0x4E..0x4E + stub.len()].copy_from_slice(stub);
        buf[0x80..0x84].copy_from_slice(b"PE\0\0");
        for (i, name) in [".text\0\0\0", ".rdata\0\0", ".data\0\0\0", ".rsrc\0\0\0", ".reloc\0\0"]
            .iter()
            .enumerate()
        {
            let at = 0x188 + i * 40;
            buf[at..at + 8].copy_from_slice(name.as_bytes());
        }
        start = 0x400;
    }
    let mix = block_mix(kind);
    let mut pos = start;
    while pos < size {
        let len = (rng.range(1, 8) as usize * 1024).min(size - pos);
        let block = &mut buf[pos..pos + len];
        let roll = rng.below(100) as u32;
        if roll < mix[0] {
            rng.fill(block);
        } else if roll < mix[0] + mix[1] {
            // already zero
        } else if roll < mix[0] + mix[1] + mix[2] {
            fill_strings(rng, block, false);
        } else {
            fill_strings(rng, block, true);
        }
        pos += len;
    }
    buf
}

fn plant_binary(buf: &mut Vec<u8>, key: &str, utf16: bool, offset: u64) {
    let mut bytes = vec![0u8, 0u8];
    for b in key.bytes() {
        bytes.push(b);
        if utf16 {
            bytes.push(0);
        }
    }
    bytes.extend_from_slice(&[0, 0]);
    let at = (offset as usize).min(buf.len().saturating_sub(bytes.len()));
    if buf.len() < at + bytes.len() {
        buf.resize(at + bytes.len(), 0);
    }
    buf[at..at + bytes.len()].copy_from_slice(&bytes);
}

/// Text of a given kind: (opening, one body line, closing). The body repeats until the size.
fn text(kind: Kind, size: usize, rng: &mut Rng) -> String {
    let mut out = String::with_capacity(size + 256);
    let closing = match kind {
        Kind::Manifest => {
            out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\r\n");
            out.push_str(&format!(
                "<assembly xmlns=\"urn:schemas-microsoft-com:asm.v3\" manifestVersion=\"1.0\" copyright=\"Copyright (c) Microsoft Corporation. All Rights Reserved.\">\r\n  <assemblyIdentity name=\"Microsoft-Windows-{}-{}\" version=\"10.0.26100.{}\" processorArchitecture=\"amd64\" language=\"neutral\" buildType=\"release\" publicKeyToken=\"31bf3856ad364e35\" versionScope=\"nonSxS\" />\r\n",
                word(rng), word(rng), rng.range(1, 4000)
            ));
            "</assembly>\r\n"
        }
        Kind::Xml => {
            out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n");
            out.push_str(&format!(
                "<Configuration xmlns=\"http://schemas.microsoft.com/{}/2019\">\r\n",
                word(rng)
            ));
            "</Configuration>\r\n"
        }
        Kind::Admx => {
            out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<policyDefinitions xmlns=\"http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions\" revision=\"1.0\" schemaVersion=\"1.0\">\r\n  <policies>\r\n");
            "  </policies>\r\n</policyDefinitions>\r\n"
        }
        Kind::Inf => {
            out.push_str(&format!(
                ";\r\n; {}.inf\r\n;\r\n[Version]\r\nSignature=\"$WINDOWS NT$\"\r\nClass={}\r\nClassGuid={}\r\nProvider=%MSFT%\r\nDriverVer=06/21/2006,10.0.26100.1\r\n\r\n",
                word(rng), rng.pick(PASCAL), guid(rng)
            ));
            ""
        }
        Kind::Json => {
            out.push_str("{\r\n  \"schemaVersion\": 2,\r\n  \"items\": [\r\n");
            "    {\"name\": \"end\", \"enabled\": false}\r\n  ]\r\n}\r\n"
        }
        Kind::Cmd => {
            out.push_str("@echo off\r\nsetlocal enableextensions\r\n");
            "endlocal\r\nexit /b 0\r\n"
        }
        Kind::Ps1 => {
            out.push_str(
                "#Requires -Version 5.1\r\nSet-StrictMode -Version Latest\r\n$ErrorActionPreference = 'Stop'\r\n\r\n",
            );
            ""
        }
        Kind::Vbs => {
            out.push_str("Option Explicit\r\n\r\n");
            ""
        }
        _ => "",
    };
    let target = size.saturating_sub(closing.len());
    let mut line_no = 0u64;
    while out.len() < target {
        line_no += 1;
        body_line(kind, rng, line_no, &mut out);
    }
    out.push_str(closing);
    out
}

fn body_line(kind: Kind, rng: &mut Rng, line_no: u64, out: &mut String) {
    let line = match kind {
        Kind::Manifest => manifest_line(rng),
        Kind::Xml => xml_line(rng, line_no),
        Kind::Admx => admx_policy_line(rng),
        Kind::Inf => inf_line(rng, line_no),
        Kind::Log => cbs_log_line(rng),
        Kind::Txt => {
            let mut s = sentence(rng, 6, 16);
            s.push_str(".\r\n");
            s
        }
        Kind::Ini => ini_line(rng, line_no),
        Kind::Json => json_line(rng, line_no),
        Kind::Cmd | Kind::Ps1 | Kind::Vbs => script_line(kind, rng),
        _ => String::new(),
    };
    out.push_str(&line);
}

/// One line of a component manifest: a file, a registry value or a dependency.
fn manifest_line(rng: &mut Rng) -> String {
    match rng.below(3) {
        0 => format!(
            "  <file name=\"{w}{v}.dll\" destinationPath=\"$(runtime.system32)\\\" sourceName=\"{w}{v}.dll\" importPath=\"$(build.nttree)\\\"><asmv2:hash xmlns:asmv2=\"urn:schemas-microsoft-com:asm.v2\"><dsig:DigestValue xmlns:dsig=\"http://www.w3.org/2000/09/xmldsig#\">{h}</dsig:DigestValue></asmv2:hash></file>\r\n",
            w = word(rng),
            v = word(rng),
            h = hex(rng, 44)
        ),
        1 => format!(
            "  <registryKey keyName=\"HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\{}\\{}\"><registryValue name=\"{}\" valueType=\"REG_DWORD\" value=\"0x{}\" /></registryKey>\r\n",
            rng.pick(PASCAL),
            pascal_name(rng),
            rng.pick(PASCAL),
            hex(rng, 8)
        ),
        _ => format!(
            "  <dependency discoverable=\"no\"><dependentAssembly dependencyType=\"install\"><assemblyIdentity name=\"Microsoft-Windows-{}\" version=\"10.0.26100.1\" processorArchitecture=\"amd64\" /></dependentAssembly></dependency>\r\n",
            word(rng)
        ),
    }
}

fn xml_line(rng: &mut Rng, line_no: u64) -> String {
    format!(
        "  <{p} id=\"{n}\" name=\"{w}\" enabled=\"{e}\" value=\"{v}\">{s}</{p}>\r\n",
        p = rng.pick(PASCAL),
        n = line_no,
        w = word(rng),
        e = rng.chance(0.5),
        v = guid(rng),
        s = sentence(rng, 2, 10)
    )
}

fn admx_policy_line(rng: &mut Rng) -> String {
    format!(
        "    <policy name=\"{n}\" class=\"Machine\" displayName=\"$(string.{n})\" key=\"Software\\Policies\\Microsoft\\Windows\\{w}\" valueName=\"{v}\"><parentCategory ref=\"{w}\" /><supportedOn ref=\"windows:SUPPORTED_Windows10\" /></policy>\r\n",
        n = pascal_name(rng),
        w = rng.pick(PASCAL),
        v = pascal_name(rng)
    )
}

/// A section header every twelfth line, registry directives between.
fn inf_line(rng: &mut Rng, line_no: u64) -> String {
    if line_no % 12 == 1 {
        format!("\r\n[{}.{}.NT$ARCH$]\r\n", rng.pick(PASCAL), word(rng))
    } else {
        format!(
            "HKR,,{},0x{:08x},\"%SystemRoot%\\System32\\drivers\\{}.sys\"\r\n",
            pascal_name(rng),
            rng.below(0x10000),
            word(rng)
        )
    }
}

/// A line in the style of `CBS.log`, the servicing log.
fn cbs_log_line(rng: &mut Rng) -> String {
    format!(
        "2026-11-{:02} {:02}:{:02}:{:02}, Info                  CBS    {} {} package: Microsoft-Windows-{}-Package~31bf3856ad364e35~amd64~~10.0.26100.{} [HRESULT = 0x00000000 - S_OK]\r\n",
        rng.range(1, 28),
        rng.below(24),
        rng.below(60),
        rng.below(60),
        rng.pick(PASCAL),
        word(rng),
        word(rng),
        rng.range(1, 4000)
    )
}

/// A section header every eighth line, `name=value` between.
fn ini_line(rng: &mut Rng, line_no: u64) -> String {
    if line_no % 8 == 1 {
        format!("\r\n[{}]\r\n", pascal_name(rng))
    } else {
        format!("{}={}\r\n", rng.pick(PASCAL), word(rng))
    }
}

fn json_line(rng: &mut Rng, line_no: u64) -> String {
    format!(
        "    {{\"name\": \"{}\", \"id\": \"{}\", \"order\": {}, \"description\": \"{}\"}},\r\n",
        pascal_name(rng),
        guid(rng),
        line_no,
        sentence(rng, 3, 8)
    )
}

/// A comment and a statement of a batch, PowerShell or VBS file.
fn script_line(kind: Kind, rng: &mut Rng) -> String {
    match kind {
        Kind::Cmd => format!(
            "rem {}\r\nif exist \"%~dp0{}.{}\" call \"%~dp0{}.cmd\" {}\r\n",
            sentence(rng, 5, 5),
            word(rng),
            word(rng),
            word(rng),
            word(rng)
        ),
        Kind::Ps1 => format!(
            "function {}-{} {{\r\n    param([string]$Name = '{}')\r\n    # {}\r\n    Get-ItemProperty -Path 'HKLM:\\SOFTWARE\\Microsoft\\{}' -Name $Name -ErrorAction SilentlyContinue\r\n}}\r\n",
            rng.pick(PASCAL),
            rng.pick(PASCAL),
            word(rng),
            sentence(rng, 6, 6),
            rng.pick(PASCAL)
        ),
        Kind::Vbs => format!(
            "' {}\r\nDim {}: Set {} = CreateObject(\"WScript.Shell\")\r\n",
            sentence(rng, 6, 6),
            rng.pick(PASCAL),
            rng.pick(PASCAL)
        ),
        _ => String::new(),
    }
}

fn utf16le_with_bom(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        out.extend_from_slice(&unit.to_le_bytes());
    }
    out
}

/// Inserts `line` at the first line start at or after the middle of `text`.
fn insert_line(text: &mut String, line: &str) {
    let middle = text.len() / 2;
    let at = text[middle..].find('\n').map(|i| middle + i + 1).unwrap_or(text.len());
    // XML files close their root on the last line; the middle is always before it.
    text.insert_str(at, &format!("{line}\r\n"));
}

/// The bytes of one file of `kind`, about `size` bytes long, with `plant` in it.
pub(crate) fn generate(kind: Kind, size: u64, rng: &mut Rng, plant: Option<&Plant>) -> Vec<u8> {
    let size = size as usize;
    match plant {
        Some(Plant::Whole { text, utf16 }) => {
            if *utf16 {
                utf16le_with_bom(text)
            } else {
                text.clone().into_bytes()
            }
        }
        Some(Plant::Line(line)) => {
            let mut body = text(kind, size, rng);
            insert_line(&mut body, line);
            body.into_bytes()
        }
        Some(Plant::Binary { key, utf16, offset }) => {
            let mut buf = binary(kind, size, rng);
            plant_binary(&mut buf, key, *utf16, *offset);
            buf
        }
        None if kind.is_text() => text(kind, size, rng).into_bytes(),
        None => binary(kind, size, rng),
    }
}

/// A random language folder name, as under `System32`.
pub(crate) fn language(rng: &mut Rng) -> &'static str {
    rng.pick(LANGS)
}

/// A random word, for names.
pub(crate) fn name_word(rng: &mut Rng) -> &'static str {
    word(rng)
}

/// A random hexadecimal string, for names.
pub(crate) fn name_hex(rng: &mut Rng, digits: usize) -> String {
    hex(rng, digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binaries_have_the_requested_size_and_mix_strings_with_noise() {
        let mut rng = Rng::new(3);
        let pe = generate(Kind::Pe, 200_000, &mut rng, None);
        assert_eq!(pe.len(), 200_000);
        assert_eq!(&pe[..2], b"MZ");
        let zeros = pe.iter().filter(|b| **b == 0).count();
        assert!(zeros > 20_000 && zeros < 150_000, "zeros {zeros}");
    }

    #[test]
    fn planted_binary_key_is_nul_delimited_in_both_encodings() {
        let key = crate::keys::SYNTHETIC_MAKS[0];
        let mut rng = Rng::new(4);
        let ascii = generate(
            Kind::Pe,
            10_000,
            &mut rng,
            Some(&Plant::Binary {
                key,
                utf16: false,
                offset: 5000,
            }),
        );
        assert_eq!(&ascii[5002..5002 + 29], key.as_bytes());
        assert_eq!(ascii[5001], 0);
        let wide = generate(
            Kind::Pe,
            10_000,
            &mut rng,
            Some(&Plant::Binary {
                key,
                utf16: true,
                offset: 5000,
            }),
        );
        let expected: Vec<u8> = key.bytes().flat_map(|b| [b, 0]).collect();
        assert_eq!(&wide[5002..5002 + 58], expected.as_slice());
    }

    #[test]
    fn xml_and_json_close_their_root_and_a_planted_line_lands_inside() {
        let mut rng = Rng::new(5);
        let xml = String::from_utf8(generate(
            Kind::Xml,
            5000,
            &mut rng,
            Some(&Plant::Line("<K>x</K>".into())),
        ))
        .unwrap();
        assert!(xml.ends_with("</Configuration>\r\n"));
        let at = xml.find("<K>x</K>\r\n").unwrap();
        assert!(at > 100 && at < xml.len() - 20);
        let json = String::from_utf8(generate(Kind::Json, 3000, &mut rng, None)).unwrap();
        assert!(json.starts_with('{') && json.trim_end().ends_with('}'));
    }

    #[test]
    fn whole_utf16_plant_has_a_bom() {
        let mut rng = Rng::new(6);
        let bytes = generate(
            Kind::Ps1,
            0,
            &mut rng,
            Some(&Plant::Whole {
                text: "ab".into(),
                utf16: true,
            }),
        );
        assert_eq!(bytes, vec![0xFF, 0xFE, b'a', 0, b'b', 0]);
    }
}
