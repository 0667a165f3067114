#!/usr/bin/env bash
# A short tour of lsm's main job in a throwaway home: nothing touches ~/.lsm.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
lsm() { node "$root/dist/lsm.cjs" "$@"; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export LSM_DIR="$work/home"
mkdir -p "$work/myapp" && cd "$work/myapp"

# Bold only on a terminal, and never under NO_COLOR, as lsm itself does.
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then B=$(printf '\033[1m') R=$(printf '\033[0m'); else B='' R=''; fi
step() { printf '\n%s$ %s%s\n' "$B" "$*" "$R"; }
step lsm init;                         lsm init
step lsm link myapp;                   lsm link myapp
step "printf %s s3cr3t-value | lsm set API_KEY -"; printf %s s3cr3t-value | lsm set API_KEY -
step lsm set DATABASE_URL postgres://localhost/dev; lsm set DATABASE_URL postgres://localhost/dev
step lsm list;                         lsm list
step 'echo "API_KEY is $(lsm get API_KEY)"'; echo "API_KEY is $(lsm get API_KEY)"
step "lsm exec -- sh -c 'echo child sees \${#API_KEY} chars of API_KEY'"
lsm exec -- sh -c 'echo child sees ${#API_KEY} chars of API_KEY' || echo "(exec is not available in this build)"
step lsm audit tail --format text;     lsm audit tail --format text || true
step lsm audit verify;                 lsm audit verify || true
printf '\nThe home was %s; it is removed now.\n' "$LSM_DIR"
