#!/usr/bin/env bash
# What the seed's sync script does on a no-op minute, for comparison with `localhost-ops sync`.
set -euo pipefail
repo="$1" worktree="$2" port="$3" envfile="$4"
command -v git >/dev/null
command -v node >/dev/null
command -v npm >/dev/null
node_version=$(node -v)
npm_version=$(npm -v)
git -C "$repo" fetch --quiet origin main
head=$(git -C "$worktree" rev-parse HEAD)
target=$(git -C "$worktree" rev-parse origin/main)
dirty=$(git -C "$worktree" status --porcelain)
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${port}/")
status=noop
[ "$head" = "$target" ] && [ -z "$dirty" ] && [ "$code" -lt 500 ] || status=update
cat >"${envfile}.tmp" <<ENV
LAST_SYNC_AT="$(date '+%Y-%m-%d %H:%M:%S')"
LAST_SYNC_STATUS="$status"
LAST_SYNC_SHA="$head"
LAST_SYNC_NODE="$node_version"
LAST_SYNC_NPM="$npm_version"
ENV
mv "${envfile}.tmp" "$envfile"
