#!/usr/bin/env bash
# Runs npm-attest with the given arguments: the prebuilt binary for this runner, checked against
# the sha256 recorded in dist/manifest.txt, or a build from source.
#
# How the binary is found (see dist/README.md):
#   1. NPM_ATTEST_BINARY: an explicit binary, used as is (tests, self-managed installs).
#   2. NPM_ATTEST_BUILD_FROM_SOURCE=true, or no manifest entry for this runner's target:
#      `cargo build --release --locked` of the action's own source.
#   3. Otherwise the manifest names the release and the asset's sha256. The asset is taken from
#      dist/bin/<asset> when shipped there, else from the tool cache
#      ($RUNNER_TOOL_CACHE/npm-attest/<release>/<asset>), else downloaded from the release into
#      the tool cache. Whatever its origin, its sha256 must equal the manifest's before it runs;
#      on a mismatch the launcher refuses to run it and fails.
#
# Variables for tests and mirrors: NPM_ATTEST_MANIFEST (another manifest file),
# NPM_ATTEST_DOWNLOAD_BASE (instead of the GitHub release download URL; file:// works),
# NPM_ATTEST_CARGO (the cargo command), NPM_ATTEST_TARGET (instead of detecting the target).

set -euo pipefail

here="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname -- "$here")"

in_actions() { [[ "${GITHUB_ACTIONS:-}" == "true" ]]; }

# Workflow-command escaping of a message (%, CR, LF), as the runner expects.
escape_data() {
  local s="$1"
  s="${s//'%'/%25}"
  s="${s//$'\r'/%0D}"
  s="${s//$'\n'/%0A}"
  printf '%s' "$s"
}

die() {
  # die MESSAGE [HINT]
  local msg="$1" hint="${2:-}"
  local line="$msg"
  [[ -n "$hint" ]] && line="$msg (hint: $hint)"
  if in_actions; then
    printf '::error title=npm-attest launcher::%s\n' "$(escape_data "$line")"
  fi
  printf 'error: %s\n' "$line" >&2
  exit 3
}

info() { printf '%s\n' "$*" >&2; }

debug() {
  if [[ "${RUNNER_DEBUG:-}" == "1" ]]; then
    if in_actions; then printf '::debug::%s\n' "$(escape_data "$*")"; else printf 'debug: %s\n' "$*" >&2; fi
  fi
}

# An exported bash function (BASH_FUNC_name%%) would replace a command this script runs, such as
# the checksum tool; refuse to run with any in the environment.
if env | grep -q '^BASH_FUNC_'; then
  die "exported bash functions are in the environment (BASH_FUNC_*); refusing to run" \
    "unset them before this step"
fi

sha256_of() {
  local file="$1" out
  if command -v sha256sum >/dev/null 2>&1; then
    out="$(sha256sum -b -- "$file")"
  elif command -v shasum >/dev/null 2>&1; then
    out="$(shasum -a 256 -b -- "$file")"
  elif command -v openssl >/dev/null 2>&1; then
    out="$(openssl dgst -sha256 -r -- "$file")"
  else
    die "no sha256 tool (sha256sum, shasum or openssl) found" "install coreutils"
  fi
  out="${out%% *}"
  out="${out#\\}"
  printf '%s' "$out" | tr 'A-F' 'a-f'
}

# The Rust target triple of this runner: from RUNNER_OS/RUNNER_ARCH under Actions, uname otherwise.
detect_target() {
  local os="${RUNNER_OS:-}" arch="${RUNNER_ARCH:-}"
  if [[ -z "$os" ]]; then
    case "$(uname -s)" in
      Linux) os=Linux ;;
      Darwin) os=macOS ;;
      MINGW* | MSYS* | CYGWIN* | Windows_NT) os=Windows ;;
      *) os="$(uname -s)" ;;
    esac
  fi
  if [[ -z "$arch" ]]; then
    case "$(uname -m)" in
      x86_64 | amd64) arch=X64 ;;
      aarch64 | arm64) arch=ARM64 ;;
      *) arch="$(uname -m)" ;;
    esac
  fi
  case "$os/$arch" in
    Linux/X64) echo x86_64-unknown-linux-musl ;;
    Linux/ARM64) echo aarch64-unknown-linux-musl ;;
    macOS/X64) echo x86_64-apple-darwin ;;
    macOS/ARM64) echo aarch64-apple-darwin ;;
    Windows/X64) echo x86_64-pc-windows-msvc ;;
    *) echo "unsupported:$os/$arch" ;;
  esac
}

asset_name() {
  case "$1" in
    *-windows-*) echo "npm-attest-$1.exe" ;;
    *) echo "npm-attest-$1" ;;
  esac
}

# manifest_release FILE: the `release:` line's value (empty on main).
manifest_release() {
  local line
  while IFS= read -r line || [[ -n "$line" ]]; do
    line="${line%$'\r'}"
    if [[ "$line" =~ ^release:[[:space:]]*([^[:space:]]*)[[:space:]]*$ ]]; then
      printf '%s' "${BASH_REMATCH[1]}"
      return 0
    fi
  done <"$1"
}

