//! [`Key`]: key node (`nk`) parsing, subkey list resolution (`li`, `lf`,
//! `lh`, `ri`) and the cycle checks that keep traversal finite.
//!
//! Cycle safety has four layers:
//! * while resolving one subkey list, every list cell and every key offset
//!   may appear only once (catches `ri` loops and lists naming a key twice);
//! * every key remembers its ancestry, and a subkey that is the key itself or
//!   one of its ancestors is an error (catches loops through the tree);
//! * a subkey's parent field must point back at the key listing it, as
//!   Windows maintains it; so no key can hang under two parents, and a full
//!   walk visits each key node at most once;
//! * the hive-wide work budget bounds whatever is left.

use std::collections::HashSet;
use std::sync::Arc;

use crate::error::{HiveError, corrupt};
use crate::hive::{Cell, Hive};
use crate::text::{decode_latin1, decode_utf16le_all, names_equal};
use crate::value::Value;

/// Deepest key nesting accepted (Windows' own limit is 512 levels).
const MAX_DEPTH: u32 = 512;
/// `ri` lists point at leaf lists; one extra level is tolerated, more is not.
const MAX_INDEX_DEPTH: u32 = 2;
const NK_FIXED: usize = 0x4C;
const NK_FLAG_COMP_NAME: u16 = 0x0020;

/// A registry key. Cheap to clone; borrows the [`Hive`].
#[derive(Debug, Clone)]
pub struct Key<'h> {
    hive: &'h Hive,
    node: Node,
    /// Offsets of this key's ancestors (nearest first), for cycle checks.
    ancestors: Option<Arc<Link>>,
    depth: u32,
}

#[derive(Debug)]
struct Link {
    offset: u32,
    up: Option<Arc<Link>>,
}

#[derive(Debug, Clone)]
struct Node {
    offset: u32,
    parent: u32,
    subkey_count: u32,
    subkey_list: u32,
    value_count: u32,
    value_list: u32,
    name: String,
}

fn parse_nk(hive: &Hive, offset: u32) -> Result<Node, HiveError> {
    let cell = hive.cell(offset)?;
    if cell.signature() != b"nk" {
        return Err(corrupt(offset, "expected a key node (nk)"));
    }
    if cell.data.len() < NK_FIXED {
        return Err(corrupt(offset, "key node shorter than its fixed fields"));
    }
    let flags = cell.u16(0x02, "key node flags")?;
    let name_len = usize::from(cell.u16(0x48, "key name length")?);
    let raw_name = cell.bytes(NK_FIXED, name_len, "key name extends beyond its cell")?;
    let name = if flags & NK_FLAG_COMP_NAME != 0 {
        decode_latin1(raw_name)
    } else {
        decode_utf16le_all(raw_name)
    };
    Ok(Node {
        offset,
        parent: cell.u32(0x10, "parent key offset")?,
        // Only stable subkeys exist on disk; the volatile count at 0x18 and
        // its list describe in-memory state and are ignored.
        subkey_count: cell.u32(0x14, "subkey count")?,
        subkey_list: cell.u32(0x1C, "subkey list offset")?,
        value_count: cell.u32(0x24, "value count")?,
        value_list: cell.u32(0x28, "value list offset")?,
        name,
    })
}

impl<'h> Key<'h> {
    pub(crate) fn root(hive: &'h Hive, offset: u32) -> Result<Key<'h>, HiveError> {
        Ok(Key {
            hive,
            node: parse_nk(hive, offset)?,
            ancestors: None,
            depth: 0,
        })
    }

    /// The key's own name (not its path). The root key's stored name is
    /// whatever the writer chose, often `ROOT` or a `$$$PROTO.HIV`-style name.
    pub fn name(&self) -> String {
        self.node.name.clone()
    }

    /// All subkeys, in stored (sorted) order. Any damage in the subkey list
    /// or in a listed key is an error for the whole call: a partial list
    /// would silently hide keys.
    ///
    /// # Errors
    ///
    /// [`HiveError::Corrupt`] when the subkey list or a listed key is damaged;
    /// [`HiveError::WorkBudgetExhausted`] once the work budget has run out;
    /// [`HiveError::Io`] when a hive read on demand from its file cannot be read.
    pub fn subkeys(&self) -> Result<Vec<Key<'h>>, HiveError> {
        self.subkey_offsets()?.into_iter().map(|off| self.child(off)).collect()
    }

