#!/bin/sh
# Runs gqlrun under valgrind's memcheck and fails on any memory error or leak, or
# when gqlrun's exit status is not the expected one.
#   gqlrun_valgrind.sh EXPECTED_STATUS GQLRUN [ARGS…]
# valgrind's own --error-exitcode=1 would be ambiguous with gqlrun's status 1 (syntax
# or validation errors), so the error summary in its log decides as well.
set -u
expected=$1
shift
log=$(mktemp)
trap 'rm -f "$log"' EXIT
valgrind --error-exitcode=1 --leak-check=full --show-leak-kinds=definite,indirect,possible \
  --errors-for-leak-kinds=definite,indirect,possible --log-file="$log" "$@" >/dev/null
status=$?
if ! grep -q "ERROR SUMMARY: 0 errors" "$log"; then
  cat "$log"
  echo "valgrind found errors (status $status)"
  exit 1
fi
if [ "$status" -ne "$expected" ]; then
  cat "$log"
  echo "gqlrun exited with $status, expected $expected"
  exit 1
fi
grep -E "ERROR SUMMARY|in use at exit" "$log"
exit 0
