#!/usr/bin/env bash
# Keep main's newest saved run on the bench-history branch (checked out in
# ./bench-history), numbered after the runs already kept there, then push it.
set -euo pipefail

git config user.name "github-actions[bot]"
git config user.email "41898282+github-actions[bot]@users.noreply.github.com"
if git ls-remote --exit-code --heads origin bench-history >/dev/null; then
  git fetch origin bench-history
  git worktree add bench-history origin/bench-history
else
  git worktree add --detach bench-history
  git -C bench-history checkout --orphan bench-history
  git -C bench-history rm -rf --quiet .
fi
mkdir -p bench-history/runs

run=$(find .benchmarks -name '[0-9][0-9][0-9][0-9]_*.json' | sort | tail -n 1)
if [ -z "$run" ]; then
  echo "no saved run under .benchmarks/" >&2
  exit 1
fi
kept=$(find bench-history/runs -name '*.json' | wc -l)
name=$(printf '%04d_%s_%s.json' "$((kept + 1))" "${GITHUB_SHA:0:12}" "$(date -u +%Y%m%dT%H%M%S)")
cp "$run" "bench-history/runs/$name"

git -C bench-history add "runs/$name"
git -C bench-history commit --quiet -m "benchmark run of ${GITHUB_SHA}"
git -C bench-history push origin HEAD:bench-history
