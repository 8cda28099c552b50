#!/usr/bin/env bash
# Keep main's newest saved run, in its compact form (python -m bench keep), on
# the bench-history branch (checked out in ./bench-history from its tip only),
# then push it. The raw run stays in .benchmarks/ for the job's artifacts.
# Once 1 000 single-run files gather there they are packed into one file.
set -euo pipefail

git config user.name "github-actions[bot]"
git config user.email "41898282+github-actions[bot]@users.noreply.github.com"
if git ls-remote --exit-code --heads origin bench-history >/dev/null; then
  git fetch --no-tags --depth=1 origin bench-history
  git worktree add bench-history FETCH_HEAD
  git -C bench-history checkout -B bench-history
else
  git worktree add --detach bench-history
  git -C bench-history checkout --orphan bench-history
  git -C bench-history rm -rf --quiet .
fi

run=$(find .benchmarks -name '[0-9][0-9][0-9][0-9]_*.json' | sort | tail -n 1)
if [ -z "$run" ]; then
  echo "no saved run under .benchmarks/" >&2
  exit 1
fi
# Named by time and commit: unique, and in the order the runs were made.
named="$(mktemp -d)/$(date -u +%Y%m%dT%H%M%S)_${GITHUB_SHA:0:12}.json"
cp "$run" "$named"
python -m bench keep "$named" --into bench-history/kept --pack 1000

git -C bench-history add --all kept
git -C bench-history commit --quiet -m "kept benchmark run of ${GITHUB_SHA}"
git -C bench-history push origin HEAD:bench-history
