//! The command line: every subcommand, option and value parser, and the help text users read.
//!
//! Values that may hold a product key (`--gvlk`, the `key` arguments) are taken as plain text and
//! checked later: clap echoes a rejected value in full, and a key must never be echoed.

// The doc comments here are clap's help text, printed as written: Markdown backticks would show.
#![allow(clippy::doc_markdown)]

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use makguard_core::Severity;

use makguard_report::Format;

const ABOUT: &str = "Keeps Multiple Activation Keys (MAKs) out of Windows deployment images";

const LONG_ABOUT: &str = "\
makguard keeps Multiple Activation Keys (MAKs) out of Windows deployment images. It lints
answer files (unattend.xml, autounattend.xml) and related configs, scans mounted WIM images
(including the offline registry and licensing data), refuses any image that embeds a key that
is not a public KMS client setup key (GVLK), and can rewrite embedded MAKs to the right GVLK.

Keys are never printed in full unless they are public GVLKs: other keys show their last group
and a sha256: fingerprint.

Exit codes (a contract; see docs/exit-codes.md):
  0  nothing at or above --fail-on (suppressed findings never count; --fail-on never or
     --exit-zero: findings never make exit 1)
  1  findings at or above --fail-on
  2  usage or configuration error (the message names file, line and column)
  3  the scan was incomplete: a candidate file could not be read or parsed (wins over 1,
     unless --allow-incomplete)

Examples:
  makguard scan unattend-samples
  makguard scan -v unattend-samples
  makguard scan - --stdin-filename unattend.xml < unattend.xml
  makguard scan /mnt/image --format text --format sarif=makguard.sarif --format junit=makguard.xml
  makguard fix --dry-run /mnt/image
  makguard key W269N-WFGWX-YVC9B-4J6C9-T83GX
  makguard explain MG101";

#[derive(Debug, Parser)]
#[command(name = "makguard", version, about = ABOUT, long_about = LONG_ABOUT)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Scan answer files, configs and mounted images for embedded product keys
    Scan(ScanArgs),
    /// Rewrite embedded non-KMS keys to the GVLK for the image's edition, then scan again
    Fix(FixArgs),
    /// Classify product keys you have in hand (arguments, or one per line on standard input)
    Key(KeyArgs),
    /// List every rule: code, name, default severity and summary
    Rules(RulesArgs),
    /// Explain one rule, by code (MG101) or name (unattend-non-kms-key)
    Explain(ExplainArgs),
    /// Add a justified exception ([[allow]] entry) to the policy file makguard.toml
    // The doc comment is clap's help text, where `[[allow]]` is the TOML table, not a link.
    #[allow(rustdoc::broken_intra_doc_links)]
    Allow(AllowArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) on standard output
    Completions(CompletionsArgs),
    /// Write the man pages generated from these definitions (docs/man/ is kept current by a test)
    #[command(hide = true)]
    Manpages(ManpagesArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub(crate) struct ManpagesArgs {
    /// Folder to write makguard.1 and makguard-COMMAND.1 into
    #[arg(value_name = "DIR")]
    pub out_dir: PathBuf,
}

/// When a finding fails the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FailOn {
    Error,
    Warning,
    Note,
    /// Report only: findings never make exit 1 (exit 2 and 3 still apply)
    Never,
}

impl FailOn {
    /// The severity the verdict is judged at; `never` is judged as `error`, then not gated.
    pub(crate) fn severity(self) -> Severity {
        match self {
            FailOn::Error | FailOn::Never => Severity::Error,
            FailOn::Warning => Severity::Warning,
            FailOn::Note => Severity::Note,
        }
    }
}

/// How much of each finding the text report shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Detail {
    /// One line per finding
    Concise,
    /// Each finding with its XML place, key fingerprint, fix and remediation
    Full,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// One `--format FORMAT[=FILE]`: a report format and where it goes (standard output when no file).
#[derive(Debug, Clone)]
pub(crate) struct OutputSpec {
    pub format: Format,
    pub format_name: String,
    pub file: Option<PathBuf>,
}

