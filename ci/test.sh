#!/usr/bin/env bash
# The test command: installs the tools the tests check against, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/install-test-tools.sh
export MAKGUARD_SARIF_MULTITOOL="$PWD/target/sarif-tools/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool"
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1
cargo test --workspace --locked
