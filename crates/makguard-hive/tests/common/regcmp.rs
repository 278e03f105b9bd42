//! Renders our reader's view of a hive the way `reglookup` prints it and
//! compares the two line by line.
//!
//! reglookup prints CSV lines `path,type,value,mtime` in depth-first order,
//! values right after their key, in stored order, so the two walks are
//! compared line by line. Our side renders its data the way reglookup does
//! (reglookup 1.0, run with `LC_ALL=C` so its iconv conversions are stable):
//!
//! * bytes below 0x20, above 0x7E and "special" bytes are written `%XX`;
//!   special are `,"%/` in key and value names, `,"%` in NONE / BINARY /
//!   RSRC_* data, and `,"%|` inside `MULTI_SZ` elements and in any data
//!   reglookup could not interpret (printed as raw bytes, see below);
//! * names are converted to ASCII; a name that cannot be converted (any
//!   non-ASCII character) is printed as its raw stored bytes — Latin-1 for
//!   "compressed" names, UTF-16LE otherwise — so for such names both renderings
//!   of our decoded name are candidates;
//! * SZ / `EXPAND_SZ` / LINK data is converted from UTF-16LE as a whole and
//!   printed up to the first NUL; if the whole buffer is not ASCII-convertible
//!   (odd length, any non-ASCII unit) the raw bytes are printed instead;
//! * `MULTI_SZ` likewise, elements joined with `|`;
//! * DWORD / `DWORD_BE` / QWORD print `0x%08X` / `0x%016X` of the leading
//!   bytes when there are enough of them, raw bytes otherwise;
//! * NONE, BINARY and RSRC_* print their bytes; unknown types print raw
//!   bytes with a `0x%08X` type column; empty data prints `(null)`.

use std::path::Path;
use std::process::Command;

use makguard_hive::{Hive, Key, ValueData};

const NAME_SPECIAL: &[u8] = b",\"%/";
const DATA_SPECIAL: &[u8] = b",\"%";
const SUBFIELD_SPECIAL: &[u8] = b",\"%|";

fn quote(bytes: &[u8], special: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if !(0x20..=0x7E).contains(&b) || special.contains(&b) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(char::from(b));
        }
    }
    out
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// How reglookup may print a key or value name we decoded as `name`.
fn name_candidates(name: &str) -> Vec<String> {
    // reglookup treats names as C strings after conversion.
    let upto_nul: String = name.chars().take_while(|&c| c != '\0').collect();
    if name.is_ascii() {
        return vec![quote(upto_nul.as_bytes(), NAME_SPECIAL)];
    }
    let mut out = Vec::new();
    if upto_nul.chars().all(|c| u32::from(c) <= 0xFF) {
        let latin1: Vec<u8> = upto_nul.chars().map(|c| u32::from(c) as u8).collect();
        out.push(quote(&latin1, NAME_SPECIAL));
    }
    out.push(quote(&utf16le(name), NAME_SPECIAL));
    out
}

fn type_name(t: u32) -> String {
    const NAMES: [&str; 12] = [
        "NONE",
        "SZ",
        "EXPAND_SZ",
        "BINARY",
        "DWORD",
        "DWORD_BE",
        "LINK",
        "MULTI_SZ",
        "RSRC_LIST",
        "RSRC_DESC",
        "RSRC_REQ_LIST",
        "QWORD",
    ];
    usize::try_from(t)
        .ok()
        .and_then(|i| NAMES.get(i))
        .map_or_else(|| format!("0x{t:08X}"), |s| (*s).to_string())
}

/// The UTF-16LE buffer as ASCII bytes, when every unit is ASCII (what a
/// successful whole-buffer iconv conversion yields).
fn ascii_units(d: &[u8]) -> Option<Vec<u8>> {
    if !d.len().is_multiple_of(2) {
        return None;
    }
    d.chunks_exact(2)
        .map(|p| (p[1] == 0 && p[0] < 0x80).then_some(p[0]))
        .collect()
}

