#!/usr/bin/env bash
# The steps of action.yml. The inputs arrive as NPM_ATTEST_INPUT_* environment variables (see
# action.yml) and are only ever used as single, quoted arguments: never evaluated as shell code.
#
#   action.sh attest    validate the inputs, then `npm-attest attest` (through launch.sh); the
#                       binary writes the step outputs and the job summary itself.
#   action.sh publish   when `publish` is true: `npm publish <tarball> --provenance-file <bundle>`.

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
  local tarball="${NPM_ATTEST_TARBALL:-}" bundle="${NPM_ATTEST_BUNDLE:-}"
  [[ -n "$tarball" && -n "$bundle" ]] || die "the attest step did not report a tarball and a bundle to publish"
  command -v npm >/dev/null 2>&1 || die "npm is not installed: add actions/setup-node before this step"
  # A relative path starting with `-` would read as an option.
  [[ "$tarball" == -* ]] && tarball="./$tarball"
  local args=(publish "$tarball" "--provenance-file=$bundle")
  [[ -n "${NPM_ATTEST_INPUT_REGISTRY:-}" ]] && args+=("--registry=${NPM_ATTEST_INPUT_REGISTRY}")
  [[ -n "${NPM_ATTEST_INPUT_TAG:-}" ]] && args+=("--tag=${NPM_ATTEST_INPUT_TAG}")
  [[ -n "${NPM_ATTEST_INPUT_ACCESS:-}" ]] && args+=("--access=${NPM_ATTEST_INPUT_ACCESS}")
  [[ "$dry_run" == "true" ]] && args+=(--dry-run)
  # npm >= 11.5.1 turns `provenance` on by itself under trusted publishing when it is left at its
  # default, and `provenance: true` wins over `--provenance-file`: set it explicitly to false.
  # (Set in the environment: on the command line npm rejects it next to --provenance-file.)
  export NPM_CONFIG_PROVENANCE=false
  exec npm "${args[@]}"
}

case "${1:-}" in
  attest) attest ;;
  publish) publish ;;
  *) die "usage: action.sh attest|publish" ;;
esac
