#!/usr/bin/env bash
# test_openapi.sh - openapi.yaml passes a real OpenAPI 3.1 linter: Redocly CLI (npm package
# @redocly/cli, version pinned) with the recommended rules (tests/redocly.yaml), with no error
# and no warning. The linter is installed once into $BUILD/redocly (tools/redocly.sh) and run
# from there; the test checks that a run needs no network once it is installed (npm pointed at
# a closed port), and that a failed install says what failed and which npm registry and
# certificate settings it used (an install into a scratch directory from that closed port).
# On a machine that cannot download it (no route to the registry, or a TLS proxy it does not
# trust, e.g. a bare chroot) the lint is reported as skipped with npm's reason; any other failed
# install fails the test.
# tests/test_api.sh checks the other half: that the spec and the running server agree on every
# route and status.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
VERSION=2.77.0
pass=0; fail=0
T=$(mktemp -d /tmp/nclrec-openapi.XXXXXX); trap 'rm -rf "$T"' EXIT
ok() { pass=$((pass + 1)); echo "ok $1"; }
bad() { fail=$((fail + 1)); echo "not ok $1" >&2; }
# No npm can reach this registry: a closed port on this machine.
OFFLINE=(env npm_config_registry=http://127.0.0.1:9/ npm_config_cache="$T/npm-cache" npm_config_fetch_retries=0)

sh tools/redocly.sh "$BUILD/redocly" "$VERSION" --version >"$T/install.out" 2>&1
rc=$?
if [ $rc = 0 ]; then
    ok "lint: @redocly/cli@$VERSION installed in $BUILD/redocly"
elif [ $rc = 3 ]; then
    # tools/redocly.sh could not download it (no route, no DNS, or a TLS proxy whose authority
    # this machine does not trust): nothing about openapi.yaml is known, so the lint is skipped,
    # loudly.
    echo "skip lint: @redocly/cli@$VERSION could not be downloaded here, so openapi.yaml was not linted:"
    sed 's/^/    /' "$T/install.out"
else
    bad "lint: @redocly/cli@$VERSION could not be installed in $BUILD/redocly (exit $rc):"
    cat "$T/install.out" >&2
fi
if [ $rc = 0 ]; then
    "${OFFLINE[@]}" timeout 600 sh tools/redocly.sh "$BUILD/redocly" "$VERSION" lint --config tests/redocly.yaml \
        openapi.yaml >"$T/lint.out" 2>&1
    lrc=$?
    if [ $lrc = 0 ] && grep -q 'Your API description is valid' "$T/lint.out" &&
        ! grep -qE 'You have [0-9]+ warning' "$T/lint.out"; then
        ok "lint: openapi.yaml is valid OpenAPI with no warnings (run with npm's registry unreachable)"
    else
        bad "lint: @redocly/cli@$VERSION lint exited $lrc"; tail -n 40 "$T/lint.out" >&2
    fi
fi

"${OFFLINE[@]}" sh tools/redocly.sh "$T/fresh" "$VERSION" --version >"$T/fail.out" 2>&1
frc=$?
if [ $frc = 3 ] && grep -q "failed" "$T/fail.out" && grep -q 'registry: *http://127.0.0.1:9/' "$T/fail.out" &&
    grep -q 'cafile:' "$T/fail.out" && grep -q 'strict-ssl:' "$T/fail.out" && grep -q 'NODE_EXTRA_CA_CERTS' "$T/fail.out" &&
    grep -q 'npm ERR! code ECONNREFUSED\|npm error code ECONNREFUSED' "$T/fail.out"; then
    ok "lint: a failed download says what failed (npm's code), the registry and certificate settings and how to fix them, and exits 3, the code the skip above takes"
else
    bad "lint: a failed install (registry unreachable) exited $frc and said:"; cat "$T/fail.out" >&2
fi
echo "test_openapi.sh: $pass passed, $fail failed"
[ "$fail" = 0 ]
