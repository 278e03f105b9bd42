//! `makguard rules` (the rule table, or with `--markdown` the generated docs/rules.md) and
//! `makguard explain CODE|NAME`.

use anyhow::bail;
use makguard_core::rules::{self, Rule, Status};

use crate::cli::{ExplainArgs, RulesArgs};

pub(crate) fn run_rules(args: &RulesArgs) -> u8 {
    if args.markdown {
        print!("{}", rules::reference_markdown());
        return 0;
    }
    let name_width = rules::ALL.iter().map(|r| r.name.len()).max().unwrap_or(0);
    println!("{:<6} {:<name_width$} {:<8} SUMMARY", "CODE", "NAME", "SEVERITY");
    for rule in rules::ALL {
        let retired = if rule.is_retired() { " (retired)" } else { "" };
        println!(
            "{:<6} {:<name_width$} {:<8} {}{retired}",
            rule.code, rule.name, rule.default_severity, rule.summary
        );
    }
    0
}

pub(crate) fn run_explain(args: &ExplainArgs) -> anyhow::Result<u8> {
    let Some(rule) = rules::find(args.rule.trim()) else {
        bail!("unknown rule '{}'; `makguard rules` lists them", args.rule.trim());
    };
    print!("{}", explanation(rule));
    Ok(0)
}

/// What `explain` prints: the facts about the rule, its summary and its doc sections.
fn explanation(rule: &Rule) -> String {
    let fixable = rule.fixability.phrase();
    let status = match rule.status {
        Status::Active => format!("since {}", rule.changed_in),
        Status::Retired { since } => format!("retired in {since}"),
    };
    let mut out = format!(
        "{} {}\ndefault severity: {}; {fixable}\ncategory: {}; product: {}; {status}\n\n{}.\n",
        rule.code, rule.name, rule.default_severity, rule.category, rule.product, rule.summary
    );
    for (title, text) in rule.doc_sections() {
        out.push_str(&format!("\n{title}\n{text}\n"));
    }
    out
}
