#!/usr/bin/env bash
# Installs the independent tools makguard's tests check against, on a fresh Debian machine:
# wimlib (WIM capture and FUSE mounts), ntfs-3g and attr (NTFS volumes for WIM capture), hivex (hive writer), reglookup (hive reader), ripgrep
# (benchmark baseline), python junitparser and PyYAML (JUnit and recipe consumers), and
# Microsoft's SARIF Multitool (npm). Idempotent: anything already present is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v wimlib-imagex >/dev/null || missing+=(wimtools)
command -v hivexregedit >/dev/null || missing+=(libwin-hivex-perl)
command -v reglookup >/dev/null || missing+=(reglookup)
command -v rg >/dev/null || missing+=(ripgrep)
command -v xz >/dev/null || missing+=(xz-utils)
command -v mkntfs >/dev/null || missing+=(ntfs-3g)
command -v setfattr >/dev/null || missing+=(attr)
command -v fusermount3 >/dev/null || command -v fusermount >/dev/null || missing+=(fuse3)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing with apt-get: ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python3 -c 'import junitparser, yaml' 2>/dev/null || python3 -m pip install -q junitparser pyyaml

multitool_dir=target/sarif-tools/node_modules/@microsoft/sarif-multitool-linux
if [ ! -e "$multitool_dir/Sarif.Multitool" ]; then
  mkdir -p target/sarif-tools
  npm install --silent --prefix target/sarif-tools @microsoft/sarif-multitool-linux >/dev/null
fi
# npm no longer runs the package's postinstall (chmod u+x) by default.
chmod u+x "$multitool_dir/Sarif.Multitool"
