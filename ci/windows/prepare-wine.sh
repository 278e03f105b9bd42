#!/usr/bin/env bash
# Prepares a Wine prefix in which the Windows build of makguard runs, for the tests in
# crates/makguard/tests/windows_wine.rs: builds makguard.exe (x86_64-pc-windows-gnu) unless it
# is current, builds the ProcessPrng stand-in DLL that Wine 8 lacks
# (bcryptprimitives-shim.c; see docs/ci.md) and installs it into the prefix's system32.
# Needs wine (wine64), x86_64-w64-mingw32-gcc and the rustup target; says what is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
prefix="$target_dir/wine-prefix"
exe="$target_dir/x86_64-pc-windows-gnu/release/makguard.exe"

for tool in wine x86_64-w64-mingw32-gcc; do
  command -v "$tool" >/dev/null || { echo "prepare-wine: $tool is not installed" >&2; exit 1; }
done
# cargo decides whether the build is current (a no-op after .ci/run's Windows build).
rustup target add x86_64-pc-windows-gnu >/dev/null 2>&1 || true
cargo build --release --locked -p makguard --target x86_64-pc-windows-gnu

mkdir -p "$prefix"
export WINEPREFIX="$prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
if [ ! -d "$prefix/drive_c/windows/system32" ]; then
  wineboot --init >/dev/null 2>&1 || wine cmd /c exit >/dev/null 2>&1 || true
fi
dll="$prefix/drive_c/windows/system32/bcryptprimitives.dll"
if [ ! -f "$dll" ] || [ ci/windows/bcryptprimitives-shim.c -nt "$dll" ]; then
  x86_64-w64-mingw32-gcc -shared -O2 -o "$dll" \
    ci/windows/bcryptprimitives-shim.c ci/windows/bcryptprimitives-shim.def -ladvapi32
fi
wine "$exe" --version
