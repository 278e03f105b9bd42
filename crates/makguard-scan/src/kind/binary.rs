//! Any other file, searched only with `--deep`, as bytes; no name gives this kind, the walk
//! does.

use makguard_core::Finding;

use super::{FileKind, KindSpec, NameRules, Scanner};
use crate::FileContext;

pub(super) const KIND: KindSpec = KindSpec {
    kind: FileKind::Binary,
    name: "binary",
    names: NameRules::NONE,
    refined_by_content: false,
    sniff: None,
    scanner: Scanner::Bytes(scan),
    strong_candidate: false,
};

fn scan(bytes: &[u8], ctx: &FileContext<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    if let Err(error) = crate::binary::scan_reader(bytes, ctx, &mut findings) {
        findings.push(crate::unreadable_finding(ctx.path, &error));
    }
    findings
}
