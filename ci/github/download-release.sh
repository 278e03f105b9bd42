#!/usr/bin/env bash
# Fetches a makguard release binary for the GitHub action (ci/github/action.yml), verifies its
# SHA-256 checksum against the `.sha256` file the release workflow publishes beside it, and
# writes `bin=PATH` to $GITHUB_OUTPUT and MAKGUARD_BIN to $GITHUB_ENV. On any failure (no such
# release, no build for this runner, a checksum that does not match) it prints a warning and
# writes nothing, so the action falls back to building makguard with cargo; it never fails the
# step itself.
#
# Environment:
#   MAKGUARD_VERSION      `auto` (the action's own ref, when it is a release tag such as v1.2.3),
#                         a release tag (v1.2.3), or empty (build with cargo).
#   MAKGUARD_ACTION_REPO  owner/name of the action (github.action_repository); MAKGUARD_ACTION_REF
#                         its ref. Either may be empty in a composite action: both are then read
#                         from GITHUB_ACTION_PATH (.../_actions/OWNER/NAME/REF/ci/github).
#   MAKGUARD_SERVER       https://github.com (github.server_url).
#   MAKGUARD_RELEASES     overrides the download base (…/releases/download), for tests.
#   RUNNER_OS, RUNNER_ARCH, RUNNER_TEMP as GitHub sets them.
set -u

warn() { echo "::warning title=makguard::$1; building makguard with cargo instead"; exit 0; }

action_path="${GITHUB_ACTION_PATH:-}"
parsed_ref="" parsed_repo=""
case "$action_path" in
  */_actions/*/*/*/ci/github)
    rest="${action_path#*/_actions/}"
    rest="${rest%/ci/github}"
    parsed_repo="${rest%/*}"
    parsed_ref="${rest##*/}"
    ;;
esac
repo="${MAKGUARD_ACTION_REPO:-$parsed_repo}"
ref="${MAKGUARD_ACTION_REF:-$parsed_ref}"

version="${MAKGUARD_VERSION:-}"
if [ "$version" = auto ]; then
  # Only a full release tag names a release; a branch or `v1` does not.
  if [[ "$ref" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]]; then version="$ref"; else exit 0; fi
fi
[ -n "$version" ] || exit 0
[[ "$version" =~ ^v[0-9A-Za-z.+-]+$ ]] || warn "version '$version' is not a release tag (v1.2.3)"

case "${RUNNER_OS:-}/${RUNNER_ARCH:-}" in
  Linux/X64) target=x86_64-unknown-linux-gnu ext=tar.gz exe=makguard ;;
  Linux/ARM64) target=aarch64-unknown-linux-gnu ext=tar.gz exe=makguard ;;
  Windows/X64) target=x86_64-pc-windows-msvc ext=zip exe=makguard.exe ;;
  *) warn "no makguard release is built for ${RUNNER_OS:-?}/${RUNNER_ARCH:-?}" ;;
esac

base="${MAKGUARD_RELEASES:-}"
if [ -z "$base" ]; then
  [ -n "$repo" ] || warn "cannot tell which repository the action comes from"
  base="${MAKGUARD_SERVER:-https://github.com}/$repo/releases/download"
fi
name="makguard-$version-$target"
archive="$name.$ext"
dir="${RUNNER_TEMP:-/tmp}/makguard-release-$version"
rm -rf "$dir" && mkdir -p "$dir" || warn "cannot create $dir"

curl -fsSL --retry 3 -o "$dir/$archive" "$base/$version/$archive" \
  || warn "cannot download $archive of release $version"
curl -fsSL --retry 3 -o "$dir/$archive.sha256" "$base/$version/$archive.sha256" \
  || warn "cannot download the checksum of $archive"

expected="$(head -c 64 "$dir/$archive.sha256" | tr 'A-F' 'a-f')"
if command -v sha256sum >/dev/null; then actual="$(sha256sum "$dir/$archive")"
else actual="$(shasum -a 256 "$dir/$archive")"; fi
actual="${actual%% *}"
[[ "$expected" =~ ^[0-9a-f]{64}$ ]] || warn "the checksum file of $archive holds no SHA-256"
[ "$expected" = "$actual" ] || warn "$archive does not match its published SHA-256 checksum"

case "$ext" in
  tar.gz) tar -xzf "$dir/$archive" -C "$dir" || warn "cannot unpack $archive" ;;
  zip)
    if command -v unzip >/dev/null; then unzip -q "$dir/$archive" -d "$dir"
    elif command -v 7z >/dev/null; then 7z x -y "-o$dir" "$dir/$archive" >/dev/null
    else powershell -NoProfile -Command "Expand-Archive -LiteralPath '$dir/$archive' -DestinationPath '$dir'"
    fi || warn "cannot unpack $archive"
    ;;
esac
bin="$dir/$name/$exe"
[ -f "$bin" ] || warn "$archive holds no $name/$exe"
chmod +x "$bin" 2>/dev/null
"$bin" --version >/dev/null 2>&1 || warn "the $version release binary does not run here"

echo "makguard: using release $version ($archive, SHA-256 $actual)"
echo "bin=$bin" >> "$GITHUB_OUTPUT"
echo "MAKGUARD_BIN=$bin" >> "$GITHUB_ENV"
