#!/usr/bin/env bash
# makguard WIM benchmark: `makguard scan image.wim` (read directly) against the mount workflow
# (`wimlib-imagex mount` + `makguard scan` of the mount + `unmount`) and against
# `wimlib-imagex extract` of exactly the files makguard reads, into a tmpfs; plus peak RSS.
#
# Builds makguard and the tree generator (release), writes the synthetic Windows-image tree
# (crates/makguard-bench-gen, as ci/bench/run.sh does), captures it with LZX, checks that the
# direct scan finds the keys the mounted scan finds, then measures with hyperfine (medians of
# --runs runs each, one warm-up, warm page cache) and writes the table into
# docs/performance.md between the `wimbench:begin` / `wimbench:end` markers (or to stdout with
# --print).
#
# usage: ci/bench/wim.sh [--scale F] [--runs N] [--seed N] [--print]
# Needs root and /dev/fuse (the mount rows), wimlib-imagex, hyperfine, python3, /usr/bin/time.
# Not part of .ci/run: it takes minutes and needs a quiet machine to mean anything.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
scale=1
runs=5
seed=1
print=0
while [[ $# -gt 0 ]]; do
    case $1 in
        --scale) scale=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --print) print=1; shift ;;
        *) sed -n '2,16p' "$0" >&2; exit 2 ;;
    esac
done
if (( runs < 5 )); then
    echo "wim.sh: --runs must be at least 5 (medians of at least 5 runs)" >&2
    exit 2
