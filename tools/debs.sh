#!/bin/sh
# tools/debs.sh WHAT PACKAGE...: makes sure the Debian packages are installed, for the make
# target WHAT names. Installs the missing ones when run as root; otherwise prints the exact
# apt-get line to run and fails. Exit 0 when everything is there. Packages with a service
# (nginx) are not started by the install: /usr/sbin/policy-rc.d forbids it meanwhile.
set -u
what=$1; shift
missing=""
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "installing for $what:$missing"
    policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
    fi
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
    rc=$?
    [ -n "$policy" ] && rm -f "$policy"
    exit $rc
else
    echo "missing packages for $what; run as root:"
    echo "  apt-get update && apt-get install -y$missing"
    exit 1
fi
