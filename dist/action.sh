#!/usr/bin/env bash
# The steps of action.yml. The inputs arrive as NPM_ATTEST_INPUT_* environment variables (see
# action.yml) and are only ever used as single, quoted arguments: never evaluated as shell code.
#
#   action.sh attest    validate the inputs, then `npm-attest attest` (through launch.sh); the
#                       binary writes the step outputs and the job summary itself.
#   action.sh publish   when `publish` is true: `npm-attest publish --bundle <bundle> -- <tarball>`
#                       (through launch.sh, the same checked binary): preflight checks, registry
#                       authentication, verification of the bundle, then the upload.

set -euo pipefail

here="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"

escape_data() {
  local s="$1"
  s="${s//'%'/%25}"
  s="${s//$'\r'/%0D}"
  s="${s//$'\n'/%0A}"
  printf '%s' "$s"
}

die() {
  local msg="$1"
  if [[ "${GITHUB_ACTIONS:-}" == "true" ]]; then
    printf '::error title=npm-attest action::%s\n' "$(escape_data "$msg")"
  fi
  printf 'error: %s\n' "$msg" >&2
  exit 2
}

# bool VAR NAME VALUE: sets VAR to true or false from the strict YAML 1.2 core booleans the
# Actions toolkit accepts (not in a command substitution, so that die's annotation reaches stdout).
bool() {
  case "$3" in
    true | True | TRUE) printf -v "$1" '%s' true ;;
    false | False | FALSE) printf -v "$1" '%s' false ;;
    *) die "input $2 must be true or false, got \"$3\"" ;;
  esac
}

validate_inputs() {
  bool publish publish "${NPM_ATTEST_INPUT_PUBLISH:-false}"
  bool dry_run dry-run "${NPM_ATTEST_INPUT_DRY_RUN:-false}"
  bool upload upload-to-github "${NPM_ATTEST_INPUT_UPLOAD_TO_GITHUB:-false}"
  case "${NPM_ATTEST_INPUT_ACCESS:-}" in
    "" | public | restricted) ;;
    *) die "input access must be public or restricted, got \"${NPM_ATTEST_INPUT_ACCESS}\"" ;;
  esac
  # Checked here, before anything is signed: a URL has no spaces or control characters.
  local registry="${NPM_ATTEST_INPUT_REGISTRY:-}"
  if [[ -n "$registry" ]] && ! [[ "$registry" =~ ^https?://[^[:space:][:cntrl:]/]+(/[^[:space:][:cntrl:]]*)?$ ]]; then
    die "input registry must be an http(s) URL such as https://registry.npmjs.org/, got \"${registry}\""
  fi
  if [[ "$dry_run" == "true" && "$upload" == "true" ]]; then
    die "inputs dry-run and upload-to-github cannot both be true: a dry-run bundle is signed by a local stand-in that GitHub does not trust"
  fi
}

attest() {
  validate_inputs
  local args=(attest)
  if [[ "$dry_run" == "true" ]]; then
    args+=(--dry-run)
  elif [[ -n "${NPM_ATTEST_INPUT_SIGSTORE:-}" ]]; then
    args+=("--sigstore=${NPM_ATTEST_INPUT_SIGSTORE}")
  fi
  if [[ -n "${NPM_ATTEST_INPUT_BUNDLE_PATH:-}" ]]; then
    args+=("--output=${NPM_ATTEST_INPUT_BUNDLE_PATH}")
  fi
  if [[ "$upload" == "true" ]]; then
    args+=(--upload-to-github)
    # npm-attest reads the token from GITHUB_TOKEN and masks it.
    export GITHUB_TOKEN="${NPM_ATTEST_INPUT_GITHUB_TOKEN:-}"
  fi
  unset NPM_ATTEST_INPUT_GITHUB_TOKEN
  # `--` ends the options, so a path starting with `-` stays a path.
  args+=(-- "${NPM_ATTEST_INPUT_PATH:-.}")
  exec bash --noprofile --norc "$here/launch.sh" "${args[@]}"
}

publish() {
  validate_inputs
  if [[ "$publish" != "true" ]]; then
    exit 0
  fi
  local tarball="${NPM_ATTEST_TARBALL:-}" bundle="${NPM_ATTEST_BUNDLE:-}" root="${NPM_ATTEST_TRUSTED_ROOT:-}"
  [[ -n "$tarball" && -n "$bundle" ]] || die "the attest step did not report a tarball and a bundle to publish"
  # The bundle the attest step signed and verified; npm-attest checks it again against this
  # exact tarball and the package's repository before uploading, and reads the registry
  # credentials itself (NODE_AUTH_TOKEN, NPM_TOKEN, .npmrc, else trusted publishing).
  local args=(publish "--bundle=$bundle")
  # The local stand-in's trusted root (dry-run, sigstore: local): the only root its bundle
  # verifies against. Empty for public-good, whose root is embedded.
  [[ -n "$root" ]] && args+=("--trusted-root=$root")
  [[ -n "${NPM_ATTEST_INPUT_REGISTRY:-}" ]] && args+=("--registry=${NPM_ATTEST_INPUT_REGISTRY}")
  [[ -n "${NPM_ATTEST_INPUT_TAG:-}" ]] && args+=("--tag=${NPM_ATTEST_INPUT_TAG}")
  [[ -n "${NPM_ATTEST_INPUT_ACCESS:-}" ]] && args+=("--access=${NPM_ATTEST_INPUT_ACCESS}")
  [[ "$dry_run" == "true" ]] && args+=(--dry-run)
  # `--` ends the options, so a tarball path starting with `-` stays a path.
  args+=(-- "$tarball")
  exec bash --noprofile --norc "$here/launch.sh" "${args[@]}"
}

case "${1:-}" in
  attest) attest ;;
  publish) publish ;;
  *) die "usage: action.sh attest|publish" ;;
esac
