#!/bin/sh
# tools/redocly.sh DIR VERSION [ARGS...]: runs the Redocly CLI (npm package @redocly/cli at
# exactly VERSION) installed in DIR (e.g. build/redocly) with ARGS. The first run installs it
# there with npm; later runs use that copy and need no network. When the install fails, says
# what failed, the npm registry and certificate settings it used and how to fix them, and
# exits 3 when npm could not download the package (the registry unreachable, or its TLS
# certificate not trusted here: a machine matter, not the spec's), 2 for any other failure
# (the linter's own failures keep its exit status).
set -u
dir=$1 version=$2
shift 2
bin=$dir/node_modules/.bin/redocly
pkg=$dir/node_modules/@redocly/cli/package.json

# npm's error codes for a registry this machine cannot reach or does not trust.
UNREACHABLE='code (SELF_SIGNED_CERT[A-Z_]*|UNABLE_TO_[A-Z_]*|CERT_[A-Z_]*|DEPTH_ZERO_SELF_SIGNED_CERT|ERR_TLS_CERT_ALTNAME_INVALID|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH)'

installed() {
    [ -x "$bin" ] && [ -f "$pkg" ] && grep -q "\"version\": *\"$version\"" "$pkg"
}

# What npm used, and the usual fixes, for an install that failed.
explain() {
    echo "redocly: 'npm install @redocly/cli@$version' into $dir failed (exit $1); npm said (all of it in $dir/install.log):"
    { grep -E '^npm (error|ERR!)' "$dir/install.log" || tail -n 10 "$dir/install.log"; } | head -n 10 | sed 's/^/  | /'
    echo "  npm $(npm --version 2>/dev/null), node $(node --version 2>/dev/null)"
    echo "  registry:   $(npm config get registry 2>/dev/null)"
    echo "  cafile:     $(npm config get cafile 2>/dev/null)"
    echo "  strict-ssl: $(npm config get strict-ssl 2>/dev/null)"
    echo "  proxy:      $(npm config get https-proxy 2>/dev/null)"
    echo "  NODE_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS:-(unset)}"
    if grep -qiE 'certificate|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|CERT_' "$dir/install.log"; then
        echo "  The registry's TLS certificate is not trusted by Node.js here (a proxy or another"
        echo "  trust store). Point npm at the certificate authority that signs it, then rerun:"
        echo "    export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt   # or the proxy's CA file"
        echo "    npm config set cafile /etc/ssl/certs/ca-certificates.crt"
    else
        echo "  Check that the registry above is reachable (npm config set registry URL for a mirror,"
        echo "  npm config set https-proxy URL behind a proxy), then rerun."
    fi
    echo "  Once installed in $dir, the linter runs without the network."
}

if ! installed; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "redocly: npm (Node.js) is needed to install @redocly/cli@$version; make deps installs it"
        exit 2
    fi
    mkdir -p "$dir"
    timeout 600 npm install --prefix "$dir" --no-audit --no-fund --no-save "@redocly/cli@$version" \
        >"$dir/install.log" 2>&1
    rc=$?
    if [ $rc != 0 ] || ! installed; then
        explain $rc
        grep -qE "$UNREACHABLE" "$dir/install.log" && exit 3
        exit 2
    fi
fi
# No usage report and no update check: the lint runs the same without the network.
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true exec "$bin" "$@"
