#!/usr/bin/env bash
# test_openapi.sh - openapi.yaml passes a real OpenAPI 3.1 linter: Redocly CLI (npm package
# @redocly/cli, version pinned) with the recommended rules (tests/redocly.yaml), with no error
# and no warning. tests/test_api.sh checks the other half: that the spec and the running server
# agree on every route and status.
set -u
cd "$(dirname "$0")/.."
REDOCLY=@redocly/cli@2.77.0
pass=0; fail=0
out=$(mktemp); trap 'rm -f "$out"' EXIT
if ! command -v npx >/dev/null 2>&1; then
    echo "not ok lint: npx (Node.js with npm) is needed to run $REDOCLY" >&2
    fail=1
else
    timeout 600 npx -y "$REDOCLY" lint --config tests/redocly.yaml openapi.yaml >"$out" 2>&1
    rc=$?
    if [ $rc = 0 ] && grep -q 'Your API description is valid' "$out" && ! grep -qE 'You have [0-9]+ warning' "$out"; then
        pass=1; echo "ok lint: openapi.yaml is valid OpenAPI with no warnings"
    else
        fail=1; echo "not ok lint: $REDOCLY lint exited $rc" >&2; tail -n 40 "$out" >&2
    fi
fi
echo "test_openapi.sh: $pass passed, $fail failed"
[ "$fail" = 0 ]