/// How reglookup prints data `d` of type `t`.
fn render_data(t: u32, d: &[u8]) -> String {
    if d.is_empty() {
        return "(null)".to_string();
    }
    // Data reglookup could not interpret is quoted with `|` special too.
    let raw = || quote(d, SUBFIELD_SPECIAL);
    match t {
        1 | 2 | 6 => match ascii_units(d) {
            Some(a) => {
                let end = a.iter().position(|&b| b == 0).unwrap_or(a.len());
                quote(&a[..end], DATA_SPECIAL)
            }
            None => raw(),
        },
        7 => match ascii_units(d) {
            Some(a) => {
                // Elements start at offset 0 and after every NUL that is
                // followed by a non-NUL; each runs to the next NUL.
                let mut starts = vec![0usize];
                for i in 0..a.len() {
                    if a[i] == 0 && i + 1 < a.len() && a[i + 1] != 0 {
                        starts.push(i + 1);
                    }
                }
                let mut out = String::new();
                for (i, &s) in starts.iter().enumerate() {
                    let end = a[s..].iter().position(|&b| b == 0).map_or(a.len(), |p| s + p);
                    let q = quote(&a[s..end], SUBFIELD_SPECIAL);
                    if !q.is_empty() {
                        if i > 0 {
                            out.push('|');
                        }
                        out.push_str(&q);
                    }
                }
                out
            }
            None => raw(),
        },
        4 if d.len() >= 4 => format!("0x{:08X}", u32::from_le_bytes([d[0], d[1], d[2], d[3]])),
        5 if d.len() >= 4 => format!("0x{:08X}", u32::from_be_bytes([d[0], d[1], d[2], d[3]])),
        11 if d.len() >= 8 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&d[..8]);
            format!("0x{:016X}", u64::from_le_bytes(b))
        }
        0 | 3 | 8 | 9 | 10 => quote(d, DATA_SPECIAL),
        _ => raw(),
    }
}

/// One line of our walk, in reglookup's order.
enum Item {
    Key {
        path: Vec<String>,
    },
    Value {
        key_path: Vec<String>,
        name: String,
        value_type: u32,
        data: Result<Vec<u8>, String>,
        typed: Result<ValueData, String>,
    },
}

