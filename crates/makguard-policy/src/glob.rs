//! The policy's glob dialect, shared by `[scan] include`/`exclude` and `[[allow]] path`:
//! globset syntax over the `/`-separated path relative to the scanned root, matched
//! case-insensitively (Windows paths are, in a mounted tree, a WIM image or an answer-file
//! folder alike), with `\` accepted as a separator because Windows users write it.
//!
//! The price of accepting `\`: it cannot escape a glob character. Write `[*]`, `[?]`, `[[]`
//! for a literal `*`, `?`, `[`.

use globset::{Glob, GlobBuilder};

/// The pattern as the scanner and the matcher see it: every `\` turned into `/`.
pub fn normalize(pattern: &str) -> String {
    pattern.replace('\\', "/")
}

/// Compiles a policy glob (after [`normalize`]), case-insensitively.
///
/// # Errors
///
/// globset's error when the pattern is not a valid glob.
pub fn compile(pattern: &str) -> Result<Glob, globset::Error> {
    GlobBuilder::new(&normalize(pattern)).case_insensitive(true).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, path: &str) -> bool {
        compile(pattern).unwrap().compile_matcher().is_match(path)
    }

    #[test]
    fn backslash_and_slash_are_the_same_separator() {
        assert!(matches(r"Windows\WinSxS\**", "Windows/WinSxS/amd64_x/file.xml"));
        assert!(matches("Windows/WinSxS/**", "Windows/WinSxS/amd64_x/file.xml"));
        assert!(matches(r"sources\*.xml", "sources/unattend.xml"));
        assert!(!matches(r"sources\*.xml", "other/unattend.xml"));
    }

    #[test]
    fn matching_ignores_case() {
        assert!(matches(r"windows\winsxs\**", "Windows/WinSxS/a"));
        assert!(matches("Sources/*.XML", "sources/unattend.xml"));
    }

    #[test]
    fn glob_characters_are_escaped_by_classes() {
        assert!(matches("a[*]b", "a*b"));
        assert!(!matches("a[*]b", "axb"));
        assert!(compile("a/[b").is_err());
    }
}
