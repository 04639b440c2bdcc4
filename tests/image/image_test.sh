#!/usr/bin/env bash
# image_test.sh - builds deploy/Dockerfile and checks the image for real, without a Docker engine.
#
# podman and buildah from Debian build and run the image. No registry is needed: the base
# image debian:bookworm-slim is made with debootstrap (minbase, trimmed as the official slim
# image is) and imported under that name; the tarball is cached in $BUILD/image/ so a second
# run skips it. Builds use chroot isolation with the host network (apt inside the build reaches
# Debian's mirror, and the container's daemon listens on the host's loopback).
#
# Checks: the image builds (the builder stage runs `make test` unless IMAGE_RUN_TESTS=0); its
# configuration (non-root user, volume, port, stop signal, health check, environment); in a
# container: the binary runs, every shared library resolves, faiss is linked statically, and,
# when the binary has the daemon (`nclrec serve --help` works), `nclrec run` on a bind-mounted
# data volume answers /readyz and /recommend on 127.0.0.1, the HEALTHCHECK command passes, the
# store and checkpoint land on the volume, and SIGTERM stops it with exit status 0.
#
#   tests/image/image_test.sh               everything above
#   tests/image/image_test.sh --build-only  only build the image (make image)
#
# Environment: BUILD (build), IMAGE_NAME (localhost/nclrec:test), IMAGE_RUN_TESTS (1),
# DEBIAN_MIRROR (http://deb.debian.org/debian), READY_TIMEOUT seconds (240).
# Prints "image_test: P passed, F failed, S skipped" and exits 1 on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
IMAGE_NAME=${IMAGE_NAME:-localhost/nclrec:test}
IMAGE_RUN_TESTS=${IMAGE_RUN_TESTS:-1}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
READY_TIMEOUT=${READY_TIMEOUT:-240}
BASE=docker.io/library/debian:bookworm-slim
CACHE=$BUILD/image
BASE_TAR=$CACHE/bookworm-slim.tar
ISO=(--isolation=chroot)
mkdir -p "$CACHE"
pass=0; fail=0; skip=0
CTR=""; DAEMON=""; T=""
T0=$SECONDS

cleanup() {
    [ -n "$DAEMON" ] && stop_tree "$DAEMON" KILL
    [ -n "$CTR" ] && buildah rm "$CTR" >/dev/null 2>&1
    [ -n "$T" ] && rm -rf "$T"
    return 0
}
trap cleanup EXIT

check() { # check NAME COMMAND...: passes when the command succeeds
    local name=$1; shift
    if "$@"; then pass=$((pass + 1)); echo "ok $name"
    else fail=$((fail + 1)); echo "not ok $name" >&2; fi
}
skipped() { skip=$((skip + 1)); echo "SKIP $1"; }
step() { echo "== [$((SECONDS - T0)) s] $*"; }

# Installs podman, buildah and debootstrap when missing (as root), else says what to run.
need_tools() {
    local missing="" p
    for p in podman buildah debootstrap; do command -v "$p" >/dev/null || missing="$missing $p"; done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" != 0 ]; then
        echo "missing:$missing; run as root: apt-get install -y$missing" >&2; exit 1
    fi
    echo "installing:$missing"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
}

