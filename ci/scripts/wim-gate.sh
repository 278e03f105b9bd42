#!/usr/bin/env bash
# wim-gate.sh: the makguard gate for a built WIM image, on Linux (or anywhere bash runs).
#
# usage: wim-gate.sh WIMFILE [INDEX]
#
# Runs `makguard scan` on WIMFILE itself: makguard reads the WIM directly, so nothing is
# mounted or extracted, and neither wimlib nor FUSE nor root is needed. Without INDEX every
# image in the file is scanned; with INDEX only that image. Exits with makguard's exit code:
#   0  clean          1  findings (e.g. an embedded MAK)
#   2  usage or configuration error (also: bad arguments to this script)
#   3  incomplete: something could not be read (also: WIMFILE is not a WIM, or has no image
#      INDEX)
#
# Reports: the text report goes to standard output; JSON, SARIF, JUnit and Markdown are written
# to $MAKGUARD_OUT (default: the current directory) as makguard.json, makguard.sarif,
# makguard.xml and makguard.md.
#
# Environment:
#   MAKGUARD        the makguard binary (default: makguard on PATH)
#   MAKGUARD_OUT    directory for the report files (default: .)
#   MAKGUARD_ARGS   extra arguments for `makguard scan`, split on spaces
#                   (e.g. "--deep --fail-on warning --config /path/makguard.toml")
#   MAKGUARD_MOUNT  ignored: nothing is mounted any more (accepted so old callers keep working)
#
# To fix a WIM, mount it and run `makguard fix` on the mount (docs/ci.md).
set -uo pipefail

usage() {
    sed -n '2,25p' "$0" >&2
    exit 2
}

[[ $# -ge 1 && $# -le 2 ]] || usage
wim=$1
index=${2:-}
makguard=${MAKGUARD:-makguard}
out=${MAKGUARD_OUT:-.}

if [[ ! -f "$wim" ]]; then
    echo "wim-gate: $wim is not a file" >&2
    exit 2
fi
if [[ -n "$index" ]] && ! [[ "$index" =~ ^[1-9][0-9]*$ ]]; then
    echo "wim-gate: INDEX must be a positive number, got '$index'" >&2
    exit 2
fi
if ! command -v "$makguard" >/dev/null 2>&1; then
    echo "wim-gate: makguard not found (set MAKGUARD to its path)" >&2
    exit 2
fi
if [[ -n "${MAKGUARD_MOUNT:-}" ]]; then
    echo "wim-gate: MAKGUARD_MOUNT is ignored: the WIM is read directly, nothing is mounted" >&2
fi
# makguard scans a file without the WIM magic as an ordinary file, which an empty or
# mis-downloaded install.wim would pass: this gate is for images, so it refuses one.
if [[ "$(od -An -tx1 -N8 -- "$wim" | tr -d ' \n')" != 4d5357494d000000 ]]; then
    echo "wim-gate: $wim is not a WIM file (no MSWIM magic): the image was not scanned" >&2
    exit 3
fi
mkdir -p "$out" || exit 2

if [[ -n "$index" ]]; then
    what="image $index of $wim"
    index_args=(--index "$index")
else
    what="every image of $wim"
    index_args=()
fi

# Word splitting of MAKGUARD_ARGS is intended: it carries several options.
# shellcheck disable=SC2206
extra_args=(${MAKGUARD_ARGS:-})
echo "wim-gate: scanning $what" >&2
"$makguard" scan "$wim" "${index_args[@]}" \
    --no-progress \
    --format text \
    --format "json=$out/makguard.json" \
    --format "sarif=$out/makguard.sarif" \
    --format "junit=$out/makguard.xml" \
    --format "markdown=$out/makguard.md" \
    "${extra_args[@]}"
code=$?

case $code in
    0) echo "wim-gate: $what is clean" >&2 ;;
    1) echo "wim-gate: $what FAILED the gate: see the findings above" >&2 ;;
    2) echo "wim-gate: makguard usage or configuration error" >&2 ;;
    3) echo "wim-gate: the scan of $what was incomplete: it is not known to be clean" >&2 ;;
    *) echo "wim-gate: makguard exited with unexpected code $code" >&2 ;;
esac
exit "$code"