fi
for tool in hyperfine wimlib-imagex python3 /usr/bin/time cargo hivexregedit; do
    command -v "$tool" >/dev/null || { echo "wim.sh: $tool is missing" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/makguard-wimbench.XXXXXX")
mnt="$work/mnt"
extract="$work/extract"
mkdir -p "$mnt" "$extract"
cleanup() {
    mountpoint -q "$mnt" && wimlib-imagex unmount "$mnt" >/dev/null 2>&1 || true
    mountpoint -q "$extract" && umount "$extract" || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "== building (release)" >&2
(cd "$repo" && cargo build --release --quiet -p makguard -p makguard-bench-gen)
makguard="$repo/target/release/makguard"
generator="$repo/target/release/makguard-bench-gen"

echo "== generating the tree (seed $seed, scale $scale)" >&2
tree="$work/tree"
"$generator" "$tree" --seed "$seed" --scale "$scale" --software-reg "$work/software.reg" >"$work/generator.txt"
hive="$tree/Windows/System32/config/SOFTWARE"
mkdir -p "$(dirname "$hive")"
cp "$repo/../shared/corpus/hives/libguestfs__hivex__images__minimal" "$hive"
chmod u+w "$hive"
hivexregedit --merge --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE' "$hive" "$work/software.reg"
# wimlib captures neither special files nor names that are not UTF-8.
find "$tree" \( -type p -o -type s -o -type b -o -type c \) -delete
python3 - "$tree" <<'EOF'
import os, sys
for root, dirs, files in os.walk(sys.argv[1].encode()):
    for name in files + dirs:
        try:
            name.decode("utf-8")
        except UnicodeDecodeError:
            path = os.path.join(root, name)
            (os.rmdir if os.path.isdir(path) and not os.path.islink(path) else os.remove)(path)
EOF
files=$(find "$tree" -type f | wc -l)
# printf, not print: awk prints sums past 2^31 in exponent notation, which the table's int()
# cannot read (the scale-1 run failed there).
bytes=$(find "$tree" -type f -printf '%s\n' | awk '{s+=$1} END {printf "%.0f\n", s}')

echo "== capturing with LZX" >&2
wim="$work/image.wim"
capture_start=$(date +%s)
wimlib-imagex capture "$tree" "$wim" "bench" --compress=lzx >/dev/null
capture_secs=$(( $(date +%s) - capture_start ))
wim_bytes=$(stat -c %s "$wim")
rm -rf "$tree"

echo "== checking that the direct scan finds what the mounted scan finds" >&2
"$makguard" scan "$wim" --format json --no-progress >"$work/direct.json" || true
wimlib-imagex mount "$wim" 1 "$mnt"
"$makguard" scan "$mnt" --format json --no-progress >"$work/mounted.json" || true
"$makguard" scan "$mnt" --format junit --no-progress >"$work/mounted.xml" || true
wimlib-imagex unmount "$mnt"
python3 - "$work" <<'EOF'
import json, sys, xml.etree.ElementTree as ET
work = sys.argv[1]
def facts(name):
    report = json.load(open(f"{work}/{name}"))
    return sorted((f["code"], f["path"], f["line"], f["column"], (f.get("key") or {}).get("fingerprint"))
                  for f in report["findings"] if f["code"] != "MG261")
direct, mounted = facts("direct.json"), facts("mounted.json")
assert direct == mounted, f"direct and mounted scans differ: {set(direct) ^ set(mounted)}"
assert any(c.startswith("MG1") or c.startswith("MG2") for c, *_ in direct), "no planted key found"
# The files makguard reads, for the extract row: every JUnit test case is a file searched.
names = [case.get("name") for case in ET.parse(f"{work}/mounted.xml").iter("testcase")]
open(f"{work}/listfile", "w").write("".join(f"/{n}\n" for n in names if n))
EOF
read -r findings searched < <(python3 - "$work" <<'EOF'
import json, sys, xml.etree.ElementTree as ET
work = sys.argv[1]
report = json.load(open(f"{work}/direct.json"))
print(len(report["findings"]), sum(1 for _ in ET.parse(f"{work}/mounted.xml").iter("testcase")))
EOF
)

mount -t tmpfs -o size=8g tmpfs "$extract"
echo "== timing (hyperfine, $runs runs)" >&2
q() { printf '%q' "$1"; }
hyperfine --style basic --warmup 1 --runs "$runs" -i --export-json "$work/times.json" \
    -n direct "$(q "$makguard") scan $(q "$wim") --no-progress --format json >/dev/null" \
    -n mount "wimlib-imagex mount $(q "$wim") 1 $(q "$mnt") && $(q "$makguard") scan $(q "$mnt") --no-progress --format json >/dev/null; wimlib-imagex unmount $(q "$mnt")" \
    -n extract "rm -rf $(q "$extract")/x && mkdir $(q "$extract")/x && wimlib-imagex extract $(q "$wim") 1 @$(q "$work/listfile") --dest-dir=$(q "$extract")/x --no-acls --nullglob >/dev/null 2>&1" \
    >&2
# makguard exits 1 (planted keys): that is not a failure of the measurement.
rss_kib=$( { /usr/bin/time -v "$makguard" scan "$wim" --no-progress --format json >/dev/null || true; } 2>&1 | awk -F: '/Maximum resident/ {gsub(/ /, "", $2); print $2}' )

table=$(python3 - "$work/times.json" "$rss_kib" "$files" "$bytes" "$wim_bytes" "$searched" "$capture_secs" "$scale" "$runs" <<'EOF'
import json, sys
times, rss, files, tbytes, wbytes, searched, capture, scale, runs = sys.argv[1:]
r = {x["command"]: x for x in json.load(open(times))["results"]}
m = lambda n: r[n]["median"]
rss_mib = int(rss) / 1024
rows = [
    f"- Tree: {files} files, {int(tbytes) / 2**30:.2f} GiB (scale {scale}); LZX WIM {int(wbytes) / 2**20:.0f} MiB, captured in {capture} s; makguard read {searched} files.",
    f"- hyperfine: {runs} runs per command after 1 warm-up, warm page cache; exit codes ignored.",
    "",
    "| Command | Median (s) | Min (s) | Max (s) |",
    "|---|---|---|---|",
]
for name, label in [("direct", "`makguard scan image.wim` (direct)"),
                    ("mount", "`wimlib-imagex mount` + `makguard scan` of the mount + `unmount`"),
                    ("extract", "`wimlib-imagex extract` of exactly the files makguard reads (tmpfs)")]:
    rows.append(f"| {label} | {m(name):.3f} | {r[name]['min']:.3f} | {r[name]['max']:.3f} |")
rows += [
    "",
    "| Target | Result | Met |",
    "|---|---|---|",
    f"| direct at least 10x faster than mount + scan + unmount | {m('mount') / m('direct'):.1f}x | {'yes' if m('mount') >= 10 * m('direct') else 'no'} |",
    f"| direct no slower than extracting the files it reads | {m('direct') / m('extract'):.2f}x the time | {'yes' if m('direct') <= m('extract') else 'no'} |",
    f"| peak RSS of the direct scan at most 64 MiB | {rss_mib:.1f} MiB | {'yes' if rss_mib <= 64 else 'no'} |",
]
print("\n".join(rows))
EOF
)
if (( print )); then
    echo "$table"
else
    python3 - "$repo/docs/performance.md" "$table" <<'EOF'
import sys
path, table = sys.argv[1], sys.argv[2]
doc = open(path).read()
begin, end = "<!-- wimbench:begin -->", "<!-- wimbench:end -->"
block = f"{begin}\n{table}\n{end}"
if begin in doc:
    doc = doc[: doc.index(begin)] + block + doc[doc.index(end) + len(end):]
else:
    doc = doc.rstrip() + "\n\n## Reading a WIM directly (`ci/bench/wim.sh`)\n\n" + block + "\n"
open(path, "w").write(doc)
EOF
    echo "== wrote docs/performance.md" >&2
fi