# Trims a minbase tree the way the official slim image is: no docs, manuals or locales now
# or in later installs, apt's caches emptied, and the same package sources.
slim_rootfs() {
    local r=$1
    rm -rf "$r"/usr/share/doc/* "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/locale/* \
           "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/* \
           "$r"/var/log/* "$r"/etc/apt/sources.list
    cat >"$r/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
    cat >"$r/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Binary::apt::APT::Keep-Downloaded-Packages "false";
EOF
    cat >"$r/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    : >"$r/etc/resolv.conf"; : >"$r/etc/hostname"
}

# Makes the base image from the cached tarball, or debootstraps it first.
ensure_base() {
    if podman image exists "$BASE"; then step "base image $BASE present"; return 0; fi
    if [ ! -s "$BASE_TAR" ]; then
        local root=$CACHE/rootfs
        step "debootstrap --variant=minbase bookworm ($MIRROR)"
        rm -rf "$root"
        nice -n 10 debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
            || { tail -n 20 "$CACHE/debootstrap.log" >&2; exit 1; }
        slim_rootfs "$root"
        tar -C "$root" --numeric-owner -cf "$BASE_TAR.tmp" . && mv "$BASE_TAR.tmp" "$BASE_TAR"
        rm -rf "$root"
    fi
    step "importing $BASE_TAR as $BASE"
    podman import -q --change 'CMD ["bash"]' "$BASE_TAR" "$BASE" >/dev/null
}

build_image() {
    step "podman build -f deploy/Dockerfile (RUN_TESTS=$IMAGE_RUN_TESTS; log in $CACHE/build.log)"
    local t=$SECONDS args=("${ISO[@]}" --network=host --pull=never --format docker
                           --build-arg RUN_TESTS="$IMAGE_RUN_TESTS" -f deploy/Dockerfile)
    if ! nice -n 10 podman build "${args[@]}" -t "$IMAGE_NAME" . >"$CACHE/build.log" 2>&1; then
        tail -n 40 "$CACHE/build.log" >&2
        echo "image build failed after $((SECONDS - t)) s (log: $CACHE/build.log)" >&2
        return 1
    fi
    grep -E '^[0-9]+ passed, [0-9]+ failed' "$CACHE/build.log" | tail -n 1 | sed 's/^/builder stage: make test: /' || true
    local size
    size=$(podman image inspect --format '{{.Size}}' "$IMAGE_NAME")
    echo "built $IMAGE_NAME in $((SECONDS - t)) s; size $((size / 1000000)) MB ($size bytes)"
    keep_cache_only "${args[@]}"
}

# Tags the builder stage (all cached by now) so its package layer stays as the cache for the
# next build, then drops the layers of earlier builds: each build would otherwise leave a few
# hundred MB behind. Only images labelled by deploy/Dockerfile are pruned.
keep_cache_only() {
    podman build "$@" --target builder -t localhost/nclrec-builder:cache . >>"$CACHE/build.log" 2>&1 || return 0
    local l
    for l in nclrec nclrec-builder; do
        podman image prune -f --filter "label=org.opencontainers.image.title=$l" >/dev/null 2>&1 || true
    done
}

cfg() { podman image inspect --format "$1" "$IMAGE_NAME"; }
cfg_has() { cfg "$1" | grep -q -- "$2"; }

check_config() {
    check "config: runs as uid 10001" cfg_has '{{.Config.User}}' '^10001:10001$'
    check "config: exposes 8080/tcp" cfg_has '{{json .Config.ExposedPorts}}' '"8080/tcp"'
    check "config: volume /var/lib/nclrec" cfg_has '{{json .Config.Volumes}}' '"/var/lib/nclrec"'
    check "config: stop signal SIGTERM" cfg_has '{{.Config.StopSignal}}' '^SIGTERM$'
    check "config: health check runs nclrec probe" cfg_has '{{json .Config.Healthcheck}}' '"nclrec","probe"'
    check "config: NCLREC_LISTEN=0.0.0.0:8080" cfg_has '{{json .Config.Env}}' '"NCLREC_LISTEN=0.0.0.0:8080"'
    check "config: NCLREC_DATA_DIR on the volume" cfg_has '{{json .Config.Env}}' '"NCLREC_DATA_DIR=/var/lib/nclrec"'
    check "config: entrypoint nclrec serve" cfg_has '{{json .Config.Entrypoint}} {{json .Config.Cmd}}' '^\["nclrec"\] \["serve"\]$'
}

crun() { buildah run "${ISO[@]}" "$@"; } # crun [OPTIONS] CTR -- COMMAND...

lists_commands() { crun "$CTR" -- nclrec --help | grep -q '^commands:'; }
runs_as_10001() { [ "$(crun "$CTR" -- id -u)" = 10001 ]; }
no_build_tools() { ! crun "$CTR" -- sh -c 'command -v cc || command -v make || test -e /usr/include/faiss' 2>/dev/null; }
ships_docs() { crun "$CTR" -- test -s /usr/local/share/nclrec/openapi.yaml -a -s /usr/local/share/nclrec/sql/schema.sql; }
lacks() { ! grep -q -- "$1" <<<"$2"; } # lacks STRING TEXT

check_binary() {
    check "container: nclrec --help lists the commands" lists_commands
    check "container: runs as uid 10001" runs_as_10001
    local libs
    libs=$(crun "$CTR" -- ldd /usr/local/bin/nclrec)
    check "container: every shared library resolves" lacks 'not found' "$libs"
    check "container: faiss is linked statically" lacks libfaiss "$libs"
    check "container: no compiler, make or faiss headers in the runtime image" no_build_tools
    check "container: schema and OpenAPI spec shipped" ships_docs
}

# Signals a process and all its descendants (by pid, children first collected from /proc).
stop_tree() {
    local pid=$1 sig=$2 kids c
    kids=$(cat /proc/"$pid"/task/*/children 2>/dev/null || true)
    for c in $kids; do stop_tree "$c" "$sig"; done
    kill -s "$sig" "$pid" 2>/dev/null || true
}

