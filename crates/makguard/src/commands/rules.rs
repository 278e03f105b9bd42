//! `makguard rules` (the rule table, or with `--markdown` the generated docs/rules.md) and
//! `makguard explain CODE|NAME`.

use anyhow::bail;
use makguard_core::rules;

use crate::cli::{ExplainArgs, RulesArgs};

pub fn run_rules(args: &RulesArgs) -> anyhow::Result<u8> {
    if args.markdown {
        print!("{}", rules::reference_markdown());
        return Ok(0);
    }
    let name_width = rules::ALL.iter().map(|r| r.name.len()).max().unwrap_or(0);
    println!("{:<6} {:<name_width$} {:<8} SUMMARY", "CODE", "NAME", "SEVERITY");
    for rule in rules::ALL {
        let retired = if rule.retired { " (retired)" } else { "" };
        println!(
            "{:<6} {:<name_width$} {:<8} {}{retired}",
            rule.code, rule.name, rule.default_severity, rule.summary
        );
    }
    Ok(0)
}

pub fn run_explain(args: &ExplainArgs) -> anyhow::Result<u8> {
    let Some(rule) = rules::find(args.rule.trim()) else {
        bail!("unknown rule '{}'; `makguard rules` lists them", args.rule.trim());
    };
    let fixable = if rule.fixable {
        "fixable by `makguard fix`"
    } else {
        "not fixable by editing files"
    };
    println!("{} {}", rule.code, rule.name);
    println!("default severity: {}; {fixable}", rule.default_severity);
    println!();
    println!("{}.", rule.summary);
    println!();
    println!("{}", rule.doc);
    Ok(0)
}