fn our_walk(hive: &Hive) -> Vec<Item> {
    let mut items = Vec::new();
    let mut stack: Vec<(Key<'_>, Vec<String>)> = vec![(hive.root().expect("root key"), Vec::new())];
    while let Some((key, path)) = stack.pop() {
        items.push(Item::Key { path: path.clone() });
        for v in key.values().expect("values") {
            items.push(Item::Value {
                key_path: path.clone(),
                name: v.name(),
                value_type: v.value_type(),
                data: v.raw_data().map_err(|e| e.to_string()),
                typed: v.data().map_err(|e| e.to_string()),
            });
        }
        let subs = key.subkeys().expect("subkeys");
        for sub in subs.into_iter().rev() {
            let mut p = path.clone();
            p.push(sub.name());
            stack.push((sub, p));
        }
    }
    items
}

fn components(p: &str) -> Vec<&str> {
    if p == "/" {
        Vec::new()
    } else {
        p.strip_prefix('/').unwrap_or(p).split('/').collect()
    }
}

fn path_matches(ours: &[String], theirs: &[&str]) -> bool {
    ours.len() == theirs.len()
        && ours
            .iter()
            .zip(theirs)
            .all(|(o, t)| name_candidates(o).iter().any(|c| c == t))
}

fn check_line(item: &Item, line: &str) -> Result<(), String> {
    let fields: Vec<&str> = line.split(',').collect();
    if fields.len() != 4 {
        return Err(format!("unexpected reglookup line shape: {line:.200}"));
    }
    match item {
        Item::Key { path } => {
            if fields[1] != "KEY" || !path_matches(path, &components(fields[0])) {
                return Err(format!("key {path:?} vs reglookup {:.200}", fields[0]));
            }
        }
        Item::Value {
            key_path,
            name,
            value_type,
            data,
            typed,
        } => {
            let full = fields[0];
            let cut = full.rfind('/').ok_or("value line without '/'")?;
            let (prefix, their_name) = (&full[..cut.max(1)], &full[cut + 1..]);
            if !path_matches(key_path, &components(prefix)) || !name_candidates(name).iter().any(|c| c == their_name) {
                return Err(format!("value {key_path:?}/{name:?} vs reglookup {full:.200}"));
            }
            if fields[1] != type_name(*value_type) {
                return Err(format!("type of {full:.200}: ours {value_type}, theirs {}", fields[1]));
            }
            let data = data
                .as_ref()
                .map_err(|e| format!("our data for {full:.200} failed: {e}"))?;
            let ours = render_data(*value_type, data);
            if ours != fields[2] {
                return Err(format!(
                    "data of {full:.200}:\n  ours   {ours:.300}\n  theirs {:.300}",
                    fields[2]
                ));
            }
            // The typed decoding must say the same thing where reglookup
            // interprets the data too.
            let typed = typed
                .as_ref()
                .map_err(|e| format!("our typed data for {full:.200} failed: {e}"))?;
            if let Some(expected) = render_typed(data, typed)
                && expected != fields[2]
            {
                return Err(format!(
                    "typed data of {full:.200}:\n  ours   {expected:.300}\n  theirs {:.300}",
                    fields[2]
                ));
            }
        }
    }
    Ok(())
}

/// reglookup's rendering rebuilt from our typed value, where reglookup also
/// interprets the data (strings only when the whole buffer is ASCII).
fn render_typed(raw: &[u8], typed: &ValueData) -> Option<String> {
    let ascii = ascii_units(raw).is_some() && !raw.is_empty();
    match typed {
        ValueData::Sz(s) | ValueData::ExpandSz(s) if ascii => Some(quote(s.as_bytes(), DATA_SPECIAL)),
        ValueData::MultiSz(list) if ascii => {
            let mut out = String::new();
            for (i, el) in list.iter().enumerate() {
                if !el.is_empty() {
                    if i > 0 {
                        out.push('|');
                    }
                    out.push_str(&quote(el.as_bytes(), SUBFIELD_SPECIAL));
                }
            }
            Some(out)
        }
        ValueData::Dword(v) | ValueData::DwordBigEndian(v) => Some(format!("0x{v:08X}")),
        ValueData::Qword(v) => Some(format!("0x{v:016X}")),
        ValueData::Binary(b) if !b.is_empty() => Some(quote(b, DATA_SPECIAL)),
        ValueData::None => Some("(null)".to_string()),
        _ => None,
    }
}

/// Runs reglookup on the hive at `path` and asserts that our walk agrees
/// with every line it prints. Returns the number of keys and values compared.
pub(crate) fn assert_agrees(path: &Path, name: &str) -> (usize, usize) {
    let out = Command::new("reglookup")
        .arg("-H")
        .arg(path)
        .env("LC_ALL", "C")
        .output()
        .expect("run reglookup");
    assert!(out.status.success(), "reglookup failed on {name}");
    let stdout = String::from_utf8(out.stdout).expect("reglookup output is ASCII");
    let lines: Vec<&str> = stdout.lines().collect();

    let hive = Hive::open(path).expect("open hive");
    let items = our_walk(&hive);

    let mut problems = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(line) = lines.get(i) else {
            problems.push(format!(
                "reglookup printed only {} lines, we have {}",
                lines.len(),
                items.len()
            ));
            break;
        };
        if let Err(e) = check_line(item, line) {
            problems.push(format!("line {}: {e}", i + 1));
            if problems.len() >= 10 {
                break;
            }
        }
    }
    if lines.len() > items.len() {
        problems.push(format!(
            "reglookup printed {} lines, we produced {}; first extra: {:.200}",
            lines.len(),
            items.len(),
            lines[items.len()]
        ));
    }
    let keys = items.iter().filter(|i| matches!(i, Item::Key { .. })).count();
    eprintln!("{name}: {keys} keys, {} values compared", items.len() - keys);
    assert!(
        problems.is_empty(),
        "{name} disagrees with reglookup:\n{}",
        problems.join("\n")
    );
    (keys, items.len() - keys)
}