# manifest_digest FILE ASSET: the sha256 recorded for ASSET (sha256sum format lines).
manifest_digest() {
  local line
  while IFS= read -r line || [[ -n "$line" ]]; do
    line="${line%$'\r'}"
    if [[ "$line" =~ ^([0-9a-fA-F]{64})[[:space:]]+\*?(.+)$ ]] && [[ "${BASH_REMATCH[2]}" == "$2" ]]; then
      printf '%s' "${BASH_REMATCH[1]}" | tr 'A-F' 'a-f'
      return 0
    fi
  done <"$1"
}

build_from_source() {
  local reason="$1"
  local cargo="${NPM_ATTEST_CARGO:-cargo}"
  if ! command -v "${cargo%% *}" >/dev/null 2>&1; then
    die "cannot build npm-attest from source ($reason): cargo is not installed" \
      "install Rust (rustup) before this step, or use a runner with a prebuilt binary (Linux, macOS or Windows on x86_64/arm64)"
  fi
  local target_dir="${NPM_ATTEST_TARGET_DIR:-${RUNNER_TEMP:-$root}/npm-attest-target}"
  info "building npm-attest from source ($reason)"
  if in_actions; then printf '::group::%s\n' "cargo build --release --locked"; fi
  # shellcheck disable=SC2086 # NPM_ATTEST_CARGO may carry arguments (e.g. `cargo +1.85`).
  CARGO_TARGET_DIR="$target_dir" $cargo build --release --locked --manifest-path "$root/Cargo.toml" --bin npm-attest >&2
  if in_actions; then printf '::endgroup::\n'; fi
  local exe="$target_dir/release/npm-attest"
  [[ -f "$exe.exe" ]] && exe="$exe.exe"
  [[ -f "$exe" ]] || die "cargo build finished but $exe is missing"
  binary="$exe"
}

# Checks FILE against the manifest digest; refuses (and removes a cached download) on a mismatch.
check_digest() {
  local file="$1" expected="$2" cached="$3" actual
  actual="$(sha256_of "$file")"
  if [[ "$actual" != "$expected" ]]; then
    [[ "$cached" == "yes" ]] && rm -f -- "$file"
    die "checksum mismatch for $file: sha256 is $actual, the manifest ($manifest) records $expected; refusing to run it" \
      "the binary is not the one this release recorded: re-run the job, or set build-from-source: true"
  fi
  debug "sha256 of $file matches the manifest ($actual)"
}

binary=""
manifest="${NPM_ATTEST_MANIFEST:-$here/manifest.txt}"

if [[ -n "${NPM_ATTEST_BINARY:-}" ]]; then
  [[ -f "$NPM_ATTEST_BINARY" ]] || die "NPM_ATTEST_BINARY names $NPM_ATTEST_BINARY, which does not exist" \
    "point NPM_ATTEST_BINARY at a built npm-attest, or unset it"
  binary="$NPM_ATTEST_BINARY"
  debug "using NPM_ATTEST_BINARY=$binary"
else
  case "${NPM_ATTEST_BUILD_FROM_SOURCE:-false}" in
    true | True | TRUE) from_source=true ;;
    false | False | FALSE | "") from_source=false ;;
    *) die "build-from-source must be true or false, got \"${NPM_ATTEST_BUILD_FROM_SOURCE}\"" ;;
  esac
  target="${NPM_ATTEST_TARGET:-$(detect_target)}"
  asset="$(asset_name "$target")"
  release=""
  expected=""
  if [[ -f "$manifest" ]]; then
    release="$(manifest_release "$manifest")"
    expected="$(manifest_digest "$manifest" "$asset")"
  fi
  debug "target $target, asset $asset, release ${release:-none}, manifest $manifest"
  if [[ "$from_source" == "true" ]]; then
    build_from_source "requested with build-from-source"
  elif [[ "$target" == unsupported:* ]]; then
    build_from_source "no prebuilt binary for ${target#unsupported:}"
  elif [[ -z "$expected" || -z "$release" ]]; then
    build_from_source "dist/manifest.txt records no prebuilt $asset for this commit"
  else
    shipped="$here/bin/$asset"
    if [[ -f "$shipped" ]]; then
      check_digest "$shipped" "$expected" no
      binary="$shipped"
    else
      cache_dir="${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}}/npm-attest/$release"
      cached="$cache_dir/$asset"
      if [[ ! -f "$cached" ]]; then
        base="${NPM_ATTEST_DOWNLOAD_BASE:-https://github.com/npm-attest/npm-attest/releases/download}"
        url="$base/$release/$asset"
        mkdir -p -- "$cache_dir"
        info "downloading $url"
        partial="$cached.partial.$$"
        if ! curl --proto '=https,file' --tlsv1.2 --fail --silent --show-error --location \
          --retry 3 --output "$partial" -- "$url"; then
          rm -f -- "$partial"
          die "cannot download $url" "check the runner's network, or set build-from-source: true"
        fi
        mv -f -- "$partial" "$cached"
      fi
      check_digest "$cached" "$expected" yes
      chmod +x -- "$cached" 2>/dev/null || true
      binary="$cached"
    fi
  fi
fi

if [[ "${NPM_ATTEST_LAUNCH_PRINT_ONLY:-}" == "1" ]]; then
  printf '%s\n' "$binary"
  exit 0
fi
exec "$binary" "$@"