    /// The subkey named `name` (case-insensitive), if any. Listed keys are
    /// checked in order; a damaged one before the match is an error.
    ///
    /// # Errors
    ///
    /// [`HiveError::Corrupt`] when the subkey list or a key checked before the
    /// match is damaged; [`HiveError::WorkBudgetExhausted`] once the work budget has run out;
    /// [`HiveError::Io`] when a hive read on demand from its file cannot be read.
    pub fn subkey(&self, name: &str) -> Result<Option<Key<'h>>, HiveError> {
        for off in self.subkey_offsets()? {
            let child = self.child(off)?;
            if names_equal(&child.node.name, name) {
                return Ok(Some(child));
            }
        }
        Ok(None)
    }

    /// All values, in stored order.
    ///
    /// # Errors
    ///
    /// [`HiveError::Corrupt`] when the value list or a listed value record is
    /// damaged; [`HiveError::WorkBudgetExhausted`] once the work budget has run out;
    /// [`HiveError::Io`] when a hive read on demand from its file cannot be read.
    pub fn values(&self) -> Result<Vec<Value<'h>>, HiveError> {
        self.value_offsets()?
            .into_iter()
            .map(|off| Value::parse(self.hive, off))
            .collect()
    }

    /// The value named `name` (case-insensitive); `""` is the key's default
    /// (unnamed) value.
    ///
    /// # Errors
    ///
    /// [`HiveError::Corrupt`] when the value list or a value record checked
    /// before the match is damaged; [`HiveError::WorkBudgetExhausted`] once the work budget has run out;
    /// [`HiveError::Io`] when a hive read on demand from its file cannot be read.
    pub fn value(&self, name: &str) -> Result<Option<Value<'h>>, HiveError> {
        for off in self.value_offsets()? {
            let value = Value::parse(self.hive, off)?;
            if names_equal(value.name_ref(), name) {
                return Ok(Some(value));
            }
        }
        Ok(None)
    }

    fn is_self_or_ancestor(&self, offset: u32) -> bool {
        if offset == self.node.offset {
            return true;
        }
        let mut link = self.ancestors.as_deref();
        while let Some(l) = link {
            if l.offset == offset {
                return true;
            }
            link = l.up.as_deref();
        }
        false
    }

    fn child(&self, offset: u32) -> Result<Key<'h>, HiveError> {
        if self.is_self_or_ancestor(offset) {
            return Err(corrupt(offset, "subkey is the key itself or one of its ancestors"));
        }
        let depth = self.depth + 1;
        if depth > MAX_DEPTH {
            return Err(corrupt(offset, "keys nested deeper than 512 levels"));
        }
        // Ancestry is O(depth) to check, and depth is capped, so cycle checks
        // cost at most MAX_DEPTH per key.
        self.hive.charge(u64::from(depth))?;
        let node = parse_nk(self.hive, offset)?;
        if node.parent != self.node.offset {
            return Err(corrupt(offset, "subkey's parent field does not point back to its key"));
        }
        Ok(Key {
            hive: self.hive,
            node,
            ancestors: Some(Arc::new(Link {
                offset: self.node.offset,
                up: self.ancestors.clone(),
            })),
            depth,
        })
    }

    fn subkey_offsets(&self) -> Result<Vec<u32>, HiveError> {
        let count = self.node.subkey_count;
        if count == 0 {
            return Ok(Vec::new());
        }
        let limit = usize::try_from(count)
            .ok()
            .filter(|&c| c <= self.hive.max_cells())
            .ok_or_else(|| corrupt(self.node.offset, "subkey count larger than the hive"))?;
        let mut out = Vec::new();
        let mut lists = HashSet::new();
        self.collect_list(self.node.subkey_list, 0, &mut lists, &mut out, limit)?;
        if out.len() != limit {
            return Err(corrupt(
                self.node.subkey_list,
                "subkey list holds fewer keys than the key node declares",
            ));
        }
        let mut seen = HashSet::with_capacity(out.len());
        for &off in &out {
            if !seen.insert(off) {
                return Err(corrupt(off, "subkey list names the same key twice"));
            }
        }
        Ok(out)
    }

    fn collect_list(
        &self,
        offset: u32,
        depth: u32,
        lists: &mut HashSet<u32>,
        out: &mut Vec<u32>,
        limit: usize,
    ) -> Result<(), HiveError> {
        if depth > MAX_INDEX_DEPTH {
            return Err(corrupt(offset, "subkey index nested too deeply"));
        }
        if !lists.insert(offset) {
            return Err(corrupt(offset, "subkey index refers back to itself"));
        }
        let cell = self.hive.cell(offset)?;
        let count = usize::from(cell.u16(2, "subkey list header")?);
        let (stride, is_root) = match cell.signature() {
            b"li" | b"ri" => (4, cell.signature() == b"ri"),
            b"lf" | b"lh" => (8, false),
            _ => return Err(corrupt(offset, "unknown subkey list signature")),
        };
        // count is a u16, so this cannot overflow.
        if 4 + count * stride > cell.data.len() {
            return Err(corrupt(offset, "subkey list longer than its cell"));
        }
        self.hive.charge(count as u64)?;
        for i in 0..count {
            let entry = cell.u32(4 + i * stride, "subkey list entry")?;
            if is_root {
                self.collect_list(entry, depth + 1, lists, out, limit)?;
            } else {
                out.push(entry);
                if out.len() > limit {
                    return Err(corrupt(
                        offset,
                        "subkey list holds more keys than the key node declares",
                    ));
                }
            }
        }
        Ok(())
    }

    fn value_offsets(&self) -> Result<Vec<u32>, HiveError> {
        let count = self.node.value_count;
        if count == 0 {
            return Ok(Vec::new());
        }
        let list: Cell<'h> = self.hive.cell(self.node.value_list)?;
        let n = usize::try_from(count)
            .ok()
            .filter(|&n| n.checked_mul(4).is_some_and(|b| b <= list.data.len()))
            .ok_or_else(|| corrupt(list.offset, "value list shorter than the value count"))?;
        self.hive.charge(n as u64)?;
        let mut seen = HashSet::with_capacity(n);
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let off = list.u32(i * 4, "value list entry")?;
            if !seen.insert(off) {
                return Err(corrupt(off, "value list names the same value twice"));
            }
            out.push(off);
        }
        Ok(out)
    }
}
