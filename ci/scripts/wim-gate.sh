#!/usr/bin/env bash
# wim-gate.sh: the makguard gate for a built WIM image, on Linux.
#
# usage: wim-gate.sh WIMFILE [INDEX]
#
# Mounts image INDEX (default 1) of WIMFILE read-only with `wimlib-imagex mount`, runs
# `makguard scan` on the mount, always unmounts (even on error or Ctrl-C), and exits with
# makguard's exit code:
#   0  clean          1  findings (e.g. an embedded MAK)
#   2  usage or configuration error (also: bad arguments to this script)
#   3  incomplete: something could not be read (also: the WIM could not be mounted)
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
#   MAKGUARD_MOUNT  mount point to use (default: a new temporary directory, removed afterwards)
#
# Needs wimlib-imagex (Debian/Ubuntu: wimtools) and FUSE (/dev/fuse; in a container:
# --device /dev/fuse --cap-add SYS_ADMIN).
set -uo pipefail

usage() {
    sed -n '2,27p' "$0" >&2
    exit 2
}

[[ $# -ge 1 && $# -le 2 ]] || usage
wim=$1
index=${2:-1}
makguard=${MAKGUARD:-makguard}
out=${MAKGUARD_OUT:-.}

if [[ ! -f "$wim" ]]; then
    echo "wim-gate: $wim is not a file" >&2
    exit 2
fi
if ! [[ "$index" =~ ^[1-9][0-9]*$ ]]; then
    echo "wim-gate: INDEX must be a positive number, got '$index'" >&2
    exit 2
fi
if ! command -v wimlib-imagex >/dev/null 2>&1; then
    echo "wim-gate: wimlib-imagex not found (install wimtools)" >&2
    exit 3
fi
if ! command -v "$makguard" >/dev/null 2>&1; then
    echo "wim-gate: makguard not found (set MAKGUARD to its path)" >&2
    exit 2
fi
mkdir -p "$out" || exit 2

created_mount=0
if [[ -n "${MAKGUARD_MOUNT:-}" ]]; then
    mount_dir=$MAKGUARD_MOUNT
    mkdir -p "$mount_dir" || exit 3
else
    mount_dir=$(mktemp -d "${TMPDIR:-/tmp}/makguard-wim.XXXXXX") || exit 3
    created_mount=1
fi

mounted=0
# shellcheck disable=SC2317  # invoked by the EXIT trap
unmount() {
    if (( mounted == 1 )); then
        # A scan that was interrupted may still hold files open for a moment.
        local attempt
        for attempt in 1 2 3 4 5; do
            if wimlib-imagex unmount "$mount_dir" >/dev/null 2>&1; then
                mounted=0
                break
            fi
            sleep "$attempt"
        done
        if (( mounted == 1 )); then
            echo "wim-gate: could not unmount $mount_dir; run: wimlib-imagex unmount '$mount_dir'" >&2
        fi
    fi
    if (( created_mount == 1 && mounted == 0 )); then
        rmdir "$mount_dir" 2>/dev/null || true
    fi
}
trap unmount EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "wim-gate: mounting image $index of $wim read-only at $mount_dir" >&2
if ! wimlib-imagex mount "$wim" "$index" "$mount_dir"; then
    echo "wim-gate: could not mount image $index of $wim: the image was not scanned" >&2
    exit 3
fi
mounted=1

# Word splitting of MAKGUARD_ARGS is intended: it carries several options.
# shellcheck disable=SC2206
extra_args=(${MAKGUARD_ARGS:-})
"$makguard" scan "$mount_dir" \
    --no-progress \
    --format text \
    --format "json=$out/makguard.json" \
    --format "sarif=$out/makguard.sarif" \
    --format "junit=$out/makguard.xml" \
    --format "markdown=$out/makguard.md" \
    "${extra_args[@]}"
code=$?

case $code in
    0) echo "wim-gate: image $index of $wim is clean" >&2 ;;
    1) echo "wim-gate: image $index of $wim FAILED the gate: see the findings above" >&2 ;;
    2) echo "wim-gate: makguard usage or configuration error" >&2 ;;
    3) echo "wim-gate: the scan of image $index of $wim was incomplete: it is not known to be clean" >&2 ;;
    *) echo "wim-gate: makguard exited with unexpected code $code" >&2 ;;
esac
exit "$code"
