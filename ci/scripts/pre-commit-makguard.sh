#!/usr/bin/env bash
# The pre-commit hook's entry point (see .pre-commit-hooks.yaml): runs makguard with the
# arguments given, building it from this checkout with cargo the first time.
#
# MAKGUARD, when set, names the binary to use instead (and nothing is built).
set -euo pipefail

if [[ -n "${MAKGUARD:-}" ]]; then
    exec "$MAKGUARD" "$@"
fi
repo=$(cd "$(dirname "$0")/../.." && pwd)
binary="$repo/target/release/makguard"
if [[ ! -x "$binary" ]]; then
    echo "makguard: building makguard (first run of the hook; needs cargo)" >&2
    cargo build --release --locked --quiet -p makguard --manifest-path "$repo/Cargo.toml" >&2
fi
exec "$binary" "$@"
