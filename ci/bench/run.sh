#!/usr/bin/env bash
# makguard benchmark: default scan and --deep against `find | xargs cat` and `rg`, in one run.
#
# Builds makguard and the tree generator (release), writes a synthetic Windows-image tree
# (crates/makguard-bench-gen), checks that the scans find the planted keys, then measures with
# hyperfine (medians of --runs runs each, one warm-up, warm page cache) and peak RSS with
# /usr/bin/time -v, and writes the results table into docs/performance.md between the
# `bench:begin` / `bench:end` markers (or to stdout with --print).
#
# usage: ci/bench/run.sh [--tree DIR] [--keep] [--runs N] [--seed N] [--scale F] [--cold] [--print]
#   --tree DIR   where the tree goes (default /tmp/makguard-bench/tree; reused if it exists
#                and was made with the same seed and scale)
#   --keep       keep the tree afterwards (default: delete it)
#   --runs N     timed runs per command (default 5, at least 5)
#   --cold       also measure with a cold page cache (drops caches before each run: root only)
#   --print      print the Markdown instead of writing docs/performance.md
#
# Not part of .ci/run: it takes minutes and needs a quiet machine to mean anything.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
tree=/tmp/makguard-bench/tree
keep=0
runs=5
seed=2026
scale=1
cold=0
print_only=0
while [[ $# -gt 0 ]]; do
    case $1 in
        --tree) tree=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        --runs) runs=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --scale) scale=$2; shift 2 ;;
        --cold) cold=1; shift ;;
        --print) print_only=1; shift ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
if (( runs < 5 )); then
    echo "run.sh: --runs must be at least 5 (medians of at least 5 runs)" >&2
    exit 2
fi

for tool in hyperfine rg find xargs python3 /usr/bin/time cargo; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "run.sh: $tool is missing (apt-get install -y hyperfine ripgrep time python3)" >&2
        exit 2
    fi
done

# The floor is makguard's own walk and candidate decision reading exactly the bytes the
# default scan reads (every text file by content, the heads of binary files, the hive), without
# searching them: crates/makguard-bench-gen/src/bin/makguard-read-floor.rs. So makguard's own
# search work is the difference between the two rows.
# The same key shape makguard matches: five groups of five from the key alphabet.
key_symbol='[BCDFGHJKMNPQRTVWXY2346789]'
key_pattern="$key_symbol{5}(-$key_symbol{5}){4}"
# rg -a searches ASCII (and transcodes files that start with a UTF-16 byte-order mark);
# makguard --deep also finds UTF-16LE/BE keys inside binaries and 25-symbol keys without dashes.
# This is the --deep matcher's own pattern (crates/makguard-scan/src/binary.rs): with it rg does
# the same work. --deep matches upper-case keys, so its rg rows are case-sensitive like it.
key_le="(?:$key_symbol\\x00)"
key_be="(?:\\x00$key_symbol)"
key_pattern_deep="(?-u)$key_symbol{5}(?:-$key_symbol{5}){4}|$key_symbol{25}|$key_le{5}(?:-\\x00$key_le{5}){4}|$key_le{25}|$key_be{5}(?:\\x00-$key_be{5}){4}|$key_be{25}"

work=$(dirname "$tree")
mkdir -p "$work"
results=$(mktemp -d "$work/results.XXXXXX")
cleanup() {
    if [[ -f "$results/SOFTWARE.aside" ]]; then
        mv "$results/SOFTWARE.aside" "$tree/Windows/System32/config/SOFTWARE"
    fi
    rm -rf "$results"
    if (( keep == 0 )); then
        rm -rf "$tree" "$work/tree.stamp"
        rmdir "$work" 2>/dev/null || true
    fi
}
trap cleanup EXIT

echo "== building (release)" >&2
(cd "$repo" && cargo build --release --quiet -p makguard -p makguard-bench-gen)
makguard="$repo/target/release/makguard"
generator="$repo/target/release/makguard-bench-gen"
read_floor="$repo/target/release/makguard-read-floor"

stamp="seed=$seed scale=$scale hive"
# The SOFTWARE hive is built by hivex from its minimal hive (read from ../shared/corpus by path),
# never by makguard: without one the scan rightly reports the image as incomplete (MG901).
minimal_hive="$repo/../shared/corpus/hives/libguestfs__hivex__images__minimal"
if [[ -f "$work/tree.stamp" && "$(cat "$work/tree.stamp")" == "$stamp" && -d "$tree" ]]; then
    echo "== reusing $tree ($stamp)" >&2
    "$generator" "$tree" --seed "$seed" --scale "$scale" --plan-only >"$results/generator.txt"
