//! `makguard completions SHELL` and the hidden `makguard manpages DIR`: shell completion
//! scripts and man pages generated from the clap definitions in [`crate::cli`], so they cannot
//! drift from the options. docs/man/ holds the committed pages; a test regenerates and compares.

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManpagesArgs};

pub(crate) fn run_completions(args: &CompletionsArgs) -> u8 {
    let mut command = Cli::command();
    let mut stdout = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut command, "makguard", &mut stdout);
    0
}

pub(crate) fn run_manpages(args: &ManpagesArgs) -> anyhow::Result<u8> {
    std::fs::create_dir_all(&args.out_dir).with_context(|| format!("cannot create {}", args.out_dir.display()))?;
    for (name, page) in man_pages()? {
        let file = args.out_dir.join(name);
        crate::output::write_file(&file, &page).with_context(|| format!("cannot write {}", file.display()))?;
    }
    Ok(0)
}

/// Every man page: `makguard.1`, then `makguard-COMMAND.1` for each visible subcommand.
pub(crate) fn man_pages() -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let command = Cli::command();
    let mut pages = vec![("makguard.1".to_string(), render_page(command.clone())?)];
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        // clap names a command with a `&'static str`; a handful of pages, once per run.
        let name: &'static str = Box::leak(format!("makguard-{}", sub.get_name()).into_boxed_str());
        let page = sub.clone().name(name).version(env!("CARGO_PKG_VERSION"));
        pages.push((format!("{name}.1"), render_page(page)?));
    }
    Ok(pages)
}

fn render_page(command: clap::Command) -> anyhow::Result<Vec<u8>> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command).render(&mut page)?;
    Ok(page)
}
