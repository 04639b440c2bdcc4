#!/bin/sh
# check_layering.sh - every #include of core/ and server/ points down (make check-layering).
#
#   core/                   a library of its own: no server header, no libmicrohttpd, jansson
#                           or SQLite
#   server/base/            log, metrics                  (may include core/)
#   server/http/            the HTTP layer, JSON buffer   (+ base/)
#   server/config/          the settings                  (+ http/)
#   server/store/           SQLite                        (+ config/)
#   server/model/           the served model, retrain     (+ store/)
#   server/replica/         the feeds and the follower    (+ model/)
#   server/api/             the routes                    (+ replica/)
#   server/*.c              main and the subcommands      (anything)
#
# A folder's file includes its own folder's headers by plain name and a lower folder's as
# "folder/file.h". From store/, only store/store.h is included outside it (its one public
# header). libmicrohttpd is used in http/ only, SQLite in store/ and replica/feed.c (the
# changefeed's read-only connection). Prints every offending line; exit status 1 if any.
set -u
cd "$(dirname "$0")/.."
layers="base http config store model replica api"
rank() { # rank of a folder in $layers (top-level server/ files: 99)
    r=0
    for l in $layers; do
        [ "$l" = "$1" ] && { echo $r; return; }
        r=$((r + 1))
    done
    echo 99
}
bad=0
fail() { echo "check-layering: $1"; bad=1; }

for f in core/*; do
    grep -nE '#include *[<"](microhttpd|jansson|sqlite3)\.h|#include *"(\.\./)?server/' "$f" |
        while IFS= read -r l; do echo "check-layering: $f:$l: core/ must not use server code or its libraries"; done
    grep -qE '#include *[<"](microhttpd|jansson|sqlite3)\.h|#include *"(\.\./)?server/' "$f" && bad=1
done

for f in $(find server -name '*.c' -o -name '*.h' | sort); do
    dir=$(dirname "$f")
    folder=${dir#server}
    folder=${folder#/}
    [ -z "$folder" ] && folder=top
    me=$(rank "$folder")
    grep -n '#include *"' "$f" | sed 's/^\([0-9]*\):.*#include *"\([^"]*\)".*/\1 \2/' > /tmp/check_layering.$$
    while read -r line inc; do
        case "$inc" in
        */*)
            to=${inc%%/*}
            [ -f "server/$inc" ] || { fail "$f:$line: \"$inc\" is not a server header"; continue; }
            [ "$(rank "$to")" -lt "$me" ] || fail "$f:$line: \"$inc\" points up or sideways (server/$folder may include only lower folders: $layers)"
            [ "$to" = store ] && [ "$inc" != store/store.h ] && fail "$f:$line: outside store/, include only store/store.h (the store's public header)"
            ;;
        *)
            [ -f "$dir/$inc" ] || [ -f "core/$inc" ] || fail "$f:$line: \"$inc\" is neither in $dir/ nor in core/ (name a lower folder: \"folder/$inc\")"
            ;;
        esac
    done < /tmp/check_layering.$$
    rm -f /tmp/check_layering.$$
    case "$folder" in http) ;; *) grep -q '#include *<microhttpd.h>' "$f" && fail "$f: libmicrohttpd is used in server/http/ only" ;; esac
    case "$folder:$f" in store:* | *:server/replica/feed.c) ;; *) grep -q '#include *<sqlite3.h>' "$f" && fail "$f: SQLite is used in server/store/ (and replica/feed.c) only" ;; esac
done
exit $bad
