#!/usr/bin/env bash
# Fails when a tracked file still holds a merge-conflict marker (a line that is exactly
# "=======" or starts with "<<<<<<< " / ">>>>>>> "), naming each place.
cd "$1" || exit 2
found=$(git grep -n -I -E '^(<<<<<<< |>>>>>>> |=======$)' -- . ':!tests/lint/check_merge_markers.sh' || true)
if [ -n "$found" ]; then
  echo "merge-conflict markers left in tracked files:"
  echo "$found"
  exit 1
fi
echo "no merge-conflict markers"
