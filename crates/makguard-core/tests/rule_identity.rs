//! Code asks a rule what it is (`rule.category`, `rule.product`, `rule.fixability`,
//! `rule.is_incomplete_scan()`) or which rule it is (`finding.rule == &rules::X`), never what
//! its code string looks like: a repository check over the library and binary sources
//! outside tests. Only the registry itself (`makguard-core/src/rules.rs`) reads codes.

use std::path::{Path, PathBuf};

fn rust_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_sources(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The part of a source file before its unit tests.
fn non_test_part(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |at| &text[..at])
}

/// True when `line` uses a rule's code string to decide something: compares a `.code`,
/// matches on one, looks inside one, or tests a code's prefix. Looking a code up in a table
/// keyed by code (a policy's severity overrides) is not deciding by its spelling.
fn tests_a_code(line: &str) -> bool {
    let compares = line.contains("==") || line.contains("!=");
    let decides_on_code_field = line.match_indices(".code").any(|(at, found)| {
        let rest = &line[at + found.len()..];
        if rest.starts_with(|next: char| next.is_ascii_alphanumeric() || next == '_') {
            return false;
        }
        compares
            || [" {", ".as_bytes", ".starts_with", ".chars", ".bytes", "["]
                .iter()
                .any(|inside| rest.starts_with(inside))
    });
    decides_on_code_field || line.contains("starts_with(\"MG")
}

#[test]
fn no_source_outside_the_registry_tests_a_rule_by_its_code() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut sources = Vec::new();
    for krate in std::fs::read_dir(&crates).unwrap() {
        let src = krate.unwrap().path().join("src");
        if src.is_dir() {
            rust_sources(&src, &mut sources);
        }
    }
    assert!(
        sources.len() > 50,
        "found only {} sources under {}",
        sources.len(),
        crates.display()
    );
    let registry = Path::new("makguard-core").join("src").join("rules.rs");
    let mut offenders = Vec::new();
    for path in &sources {
        if path.ends_with(&registry) {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap();
        for (number, line) in non_test_part(&text).lines().enumerate() {
            if tests_a_code(line) {
                offenders.push(format!("{}:{}: {}", path.display(), number + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "ask the rule (category, product, fixability, identity) instead of testing its code:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_check_recognises_code_tests() {
    for line in [
        "if finding.rule.code == rules::MAK_INSTALLED.code {",
        "code if code == rules::CSVLK_INSTALLED.code => Some(KeyClass::Csvlk),",
        "&& rule.code != finding.rule.code",
        "let area = match rule.code.as_bytes().get(2) {",
        "match finding.rule.code {",
        "rule.code.starts_with(\"MG9\")",
        "codes.iter().any(|c| c.starts_with(\"MG9\"))",
    ] {
        assert!(tests_a_code(line), "{line}");
    }
    for line in [
        "if finding.rule == &rules::MAK_INSTALLED {",
        "println!(\"{} {}\", rule.code, rule.name);",
        "let width = point.code_point == other;",
        "rule.category == Category::IncompleteScan",
        ".retain_mut(|finding| match self.severity.get(finding.rule.code) {",
    ] {
        assert!(!tests_a_code(line), "{line}");
    }
}