else
    echo "== generating $tree ($stamp)" >&2
    rm -rf "$tree" "$work/tree.stamp"
    "$generator" "$tree" --seed "$seed" --scale "$scale" --software-reg "$work/software.reg" >"$results/generator.txt"
    if command -v hivexregedit >/dev/null && [[ -f "$minimal_hive" ]]; then
        echo "== building the SOFTWARE hive with hivexregedit --merge" >&2
        hive="$tree/Windows/System32/config/SOFTWARE"
        mkdir -p "$(dirname "$hive")"
        cp "$minimal_hive" "$hive"
        chmod u+w "$hive"
        hivexregedit --merge --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE' "$hive" "$work/software.reg"
    else
        echo "run.sh: hivexregedit or $minimal_hive missing: the tree has no SOFTWARE hive (scans exit 3)" >&2
    fi
    rm -f "$work/software.reg"
    echo "$stamp" >"$work/tree.stamp"
fi
files=$(find "$tree" -type f | wc -l)
bytes=$(find "$tree" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
planted_default=$(grep -c '^  default ' "$results/generator.txt" || true)
planted_deep_only=$(grep -c '^  deep-only ' "$results/generator.txt" || true)

q() { printf '%q' "$1"; }
floor_cmd="$(q "$read_floor") $(q "$tree") >/dev/null"
default_cmd="$(q "$makguard") scan $(q "$tree") --format json >/dev/null"
deep_cmd="$(q "$makguard") scan --deep $(q "$tree") --format json >/dev/null"
rg_list_cmd="rg -l -a -i --no-ignore --hidden $(q "$key_pattern") $(q "$tree") >/dev/null"
rg_count_cmd="rg -c -a --no-ignore --hidden $(q "$key_pattern") $(q "$tree") >/dev/null"
rg_deep_cmd="rg -c -a --no-ignore --hidden $(q "$key_pattern_deep") $(q "$tree") >/dev/null"
floor_summary=$("$read_floor" "$tree")
candidate_files=${floor_summary%% files read*}
candidate_bytes=$(sed -n 's/.*, \([0-9]*\) bytes read/\1/p' <<<"$floor_summary")

echo "== checking that the scans find the planted keys" >&2
set +e
"$makguard" scan "$tree" --format json >"$results/default.json" 2>"$results/default.err"
default_exit=$?
"$makguard" scan --deep "$tree" --format json >"$results/deep.json" 2>"$results/deep.err"
deep_exit=$?
set -e
rg_files=$(rg -l -a -i --no-ignore --hidden "$key_pattern" "$tree" | wc -l)
rg_deep_files=$(rg -l -a --no-ignore --hidden "$key_pattern_deep" "$tree" | wc -l)

echo "== timing: $runs runs each, 1 warm-up, warm cache" >&2
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
hyperfine --style basic --warmup 1 --runs "$runs" -i --export-json "$results/warm.json" \
    -n "makguard scan (default)" "$default_cmd" \
    -n "floor: makguard-read-floor (same walk and reads, no search)" "$floor_cmd" \
    -n "rg -l -a (whole tree)" "$rg_list_cmd" \
    -n "makguard scan --deep" "$deep_cmd" \
    -n "rg -c -a (whole tree)" "$rg_count_cmd" \
    -n "rg -c -a, --deep pattern (whole tree)" "$rg_deep_cmd" >&2
if (( cold == 1 )); then
    echo "== timing: cold cache" >&2
    hyperfine --style basic --runs "$runs" -i --export-json "$results/cold.json" \
        --prepare 'sync; echo 3 > /proc/sys/vm/drop_caches' \
        -n "makguard scan (default)" "$default_cmd" \
        -n "floor: makguard-read-floor (same walk and reads, no search)" "$floor_cmd" \
        -n "rg -l -a (whole tree)" "$rg_list_cmd" \
        -n "makguard scan --deep" "$deep_cmd" \
        -n "rg -c -a (whole tree)" "$rg_count_cmd" \
        -n "rg -c -a, --deep pattern (whole tree)" "$rg_deep_cmd" >&2
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

echo "== peak memory" >&2
time_v() {
    /usr/bin/time -v "$@" 2>&1 >/dev/null | sed -n 's/.*Maximum resident set size (kbytes): //p'
}
max_of_three() {
    local best=0 kib
    for _ in 1 2 3; do
        kib=$(time_v "$@")
        if (( ${kib:-0} > best )); then best=$kib; fi
    done
    echo "$best"
}
rss_default=$(max_of_three "$makguard" scan "$tree" --format json)
rss_deep=$(max_of_three "$makguard" scan --deep "$tree" --format json)
rss_rg=$(max_of_three rg -c -a --no-ignore --hidden "$key_pattern" "$tree")
# What the SOFTWARE hive alone costs: a scan of a root that holds only it (a hard link).
rss_hive=0
hive_bytes=0
rss_default_no_hive=0
rss_deep_no_hive=0
if [[ -f "$tree/Windows/System32/config/SOFTWARE" ]]; then
    hive_only="$results/hive-only"
    mkdir -p "$hive_only/Windows/System32/config"
    ln "$tree/Windows/System32/config/SOFTWARE" "$hive_only/Windows/System32/config/SOFTWARE" 2>/dev/null \
        || cp "$tree/Windows/System32/config/SOFTWARE" "$hive_only/Windows/System32/config/SOFTWARE"
    rss_hive=$(max_of_three "$makguard" scan "$hive_only" --format json)
    hive_bytes=$(stat -c %s "$tree/Windows/System32/config/SOFTWARE")
    rm -rf "$hive_only"
    # And the walk and search without it: the hive moves aside for these runs (they exit 3).
    mv "$tree/Windows/System32/config/SOFTWARE" "$results/SOFTWARE.aside"
    rss_default_no_hive=$(max_of_three "$makguard" scan "$tree" --format json)
    rss_deep_no_hive=$(max_of_three "$makguard" scan --deep "$tree" --format json)
    mv "$results/SOFTWARE.aside" "$tree/Windows/System32/config/SOFTWARE"
fi

commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n "$(git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
    commit="$commit (with uncommitted changes)"
fi

python3 - "$results" "$runs" "$cold" <<PY >"$results/table.md"
import json, os, sys
results, runs, cold = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"

def load(name):
    with open(os.path.join(results, name)) as f:
        return {r["command"]: r for r in json.load(f)["results"]}

import re
planted = {"default": set(), "deep-only": set()}
for line in open(os.path.join(results, "generator.txt"), encoding="utf-8"):
    hit = re.match(r"^  (default|deep-only)\s+\S+  (.+?)  \[", line)
    if hit:
        planted[hit.group(1)].add(hit.group(2))

def coverage(name, scopes):
    try:
        with open(os.path.join(results, name)) as f:
            found = {f.get("path") for f in json.load(f).get("findings", [])}
    except Exception:
        return "?"
    wanted = set().union(*(planted[s] for s in scopes))
    return f"{len(wanted & found)} of {len(wanted)} planted files"

def scanned(name):
    try:
        with open(os.path.join(results, name)) as f:
            summary = json.load(f).get("summary", {})
        return f"{summary.get('files_scanned', '?')} files scanned, {summary.get('bytes_read', 0) / 1048576:.1f} MiB read"
    except Exception:
        return "summary unreadable"

def findings(name):
    try:
        with open(os.path.join(results, name)) as f:
            doc = json.load(f)
    except Exception as e:
        return f"unreadable JSON ({type(e).__name__})"
    found = doc.get("findings", [])
    codes = {}
    for f in found:
        codes[f.get("code", "?")] = codes.get(f.get("code", "?"), 0) + 1
    return f"{len(found)} findings (" + ", ".join(f"{c}: {n}" for c, n in sorted(codes.items())) + ")"

warm = load("warm.json")
names = ["makguard scan (default)", "floor: makguard-read-floor (same walk and reads, no search)", "rg -l -a (whole tree)",
         "makguard scan --deep", "rg -c -a (whole tree)", "rg -c -a, --deep pattern (whole tree)"]
def row(r):
    name = r["command"].replace("|", chr(92) + "|")
    return f"| {name} | {r['median']:.3f} | {r['min']:.3f} | {r['max']:.3f} | {len(r['times'])} |"

out = []
out.append("| Command | Median (s) | Min (s) | Max (s) | Runs |")
out.append("|---|---:|---:|---:|---:|")
for n in names:
    out.append(row(warm[n]))
if cold:
    c = load("cold.json")
    out.append("")
    out.append("Cold page cache (caches dropped before each run):")
    out.append("")
    out.append("| Command | Median (s) | Min (s) | Max (s) | Runs |")
    out.append("|---|---:|---:|---:|---:|")
    for n in names:
        out.append(row(c[n]))

m = lambda n: warm[n]["median"]
rss_default, rss_deep, rss_rg, rss_hive, rss_default_nh, rss_deep_nh = (int(x) / 1024 for x in (
    "$rss_default", "$rss_deep", "$rss_rg", "$rss_hive", "$rss_default_no_hive", "$rss_deep_no_hive"))
hive_mib = int("$hive_bytes") / 1048576
def verdict(ok):
    return "met" if ok else "**not met**"
targets = [
    ("default scan no slower than the floor", f"default / floor = {m(names[0]) / m(names[1]):.2f}", m(names[0]) <= m(names[1])),
    ("default scan at least 3x faster than rg -l over the whole tree", f"rg -l / default = {m(names[2]) / m(names[0]):.2f}x", m(names[2]) / m(names[0]) >= 3),
    ("--deep no slower than rg -a", f"deep / rg -c = {m(names[3]) / m(names[4]):.2f}", m(names[3]) <= m(names[4])),
    ("(same work) --deep no slower than rg -a with the --deep pattern", f"deep / rg --deep pattern = {m(names[3]) / m(names[5]):.2f}", m(names[3]) <= m(names[5])),
    ("peak RSS of the default scan at most 64 MiB", f"{rss_default:.1f} MiB", rss_default <= 64),
    ("peak RSS of --deep at most 64 MiB", f"{rss_deep:.1f} MiB", rss_deep <= 64),
]
out.append("")
out.append("| Target | Measured | Verdict |")
out.append("|---|---|---|")
for t, v, ok in targets:
    out.append(f"| {t} | {v} | {verdict(ok)} |")
out.append("")
out.append(f"Peak resident memory (max of 3 runs, /usr/bin/time -v): makguard default {rss_default:.1f} MiB, "
           f"makguard --deep {rss_deep:.1f} MiB, rg -c -a {rss_rg:.1f} MiB. "
           f"A scan of a root holding only the {hive_mib:.1f} MiB SOFTWARE hive peaks at {rss_hive:.1f} MiB; "
           f"the whole tree without its hive at {rss_default_nh:.1f} MiB (default) and {rss_deep_nh:.1f} MiB (--deep).")
out.append("")
out.append(f"Correctness check before timing: default scan exit $default_exit ({scanned('default.json')}), {findings('default.json')}, "
           f"found in {coverage('default.json', ['default'])}; "
           f"--deep exit $deep_exit, {findings('deep.json')}, found in {coverage('deep.json', ['default', 'deep-only'])}; "
           f"rg -l -a -i lists $rg_files files, rg -l -a with the --deep pattern $rg_deep_files. "
           f"Planted: $planted_default keys in candidate files, $planted_deep_only more inside binaries (deep only), "
           f"and one in the SOFTWARE hive (BackupProductKeyDefault).")
print("\n".join(out))
PY

mem_total=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
cpu_model=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)
{
    echo "<!-- bench:begin (written by ci/bench/run.sh; do not edit by hand) -->"
    echo "Run of $(date -u '+%Y-%m-%d %H:%M UTC') on commit \`$commit\`."
    echo
    echo "- Machine: $(nproc) CPUs ($cpu_model), $mem_total RAM, $(uname -sr), $(findmnt -no FSTYPE -T "$tree" 2>/dev/null || echo '?') file system."
    echo "- Load average (1, 5, 15 min) before timing: $load_before; after: $load_after."
    echo "- Tree: $files files, $(awk -v b="$bytes" 'BEGIN {printf "%.2f GiB", b / 1073741824}') (seed $seed, scale $scale);"
    echo "  files the default scan reads (the floor reads the same): $candidate_files files, $(awk -v b="$candidate_bytes" 'BEGIN {printf "%.1f MiB", b / 1048576}')."
    echo "- Tools: $(hyperfine --version), $(rg --version | head -1), $("$makguard" --version 2>/dev/null || echo 'makguard (no --version)')."
    echo "- hyperfine: $runs runs per command after 1 warm-up run, warm page cache unless marked; exit codes ignored (-i: makguard exits 1 because keys are planted)."
    echo
    cat "$results/table.md"
    echo "<!-- bench:end -->"
} >"$results/section.md"

if (( print_only == 1 )); then
    cat "$results/section.md"
else
    doc="$repo/docs/performance.md"
    python3 - "$doc" "$results/section.md" <<'PY'
import re, sys
doc, section = sys.argv[1], open(sys.argv[2]).read().rstrip("\n")
try:
    text = open(doc).read()
except FileNotFoundError:
    text = "# Performance\n\n<!-- bench:begin -->\n<!-- bench:end -->\n"
pattern = re.compile(r"<!-- bench:begin.*?<!-- bench:end -->", re.S)
if pattern.search(text):
    text = pattern.sub(lambda _: section, text, count=1)
else:
    text = text.rstrip("\n") + "\n\n" + section + "\n"
open(doc, "w").write(text)
PY
    echo "== wrote $doc" >&2
    cat "$results/section.md"
fi
