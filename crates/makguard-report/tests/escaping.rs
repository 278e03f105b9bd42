//! GitHub workflow-command escaping and Markdown table escaping, through the public API and
//! through rendered reports.

mod common;

use common::*;
use makguard_core::{LineColumn, Span};
use makguard_report::{Format, github_escape_data, github_escape_property, markdown_escape_cell, render};

#[test]
fn github_data_escaping() {
    assert_eq!(github_escape_data("100% done\r\nnext"), "100%25 done%0D%0Anext");
    assert_eq!(github_escape_data("a:b,c"), "a:b,c");
    // `%` first, so an already escaped-looking sequence is escaped again, not passed through.
    assert_eq!(github_escape_data("%0A"), "%250A");
}

#[test]
fn github_property_escaping() {
    assert_eq!(github_escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    assert_eq!(github_escape_property("C:\\img\\x,y.xml"), "C%3A\\img\\x%2Cy.xml");
}

#[test]
fn annotations_are_well_formed() {
    let output = render(Format::Github, &sample_report("build/mount"), &options());
    let lines: Vec<&str> = output.lines().collect();
    let commands: Vec<&str> = lines.iter().copied().filter(|l| l.starts_with("::")).collect();
    assert_eq!(commands.len(), 8);
    for command in &commands {
        let rest = command.strip_prefix("::").unwrap();
        let (head, message) = rest.split_once("::").expect("command::message");
        let (kind, properties) = head.split_once(' ').expect("kind and properties");
        assert!(matches!(kind, "error" | "warning" | "notice"), "{command}");
        assert!(!message.contains('\n') && !message.contains('\r'));
        for property in properties.split(',') {
            let (name, value) = property.split_once('=').expect("name=value");
            assert!(matches!(name, "file" | "line" | "col" | "title"), "{command}");
            assert!(!value.contains(':') && !value.contains(','), "{command}");
        }
    }
    let mak = commands
        .iter()
        .find(|c| c.contains("MG101"))
        .expect("the MAK finding is annotated");
    let fingerprint = makguard_core::ProductKey::parse(SYNTHETIC_MAK).unwrap().fingerprint();
    assert!(mak.starts_with(
        "::error file=build/mount/Windows/Panther/unattend.xml,line=41,col=25,title=MG101 unattend-non-kms-key::"
    ));
    assert!(mak.contains(&format!("%0Akey *****-*****-*****-*****-3PPQC {fingerprint}%0A")));
    assert!(mak.contains(&format!("fix (safe): write {ENTERPRISE_GVLK}")));
    // No line: no line or col property.
    assert!(commands.iter().any(|c| {
        c.starts_with("::error file=build/mount/Windows/System32/config/SOFTWARE,title=MG301 mak-installed::")
    }));
    // Suppressed: a notice, marked, with the escaped justification.
    let suppressed = commands.iter().find(|c| c.contains("SetupComplete.cmd")).unwrap();
    assert!(suppressed.starts_with("::notice "));
    assert!(suppressed.contains("title=MG201 script-installs-key (suppressed)::"));
    assert!(suppressed.contains("approved MAK, ticket CHG-1234, 100%25 reviewed"));
    // Properties escape `,` and `%` in the non-UTF-8 path.
    assert!(
        commands
            .iter()
            .any(|c| c.contains("file=build/mount/Users/caf\u{FFFD}/notes%2C 50%25.txt,line=2,col=1"))
    );
    // A single-file root names the file itself.
    assert!(
        commands
            .iter()
            .any(|c| c.starts_with("::error file=answer-files/autounattend.xml,line=77,col=3,"))
    );
}

#[test]
fn markdown_cell_escaping() {
    assert_eq!(markdown_escape_cell("a | b"), "a \\| b");
    assert_eq!(markdown_escape_cell("one\ntwo"), "one<br>two");
    assert_eq!(markdown_escape_cell("<b>x</b>"), "&lt;b&gt;x&lt;/b&gt;");
}

#[test]
fn markdown_tables_keep_their_columns() {
    let output = render(Format::Markdown, &sample_report("build/mount"), &options());
    for line in output.lines().filter(|l| l.starts_with('|')) {
        let unescaped_pipes = line
            .match_indices('|')
            .filter(|(i, _)| *i == 0 || &line[i - 1..*i] != "\\")
            .count();
        assert_eq!(unescaped_pipes, 6, "a table row with a wrong number of cells: {line}");
    }
    assert!(output.contains("Lab server \\| no KMS reach"));
}

#[test]
fn markdown_tables_are_capped_for_step_summaries() {
    let mut report = clean_report();
    let template = report.findings[0].clone();
    report.findings = (1..=makguard_report::MARKDOWN_MAX_TABLE_ROWS as u32 + 100)
        .map(|line| {
            let mut finding = template.clone();
            finding.location.span = Span::Point(LineColumn { line, column: 1 });
            finding
        })
        .collect();
    let output = render(Format::Markdown, &report, &options());
    let rows = output.lines().filter(|l| l.starts_with("| [MG100]")).count();
    assert_eq!(rows, makguard_report::MARKDOWN_MAX_TABLE_ROWS);
    assert!(output.contains("…and 100 more"), "{output}");
}