fn parse_output_spec(text: &str) -> Result<OutputSpec, String> {
    let (name, file) = match text.split_once('=') {
        Some((name, "")) => return Err(format!("no file name after '{name}='")),
        // `-` is standard output, as everywhere on the command line.
        Some((name, "-")) => (name, None),
        Some((name, file)) => (name, Some(PathBuf::from(file))),
        None => (text, None),
    };
    let name = name.trim().to_ascii_lowercase();
    let format = name.parse::<Format>().map_err(|_| {
        format!("unknown format '{name}' (expected text, json, sarif, junit, gitlab, github or markdown)")
    })?;
    Ok(OutputSpec {
        format,
        format_name: name,
        file,
    })
}

pub(crate) use makguard_policy::parse_size;

/// The options `scan` and `fix` share.
#[derive(Debug, Args)]
pub(crate) struct ScanOpts {
    /// Files and directories to scan (a directory may be a mounted image root); `-` alone
    /// reads one file from standard input
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// With PATH `-`: the name standard input is scanned and reported as (its kind follows the
    /// name, e.g. unattend.xml) [default: -]
    #[arg(long, value_name = "NAME")]
    pub stdin_filename: Option<String>,

    /// Report format, optionally written to FILE (`-` is standard output); repeatable, e.g.
    /// `--format text --format sarif=makguard.sarif`. Formats: text, json, sarif, junit,
    /// gitlab, github, markdown. Without any --format, text goes to standard output; at most one
    /// format may go there
    #[arg(long = "format", value_name = "FORMAT[=FILE]", value_parser = parse_output_spec)]
    pub formats: Vec<OutputSpec>,

    /// Lowest severity that fails the gate (exit 1); `never` reports only (exit 2 and 3 still apply)
    #[arg(long, value_enum, default_value_t = FailOn::Error, value_name = "SEVERITY")]
    pub fail_on: FailOn,

    /// Same as --fail-on never: findings never make exit 1 (exit 2 and 3 still apply)
    #[arg(long, conflicts_with = "fail_on")]
    pub exit_zero: bool,

    /// Show only the verdict and the error findings (text), and no progress
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,

    /// More detail: the full text report with notes, and each file scanned with its kind on
    /// standard error
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// How much of each finding the text report shows [default: concise, or full with -v]
    #[arg(long, value_enum, value_name = "DETAIL")]
    pub detail: Option<Detail>,

    /// Also search binary files (ASCII and UTF-16 key strings); also `deep = true` in makguard.toml
    #[arg(long)]
    pub deep: bool,

    /// For a WIM file given as PATH: scan only image N (1-based; repeatable). Default: every
    /// image. WIMs found inside a tree are always scanned whole
    #[arg(long = "index", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub wim_indexes: Vec<u32>,

    /// Largest text file read whole; larger text is still searched, streamed, e.g. 16MiB [default: 16MiB, or `size_cap` in makguard.toml]
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub size_cap: Option<u64>,

    /// Worker threads [default: the number of CPUs]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,

    /// Do not exit 3 when a candidate file could not be read or parsed (the MG9xx findings stay)
    #[arg(long)]
    pub allow_incomplete: bool,

    /// Extra key-configuration file (pkeyconfig*.xrm-ms) for classifying keys; repeatable
    #[arg(long = "pkeyconfig", value_name = "FILE")]
    pub pkeyconfig: Vec<PathBuf>,

    /// Policy file for every PATH; wins over MAKGUARD_CONFIG [default: for each PATH, the
    /// nearest makguard.toml walking up from it, else the one in the working directory]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print full product keys. For local use only: never in CI logs or shared reports
    #[arg(long)]
    pub show_keys: bool,

    /// Colour the text report on standard output [auto: on a terminal, unless NO_COLOR is set
    /// or CLICOLOR_FORCE asks for it]; always and never win over the environment
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// Do not show progress on standard error
    #[arg(long)]
    pub no_progress: bool,
}

impl ScanOpts {
    /// The gate as given by --fail-on or --exit-zero.
    pub(crate) fn gate(&self) -> FailOn {
        if self.exit_zero { FailOn::Never } else { self.fail_on }
    }

    /// True for `scan -`: standard input is the one file scanned.
    pub(crate) fn reads_stdin(&self) -> bool {
        self.paths.iter().any(|path| path.as_os_str() == "-")
    }
}

#[derive(Debug, Args)]
pub(crate) struct ScanArgs {
    #[command(flatten)]
    pub scan: ScanOpts,
}