# The innermost descendant of a pid: the daemon under buildah's chroot helpers.
leaf_of() {
    local pid=$1 kids
    while kids=$(cat /proc/"$pid"/task/*/children 2>/dev/null) && [ -n "${kids// /}" ]; do
        pid=${kids%% *}
    done
    echo "$pid"
}

recommends() { [ "$1" = 200 ] && grep -q '"items"' "$T/body"; }
on_volume() { [ -s "$T/data/nclrec.db" ] && [ -n "$(ls "$T/data/models/")" ]; }
owned_by_10001() { [ -z "$(find "$T/data" ! -uid 10001)" ]; }
http_code() { curl -s -o "$T/body" -w '%{http_code}' --max-time 5 "$1" || true; }

# Starts `nclrec run` in the container on a kernel-chosen port; waits for /readyz.
check_daemon() {
    if ! crun "$CTR" -- nclrec serve --help >/dev/null 2>&1; then
        skipped "daemon: 'nclrec serve --help' does not work in this build; /readyz, /recommend, probe and SIGTERM not checked"
        return 0
    fi
    T=$(mktemp -d /tmp/nclrec-image.XXXXXX)
    mkdir "$T/data" && chown 10001:10001 "$T/data"
    step "nclrec run in the container (data volume $T/data)"
    crun --env NCLREC_LISTEN=127.0.0.1:0 --env NCLREC_RETRAIN_THREADS=1 \
        --volume "$T/data:/var/lib/nclrec" "$CTR" -- nclrec run >"$T/log" 2>&1 &
    DAEMON=$!
    local port="" code="" i t=$SECONDS
    for ((i = 0; i < READY_TIMEOUT * 2; i++)); do
        kill -0 "$DAEMON" 2>/dev/null || break
        [ -z "$port" ] && port=$(sed -n 's/.*"event":"listening".*"port":\([0-9]*\).*/\1/p' "$T/log" | head -n 1)
        if [ -n "$port" ]; then code=$(http_code "http://127.0.0.1:$port/readyz"); [ "$code" = 200 ] && break; fi
        sleep 0.5
    done
    echo "port ${port:-none}; /readyz $code after $((SECONDS - t)) s"
    check "daemon: listens on 127.0.0.1 (port $port)" test -n "$port"
    check "daemon: /readyz answers 200" test "$code" = 200
    if [ "$code" = 200 ]; then
        code=$(http_code "http://127.0.0.1:$port/recommend?user=u1&k=5")
        check "daemon: /recommend answers 200 with items" recommends "$code"
        check "daemon: the HEALTHCHECK command passes" \
            crun --env NCLREC_LISTEN="127.0.0.1:$port" "$CTR" -- nclrec probe --timeout 3
        check "daemon: store and checkpoint are on the volume" on_volume
    fi
    check "daemon: files on the volume belong to uid 10001" owned_by_10001
    local leaf rc=0
    leaf=$(leaf_of "$DAEMON")
    kill -TERM "$leaf" 2>/dev/null || true
    for ((i = 0; i < 60; i++)); do kill -0 "$DAEMON" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$DAEMON" 2>/dev/null; then
        stop_tree "$DAEMON" KILL; rc=timeout
    else
        wait "$DAEMON" || rc=$?
    fi
    DAEMON=""
    check "daemon: SIGTERM stops it with status 0 (got $rc)" test "$rc" = 0
    [ "$fail" = 0 ] || tail -n 30 "$T/log" >&2
}

need_tools
ensure_base
if [ "${1:-}" = --build-only ]; then
    build_image
    exit
fi
check "image: podman build -f deploy/Dockerfile" build_image
if podman image exists "$IMAGE_NAME" && [ "$fail" = 0 ]; then
    check_config
    CTR=$(buildah from --pull-never "$IMAGE_NAME")
    check_binary
    check_daemon
fi
echo "total $((SECONDS - T0)) s"
echo "image_test: $pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
