//! makguard-bench-gen: writes the synthetic Windows-image tree that `ci/bench/run.sh` scans.
//!
//! `makguard-bench-gen OUT_DIR [--seed N] [--scale F] [--jobs N] [--plan-only] [--software-reg FILE]`
//!
//! The same seed and scale always give the same tree, byte for byte. At scale 1 the tree has
//! about 164k files and 3 GiB. Keys are planted in candidate files (the default scan must
//! find them) and inside binaries (only `--deep` may find them); the summary lists where, with
//! each key masked to its last group. `--software-reg FILE` also writes the `.reg` text of the
//! image's SOFTWARE hive (identity, a planted key, bulk classes) for `hivexregedit --merge`.

mod content;
mod keys;
mod plan;
mod registry;
mod rng;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use plan::{FileSpec, Plan};
use rng::Rng;

struct Options {
    out: PathBuf,
    seed: u64,
    scale: f64,
    jobs: usize,
    plan_only: bool,
    software_reg: Option<PathBuf>,
}

const USAGE: &str =
    "usage: makguard-bench-gen OUT_DIR [--seed N] [--scale F] [--jobs N] [--plan-only] [--software-reg FILE]";

fn parse_args() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let mut out = None;
    let mut options = Options {
        out: PathBuf::new(),
        seed: 2026,
        scale: 1.0,
        jobs: std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
        plan_only: false,
        software_reg: None,
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--seed" => options.seed = value("--seed")?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--scale" => {
                options.scale = value("--scale")?.parse().map_err(|e| format!("--scale: {e}"))?;
                if !(options.scale > 0.0 && options.scale <= 100.0) {
                    return Err("--scale must be in (0, 100]".into());
                }
            }
            "--jobs" => {
                options.jobs = value("--jobs")?
                    .parse::<usize>()
                    .map_err(|e| format!("--jobs: {e}"))?
                    .max(1);
            }
            "--plan-only" => options.plan_only = true,
            "--software-reg" => options.software_reg = Some(PathBuf::from(value("--software-reg")?)),
            "-h" | "--help" => return Err(USAGE.into()),
            other if other.starts_with('-') => return Err(format!("unknown option {other}\n{USAGE}")),
            other => {
                if out.replace(PathBuf::from(other)).is_some() {
                    return Err(format!("only one OUT_DIR\n{USAGE}"));
                }
            }
        }
    }
    options.out = out.ok_or_else(|| USAGE.to_string())?;
    Ok(options)
}

/// Writes every file of the plan under `out` with `jobs` threads. File `i` draws from its own
/// random stream, so the bytes do not depend on which thread writes it.
/// Returns the bytes written (text files end on a whole line, so they differ a little from the plan).
fn write_tree(out: &Path, seed: u64, files: &[FileSpec], jobs: usize) -> Result<u64, String> {
    let next = AtomicUsize::new(0);
    let written = AtomicU64::new(0);
    let first_error: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(spec) = files.get(index) else { break };
                    if first_error.lock().map(|e| e.is_some()).unwrap_or(true) {
                        break;
                    }
                    let mut rng = Rng::derive(seed, index as u64);
                    let bytes = content::generate(spec.kind, spec.size, &mut rng, spec.plant.as_ref());
                    let path = out.join(&spec.path);
                    let result = path
                        .parent()
                        .map_or(Ok(()), std::fs::create_dir_all)
                        .and_then(|()| std::fs::write(&path, &bytes));
                    written.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                    if let Err(error) = result {
                        if let Ok(mut slot) = first_error.lock() {
                            slot.get_or_insert_with(|| format!("{}: {error}", path.display()));
                        }
                        break;
                    }
                }
            });
        }
    });
    match first_error.into_inner() {
        Ok(None) => Ok(written.into_inner()),
        Ok(Some(error)) => Err(error),
        Err(_) => Err("a writer thread panicked".into()),
    }
}

fn extension(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rfind('.') {
        Some(dot) => name[dot + 1..].to_ascii_lowercase(),
        None => "(none)".into(),
    }
}

/// Prints the summary; a closed standard output (`| head`) is not an error.
fn print_summary(plan: &Plan, written: Option<u64>) {
    use std::fmt::Write as _;
    use std::io::Write as _;
    let mut out = String::new();
    // The plan's sizes before writing; the bytes on disk once written.
    let total: u64 = written.unwrap_or_else(|| plan.files.iter().map(|f| f.size).sum());
    let text: u64 = plan.files.iter().filter(|f| f.kind.is_text()).map(|f| f.size).sum();
    let _ = writeln!(out, "files: {}", plan.files.len());
    let _ = writeln!(out, "bytes: {total} ({:.2} GiB)", total as f64 / (1u64 << 30) as f64);
    let _ = writeln!(
        out,
        "text bytes: {text} ({:.1}% of all)",
        100.0 * text as f64 / total.max(1) as f64
    );
    let mut by_ext: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for f in &plan.files {
        let entry = by_ext.entry(extension(&f.path)).or_default();
        entry.0 += 1;
        entry.1 += f.size;
    }
    let mut rows: Vec<_> = by_ext.into_iter().collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row.1.0));
    let _ = writeln!(out, "by extension (files, MiB):");
    for (ext, (count, bytes)) in rows.iter().take(30) {
        let _ = writeln!(
            out,
            "  {ext:<10} {count:>7} {:>9.1}",
            *bytes as f64 / (1u64 << 20) as f64
        );
    }
    let largest = plan.files.iter().map(|f| f.size).max().unwrap_or(0);
    let _ = writeln!(out, "largest file: {:.1} MiB", largest as f64 / (1u64 << 20) as f64);
    let _ = writeln!(out, "planted keys (synthetic, masked):");
    for p in &plan.planted {
        let scope = if p.default_scan { "default" } else { "deep-only" };
        let _ = writeln!(out, "  {scope:<9} {}  {}  [{}]", keys::masked(p.key), p.path, p.how);
    }
    let _ = std::io::stdout().write_all(out.as_bytes());
}

fn run() -> Result<(), String> {
    let options = parse_args()?;
    let plan = plan::plan(options.seed, options.scale);
    let mut written = None;
    if !options.plan_only {
        if options.out.exists()
            && std::fs::read_dir(&options.out)
                .map_err(|e| e.to_string())?
                .next()
                .is_some()
        {
            return Err(format!(
                "{} exists and is not empty; refusing to write into it",
                options.out.display()
            ));
        }
        let started = Instant::now();
        written = Some(write_tree(&options.out, options.seed, &plan.files, options.jobs)?);
        println!(
            "wrote {} in {:.1} s (seed {}, scale {}, {} threads)",
            options.out.display(),
            started.elapsed().as_secs_f64(),
            options.seed,
            options.scale,
            options.jobs
        );
    }
    if let Some(reg_path) = &options.software_reg {
        let classes = ((40_000.0 * options.scale).round() as u64).max(1);
        std::fs::write(reg_path, registry::software_reg(options.seed, classes))
            .map_err(|e| format!("{}: {e}", reg_path.display()))?;
        println!("software hive .reg: {} ({classes} classes)", reg_path.display());
    }
    print_summary(&plan, written);
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("makguard-bench-gen: {message}");
            ExitCode::from(2)
        }
    }
}