#[derive(Debug, Args)]
pub(crate) struct FixArgs {
    #[command(flatten)]
    pub scan: ScanOpts,

    /// Change nothing; print the unified diff of what would change (keys masked)
    #[arg(long)]
    pub dry_run: bool,

    /// The image's EditionID, when it cannot be read from the image (e.g. Enterprise)
    #[arg(long, value_name = "EDITIONID")]
    pub edition: Option<String>,

    /// The GVLK to write in, overriding the edition lookup (must be a public KMS client key)
    #[arg(long, value_name = "KEY")]
    pub gvlk: Option<String>,

    /// The Windows build (e.g. 22631), when it cannot be read from the image: picks the release
    /// for editions whose GVLK differs by release (EnterpriseS, Professional, ServerStandard, ...)
    #[arg(long, value_name = "BUILD")]
    pub build: Option<u32>,

    /// Also apply fixes whose key choice rests on weak hints (an answer file's image name)
    #[arg(long)]
    pub unsafe_fixes: bool,

    /// Keep a copy of every changed file with SUFFIX appended [default suffix: .makguard-orig].
    /// The copy still holds the old key: delete it before capturing the image
    #[arg(long, value_name = "SUFFIX", num_args = 0..=1, require_equals = true,
          default_missing_value = makguard_fix::DEFAULT_BACKUP_SUFFIX)]
    pub backup: Option<String>,

    /// Write the change log as JSON to FILE
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// For a WIM file: write the fixed WIM to FILE and leave the input untouched (default: the
    /// input is replaced, atomically)
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum KeyFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct KeyArgs {
    /// Keys to classify; without any, read one per line from standard input
    #[arg(value_name = "KEY")]
    pub keys: Vec<String>,

    /// Output format
    #[arg(long, value_enum, default_value_t = KeyFormat::Text)]
    pub format: KeyFormat,

    /// Key-configuration file (pkeyconfig*.xrm-ms) that tells MAK, retail, OEM and KMS host keys apart; repeatable
    #[arg(long = "pkeyconfig", value_name = "FILE")]
    pub pkeyconfig: Vec<PathBuf>,

    /// Print full product keys. For local use only: never in CI logs or shared reports
    #[arg(long)]
    pub show_keys: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RulesArgs {
    /// Print the generated rules reference (docs/rules.md) instead of the table
    #[arg(long)]
    pub markdown: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// Rule code or name, e.g. MG101 or unattend-non-kms-key
    #[arg(value_name = "CODE|NAME")]
    pub rule: String,
}

#[derive(Debug, Args)]
pub(crate) struct AllowArgs {
    /// The key's fingerprint as reports print it: sha256: and 64 lower-case hex digits
    #[arg(value_name = "FINGERPRINT")]
    pub fingerprint: String,

    /// Why this key may stay (who approved it, ticket, until when); required
    #[arg(long, value_name = "TEXT")]
    pub justification: String,

    /// Last day the exception applies (YYYY-MM-DD)
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub expires: Option<String>,

    /// Only findings in files matching this glob (relative to the scanned root, `/`-separated)
    #[arg(long, value_name = "GLOB")]
    pub path: Option<String>,

    /// Only findings of this rule (code or name)
    #[arg(long, value_name = "CODE|NAME")]
    pub rule: Option<String>,

    /// The path the exception is for: the entry goes into the policy file a scan of PATH reads
    #[arg(value_name = "PATH", default_value = ".")]
    pub scan_path: PathBuf,

    /// Policy file to change (created if absent); wins over MAKGUARD_CONFIG [default: the
    /// file a scan of PATH reads, else makguard.toml in the working directory]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn output_specs_split_at_the_first_equals() {
        let spec = parse_output_spec("sarif=out=1.sarif").unwrap();
        assert_eq!(spec.format_name, "sarif");
        assert_eq!(spec.file, Some(PathBuf::from("out=1.sarif")));
        assert!(parse_output_spec("json").unwrap().file.is_none());
        assert!(parse_output_spec("yaml").is_err());
        assert!(parse_output_spec("json=").is_err());
        assert!(
            parse_output_spec("json=-").unwrap().file.is_none(),
            "`-` is standard output"
        );
    }
}
