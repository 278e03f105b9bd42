#!/usr/bin/env bash
# The test command: installs the tools the tests check against, then runs every test.
#
# Needs `../shared` (the reference tables and the real-world corpus) beside this checkout,
# root or sudo (apt-get), npm, and /dev/fuse for the wimlib mount tests. Outside CI a test
# whose tool is missing prints `skipped: <reason>`; with CI=true every test must run.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f ../shared/reference/gvlk.tsv ]; then
  echo "ci/test.sh: the tests need ../shared (reference tables and corpus) beside this checkout: $(cd .. && pwd)/shared is missing" >&2
  exit 2
fi
bash ci/install-test-tools.sh
export PATH="$PWD/target/test-venv/bin:$PATH"
export MAKGUARD_SARIF_MULTITOOL="$PWD/target/sarif-tools/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool"
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1
bash ci/windows/prepare-wine.sh || echo "ci/test.sh: Wine could not be prepared; the Windows tests will say why"
cargo test --workspace --locked
