# tests/integration/lib.sh: shared plumbing for the integration tests (bash).
#
# Sourced by tests/integration/tNNNN-*.sh. It starts the real one-api binary
# behind a real web server on free ports, gives the tests curl and JSON helpers
# and TAP assertions, and removes everything on exit.
#
# Environment (all optional):
#   top_srcdir, top_builddir  exported by the Makefile; default: the repo root
#   ONEAPI_BIN                the binary (default: $top_builddir/one-api)
#   OA_WEBSERVER              nginx | lighttpd: run behind this one only
#                             (default: every one that is installed)
#   OA_TEST_DB                sqlite (default) | postgres
#   OA_TEST_PG_DSN            libpq conninfo or URI of a running throwaway PostgreSQL
#                             server (with OA_TEST_DB=postgres); each test creates
#                             its own databases in it and drops them afterwards
#   OA_TEST_THREADS           worker threads for one-api (default 32: cheap under ASan)
#   OA_KEEP=1                 keep the temporary directory even when all passed
#
# A test looks like:
#   . "$(dirname "$0")/lib.sh"
#   for ws in $(oa_webservers); do
#       oa_start "$ws" || continue
#       oa_req GET /api/status
#       is "$OA_STATUS" 200 "$ws: status code"
#       oa_stop
#   done
#   done_testing

set -u -o pipefail

# --- paths -----------------------------------------------------------------

_oa_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$_oa_here/../.." && pwd)}
top_srcdir=$(cd "$top_srcdir" && pwd)        # make sure it is absolute
top_builddir=${top_builddir:-$top_srcdir}
top_builddir=$(cd "$top_builddir" && pwd)
ONEAPI_BIN=${ONEAPI_BIN:-$top_builddir/one-api}
OA_TEST_DB=${OA_TEST_DB:-sqlite}
OA_TEST_THREADS=${OA_TEST_THREADS:-32}
OA_TEST_NAME=$(basename "$0" .sh)
export LC_ALL=C.UTF-8
# The system python3 first: a pyenv shim costs ~0.5 s per call.
if [[ -x /usr/bin/python3 ]]; then OA_PY=/usr/bin/python3; else OA_PY=python3; fi

# One temporary directory per test script: configs, logs, databases, sockets.
# Short paths: unix socket names are limited to 107 bytes.
OA_TMP=$(mktemp -d "${TMPDIR:-/tmp}/oa-${OA_TEST_NAME%%-*}.XXXXXX")
# Web server workers may run as another user (www-data): let them in.
chmod 755 "$OA_TMP"

# --- TAP -------------------------------------------------------------------

_tap_n=0
_tap_failed=0
_tap_done=0

# pass DESC / fail DESC: record one test point.
pass() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $*"; }
fail() { _tap_n=$((_tap_n + 1)); _tap_failed=$((_tap_failed + 1)); echo "not ok $_tap_n - $*"; }

# diag MSG...: a TAP comment (shown in the test's log).
diag() { local l; while IFS= read -r l; do echo "# $l"; done <<<"$*"; }
# tap_relay PREFIX OUTPUT: re-reports the TAP lines a helper program printed ("ok ...",
# "not ok ...") as checks of this test, each named with PREFIX; other lines become
# diagnostics, and no output at all is a failure.
tap_relay() {
    local prefix=$1 out=$2 line
    [[ -n $out ]] || out="not ok the program printed nothing"
    while IFS= read -r line; do
        case $line in
        "ok "*) pass "$prefix: ${line#ok }" ;;
        "not ok "*) fail "$prefix: ${line#not ok }" ;;
        *) diag "$line" ;;
        esac
    done <<<"$out"
}

# skip DESC REASON: a skipped test point.
skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $1 # SKIP ${2:-}"; }

# skip_all REASON: the whole script does not apply here (exit 0, plan 1..0).
skip_all() { echo "1..0 # SKIP $*"; _tap_done=1; exit 0; }

# ok_if DESC CMD...: passes when CMD succeeds.
ok_if() {
    local desc=$1; shift
    if "$@"; then pass "$desc"; else fail "$desc"; diag "command failed: $*"; fi
}

# is GOT WANT DESC: string equality.
is() {
    if [[ "$1" == "$2" ]]; then pass "$3"; return 0; fi
    fail "$3"; diag "     got: '$1'"; diag "expected: '$2'"; return 1
}

# isnt GOT UNWANTED DESC
isnt() {
    if [[ "$1" != "$2" ]]; then pass "$3"; return 0; fi
    fail "$3"; diag "got the unwanted value '$1'"; return 1
}

# like GOT ERE DESC: GOT matches the extended regular expression.
like() {
    if [[ "$1" =~ $2 ]]; then pass "$3"; return 0; fi
    fail "$3"; diag "     got: '$1'"; diag "expected to match: '$2'"; return 1
}

# unlike GOT ERE DESC: GOT does not match the extended regular expression.
unlike() {
    if ! [[ "$1" =~ $2 ]]; then pass "$3"; return 0; fi
    fail "$3"; diag "got a match of '$2' in: '${1:0:400}'"; return 1
}

# done_testing: print the plan; the exit status says whether all passed.
done_testing() {
    _tap_done=1
    echo "1..$_tap_n"
    [[ $_tap_failed -eq 0 ]]
}

# bail_out MSG: abort the whole test (TAP "Bail out!").
bail_out() { echo "Bail out! $*"; _tap_failed=$((_tap_failed + 1)); exit 1; }

# --- helpers ---------------------------------------------------------------

# have CMD: is the command installed? (also looks in sbin, which a non-root PATH may lack)
have() { command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 || -x /sbin/$1 ]]; }
_sbin() { if command -v "$1" >/dev/null 2>&1; then command -v "$1"; elif [[ -x /usr/sbin/$1 ]]; then echo "/usr/sbin/$1"; else echo "/sbin/$1"; fi; }

# free_port: print a TCP port nobody listens on right now (the kernel picks it).
free_port() {
    "$OA_PY" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# rand_name: a short random lowercase name (database names, tokens).
rand_name() { "$OA_PY" -c 'import secrets; print(secrets.token_hex(6))'; }

# pid_alive PID
pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

# wait_exit PID SECONDS: wait for a child to exit; sets OA_EXIT to its status
# (or "timeout" when it is still running after SECONDS).
wait_exit() {
    local pid=$1 deadline=$((SECONDS + $2))
    OA_EXIT=timeout
    while pid_alive "$pid"; do
        # A zombie child still answers kill -0; check its state.
        [[ "$(ps -o stat= -p "$pid" 2>/dev/null)" == Z* ]] && break
        [[ $SECONDS -ge $deadline ]] && return 1
        sleep 0.05
    done
    wait "$pid" 2>/dev/null
    OA_EXIT=$?
    return 0
}

# json_get PATH [JSON]: print one field of a JSON document (default: $OA_BODY).
# PATH is dotted: data.username, error.message, data.list.0.id. Strings print
# raw, true/false/null as JSON, objects as compact JSON. Missing: prints
# nothing, returns 1. Invalid JSON: returns 2.
json_get() {
    local doc=${2-$OA_BODY}
    "$OA_PY" -c '
import json, sys
try:
    v = json.loads(sys.stdin.read())
except ValueError:
    sys.exit(2)
for k in sys.argv[1].split(".") if sys.argv[1] else []:
    if isinstance(v, list) and k.isdigit() and int(k) < len(v):
        v = v[int(k)]
    elif isinstance(v, dict) and k in v:
        v = v[k]
    else:
        sys.exit(1)
if isinstance(v, str):
    sys.stdout.write(v)
else:
    sys.stdout.write(json.dumps(v, ensure_ascii=False, separators=(",", ":")))
' "$1" <<<"$doc"
}

# is_json [JSON]: succeeds when the document (default $OA_BODY) parses as JSON.
is_json() { json_get "" "${1-$OA_BODY}" >/dev/null; }

# --- HTTP ------------------------------------------------------------------

OA_URL=""        # base URL of the web server under test, set by oa_start
OA_STATUS=""     # last response: status code ("000" when the connection failed)
OA_BODY=""       #                body
OA_HEADERS=""    #                headers (CR stripped, one per line)

# oa_req METHOD PATH [CURL ARGS...]: request $OA_URL$PATH; sets OA_STATUS,
# OA_BODY, OA_HEADERS. Extra arguments go to curl (-H, --data-binary, -b/-c ...).
oa_req() {
    local method=$1 path=$2; shift 2
    oa_req_url "$method" "$OA_URL$path" "$@"
}

# oa_req_url METHOD URL [CURL ARGS...]: the same with a full URL.
oa_req_url() {
    local method=$1 url=$2; shift 2
    local m=(-X "$method")
    [[ $method == HEAD ]] && m=(-I)
    OA_STATUS=$(curl -sS --max-time "${OA_CURL_TIMEOUT:-30}" -o "$OA_TMP/.body" -D "$OA_TMP/.hdr" \
        -w '%{http_code}' "${m[@]}" "$@" "$url" 2>"$OA_TMP/.curlerr") || true
    [[ -n "$OA_STATUS" ]] || OA_STATUS=000
    OA_BODY=$(cat "$OA_TMP/.body" 2>/dev/null || true)
    OA_HEADERS=$(tr -d '\r' <"$OA_TMP/.hdr" 2>/dev/null || true)
    rm -f "$OA_TMP/.body" "$OA_TMP/.hdr"
    if [[ $OA_STATUS == 000 ]]; then diag "curl: $(cat "$OA_TMP/.curlerr")"; fi
}

# oa_post_json PATH JSON [CURL ARGS...]
oa_post_json() {
    local path=$1 body=$2; shift 2
    oa_req POST "$path" -H 'Content-Type: application/json' --data-binary "$body" "$@"
}

# header NAME [HEADERS]: the value of the last NAME header (case-insensitive).
header() {
    local name=${1,,} line val=""
    while IFS= read -r line; do
        if [[ ${line,,} == "$name:"* ]]; then val=${line#*:}; val=${val# }; fi
    done <<<"${2-$OA_HEADERS}"
    [[ -n $val ]] || return 1
    printf '%s' "$val"
}

# --- database --------------------------------------------------------------

OA_PG_DBS=()     # databases this test created, dropped on exit
OA_DB_ENV=()     # env assignments for one-api: SQLITE_PATH=... or SQL_DSN=...
OA_DB_LABEL=""   # sqlite or postgres, for messages
OA_DB_PATH=""    # the SQLite file, or the conninfo of the PostgreSQL database

# _pg_dsn_with_db DSN DBNAME: the DSN with its database replaced (conninfo or URI).
_pg_dsn_with_db() {
    "$OA_PY" -c '
import sys, urllib.parse as u
dsn, db = sys.argv[1], sys.argv[2]
if dsn.startswith(("postgres://", "postgresql://")):
    p = u.urlsplit(dsn)
    print(u.urlunsplit((p.scheme, p.netloc, "/" + db, p.query, p.fragment)))
else:
    # libpq conninfo: a later keyword overrides an earlier one
    print(dsn + " dbname=" + db)
' "$1" "$2"
}

# pg_psql DSN ARGS...: run psql quietly, failing on the first error.
pg_psql() { local dsn=$1; shift; PGCONNECT_TIMEOUT=10 psql -X -q -v ON_ERROR_STOP=1 "$dsn" "$@"; }

# oa_db_new: a fresh, empty database for one one-api run; sets OA_DB_ENV and
# OA_DB_PATH. SQLite: a new file in the temp dir. PostgreSQL: CREATE DATABASE.
oa_db_new() {
    OA_DB_LABEL=$OA_TEST_DB
    case $OA_TEST_DB in
    sqlite)
        OA_DB_PATH="$OA_TMP/db-$(rand_name).db"
        OA_DB_ENV=("SQLITE_PATH=$OA_DB_PATH")
        ;;
    postgres)
        [[ -n ${OA_TEST_PG_DSN:-} ]] || bail_out "OA_TEST_DB=postgres needs OA_TEST_PG_DSN"
        have psql || bail_out "OA_TEST_DB=postgres needs psql (postgresql-client)"
        local name="t_$(rand_name)"
        pg_psql "$OA_TEST_PG_DSN" -c "CREATE DATABASE $name" || bail_out "cannot create database $name"
        OA_PG_DBS+=("$name")
        OA_DB_PATH=$(_pg_dsn_with_db "$OA_TEST_PG_DSN" "$name")
        OA_DB_ENV=("SQL_DSN=$OA_DB_PATH")
        ;;
    *) bail_out "unknown OA_TEST_DB '$OA_TEST_DB' (sqlite or postgres)" ;;
    esac
}

# oa_db_query SQL: run one query on the current database, print the rows
# (unaligned, |-separated, no header).
oa_db_query() {
    case $OA_TEST_DB in
    # The busy timeout: one-api's writer may hold the write lock for a moment, and the shell's
    # default is to fail at once ("database is locked"), which a test would not notice.
    sqlite) sqlite3 -batch -bail -cmd ".timeout 5000" "$OA_DB_PATH" "$1" ;;
    postgres) pg_psql "$OA_DB_PATH" -A -t -c "$1" ;;
    esac
}

# oa_db_load FILE: load an SQL script into the current database.
oa_db_load() {
    case $OA_TEST_DB in
    sqlite) sqlite3 -batch -bail -cmd ".timeout 5000" "$OA_DB_PATH" <"$1" ;;
    postgres) pg_psql "$OA_DB_PATH" -f "$1" >/dev/null ;;
    esac
}

# --- servers ---------------------------------------------------------------

OA_WS=""             # web server of the current run: nginx, lighttpd, apache or none
OA_RUN=""            # directory of the current run (configs, logs)
OA_APP_PID=""        # one-api (when we started it ourselves)
OA_WS_PID=""         # the web server
OA_HTTP_PORT=""      # port the web server listens on
OA_FCGI_ADDR=""      # where one-api listens (listening mode)
OA_ENV=()            # extra env for one-api, set by the test before oa_start
OA_ARGS=()           # extra arguments for one-api, set by the test before oa_start
_oa_pids=()          # everything we started, killed on exit
_oa_logs=()          # log files printed when a test failed

# oa_webservers: the web servers to test behind: $OA_WEBSERVER, or every
# installed one of nginx and lighttpd.
oa_webservers() {
    if [[ -n ${OA_WEBSERVER:-} ]]; then echo "$OA_WEBSERVER"; return; fi
    local l=()
    have nginx && l+=(nginx)
    have lighttpd && l+=(lighttpd)
    echo "${l[@]}"
}

# oa_require_bin: skip the whole test when the binary has not been built.
oa_require_bin() {
    [[ -x $ONEAPI_BIN ]] || skip_all "no one-api binary at $ONEAPI_BIN"
}

# oa_require_webserver: skip the whole test when no web server is installed.
oa_require_webserver() {
    [[ -n "$(oa_webservers)" ]] || skip_all "neither nginx nor lighttpd is installed"
}

# _subst TEMPLATE OUT NAME=VALUE...: replace @NAME@ by VALUE.
_subst() {
    local in=$1 out=$2 kv name val script=""
    shift 2
    for kv in "$@"; do
        name=${kv%%=*}; val=${kv#*=}
        val=${val//\\/\\\\}; val=${val//|/\\|}; val=${val//&/\\&}
        script+="s|@$name@|$val|g;"
    done
    sed -e "$script" "$in" >"$out"
}

# _oa_app_args: the one-api command line of a run, in OA_CMD (array).
_oa_app_args() {
    OA_CMD=("$ONEAPI_BIN" --port "$OA_HTTP_PORT" --log-dir "$OA_RUN/logs"
        --threads "$OA_TEST_THREADS" "${OA_ARGS[@]}")
}

# oa_new_run NAME: a new run directory OA_RUN (with logs/ and tmp/), a free
# HTTP port OA_HTTP_PORT and OA_URL; its logs are printed if the test fails.
oa_new_run() {
    OA_RUN=$(mktemp -d "$OA_TMP/$1.XXXX")
    chmod 755 "$OA_RUN"
    mkdir -p "$OA_RUN/logs" "$OA_RUN/tmp"
    OA_HTTP_PORT=$(free_port)
    OA_URL="http://127.0.0.1:$OA_HTTP_PORT"
    _oa_logs+=("$OA_RUN/one-api.out" "$OA_RUN/logs" "$OA_RUN/error.log")
}

# oa_start [WEBSERVER]: start one-api and WEBSERVER in a new run directory, on
# a fresh database unless the test already made one with oa_db_new
# (OA_KEEP_DB=1). WEBSERVER: nginx (one-api listening on TCP), nginx-unix
# (listening on a unix socket), lighttpd (spawned by lighttpd), apache (one-api
# listening; the test then calls oa_apache_start) or none (one-api listens on
# $OA_FCGI_ADDR and no HTTP front end runs). Returns 1 (after a failed test point) when
# something did not come up.
oa_start() {
    OA_WS=${1:-nginx}
    oa_new_run "$OA_WS"
    [[ ${OA_KEEP_DB:-0} == 1 ]] || oa_db_new
    # The console's templates and static files of the tree under test (a test may override).
    local env=("TEMPLATE_DIR=$top_srcdir/templates" "${OA_DB_ENV[@]}" "${OA_ENV[@]}")
    case $OA_WS in
    nginx | nginx-unix | none | apache)
        OA_FCGI_ADDR="127.0.0.1:$(free_port)"
        [[ $OA_WS != nginx-unix ]] || OA_FCGI_ADDR="$OA_RUN/one-api.sock"
        _oa_app_args
        # Listening mode; stdin from /dev/null so fd 0 is not taken for a socket.
        env "${env[@]}" "${OA_CMD[@]}" --listen "$OA_FCGI_ADDR" \
            </dev/null >"$OA_RUN/one-api.out" 2>&1 &
        OA_APP_PID=$!
        _oa_pids+=("$OA_APP_PID")
        ;;
    lighttpd)
        OA_APP_PID=""     # lighttpd spawns it
        ;;
    *) bail_out "unknown web server '$OA_WS'" ;;
    esac

    case $OA_WS in
    nginx | nginx-unix)
        local user="" u g fcgi=$OA_FCGI_ADDR
        [[ $OA_WS != nginx-unix ]] || fcgi="unix:$OA_FCGI_ADDR"
        if [[ $(id -u) -eq 0 ]]; then
            # Workers as root: the binary and temp dirs need no extra permissions.
            u=$(id -un); g=$(id -gn); user="user $u $g;"
        fi
        _subst "$top_srcdir/contrib/nginx.conf.in" "$OA_RUN/nginx.conf" \
            "USER=$user" "PREFIX=$OA_RUN" "LISTEN=127.0.0.1:$OA_HTTP_PORT" \
            "FCGI=$fcgi" "HTDOCS=$top_srcdir/htdocs"
        "$(_sbin nginx)" -p "$OA_RUN" -c "$OA_RUN/nginx.conf" -e "$OA_RUN/error.log" \
            -g 'daemon off;' </dev/null >"$OA_RUN/nginx.out" 2>&1 &
        OA_WS_PID=$!
        _oa_pids+=("$OA_WS_PID")
        _oa_logs+=("$OA_RUN/nginx.out")
        ;;
    lighttpd)
        _oa_app_args
        _subst "$top_srcdir/contrib/lighttpd.conf.in" "$OA_RUN/lighttpd.conf" \
            "PREFIX=$OA_RUN" "BIND=127.0.0.1" "PORT=$OA_HTTP_PORT" \
            "HTDOCS=$top_srcdir/htdocs" "BIN=${OA_CMD[0]}" "ARGS=${OA_CMD[*]:1}"
        # lighttpd hands its environment to the spawned one-api.
        env "${env[@]}" "$(_sbin lighttpd)" -D -f "$OA_RUN/lighttpd.conf" \
            </dev/null >"$OA_RUN/lighttpd.out" 2>&1 &
        OA_WS_PID=$!
        _oa_pids+=("$OA_WS_PID")
        _oa_logs+=("$OA_RUN/lighttpd.out")
        ;;
    none | apache) OA_WS_PID="" ;;
    esac

    if [[ $OA_WS == none || $OA_WS == apache ]]; then
        # Ready when the FastCGI port accepts connections.
        if ! wait_for 30 _oa_tcp_open "$OA_FCGI_ADDR"; then
            fail "$OA_WS: one-api listens on $OA_FCGI_ADDR"; oa_stop 5; return 1
        fi
        return 0
    fi
    if ! wait_for 30 _oa_ready; then
        fail "$OA_WS: one-api answers GET /api/status through $OA_WS ($OA_DB_LABEL)"
        oa_stop 5; return 1
    fi
    if [[ $OA_WS == lighttpd ]]; then OA_APP_PID=$(pgrep -P "$OA_WS_PID" | head -n1); fi
    return 0
}

# --- Apache ----------------------------------------------------------------

OA_APACHE_MODDIR=${OA_APACHE_MODDIR:-/usr/lib/apache2/modules}

# oa_have_apache: Apache (Debian layout) is installed.
oa_have_apache() { have apache2 && [[ -f $OA_APACHE_MODDIR/mod_mpm_event.so ]]; }

# oa_apache_start SNIPPET MPM MODULE...: run a private Apache (its own
# ServerRoot, pid file, runtime dir and port: OA_HTTP_PORT of the current run)
# in the foreground with MPM (event, prefork) and the modules named (proxy,
# proxy_fcgi, cgi, rewrite...), then the directives of the file SNIPPET; wait
# until it accepts connections. Sets OA_WS_PID. Returns 1 if it did not start.
oa_apache_start() {
    local snippet=$1 mpm=$2 m conf="$OA_RUN/apache.conf"; shift 2
    {
        echo "# generated by tests/integration/lib.sh"
        echo "ServerRoot \"$OA_RUN\""
        echo "DefaultRuntimeDir \"$OA_RUN\""
        echo "PidFile \"$OA_RUN/apache.pid\""
        echo "Mutex file:$OA_RUN default"
        echo "Listen 127.0.0.1:$OA_HTTP_PORT"
        echo "ServerName 127.0.0.1"
        echo "ErrorLog \"$OA_RUN/error.log\""
        echo "LogLevel warn"
        # Apache refuses to run children as root: use www-data when we are root.
        if [[ $(id -u) -eq 0 ]]; then echo "User www-data"; echo "Group www-data"; fi
        echo "LoadModule mpm_${mpm}_module $OA_APACHE_MODDIR/mod_mpm_$mpm.so"
        for m in authz_core mime "$@"; do
            echo "LoadModule ${m}_module $OA_APACHE_MODDIR/mod_$m.so"
        done
        echo "TypesConfig /etc/mime.types"
        echo "Include \"$snippet\""
    } >"$conf"
    if ! "$(_sbin apache2)" -t -d "$OA_RUN" -f "$conf" >"$OA_RUN/apache-t.out" 2>&1; then
        fail "$OA_WS: apache2 -t accepts the configuration"; diag "$(cat "$OA_RUN/apache-t.out")"
        return 1
    fi
    # Its own session: on SIGTERM Apache signals its whole process group,
    # which would otherwise include this script.
    setsid "$(_sbin apache2)" -d "$OA_RUN" -f "$conf" -DFOREGROUND </dev/null >"$OA_RUN/apache.out" 2>&1 &
    OA_WS_PID=$!
    _oa_pids+=("$OA_WS_PID")
    _oa_logs+=("$OA_RUN/apache.out")
    if ! wait_for 20 _oa_ws_port_open; then
        fail "$OA_WS: Apache starts"; return 1
    fi
}
_oa_ws_port_open() {
    pid_alive "$OA_WS_PID" || return 2
    (exec 3<>"/dev/tcp/127.0.0.1/$OA_HTTP_PORT") 2>/dev/null
}

# _oa_tcp_open HOST:PORT: something accepts connections there.
_oa_tcp_open() {
    local a=$1
    pid_alive "$OA_APP_PID" || return 2
    (exec 3<>"/dev/tcp/${a%:*}/${a##*:}") 2>/dev/null
}

# _oa_ready: the web server and one-api answer /api/status with a 200.
# Gives up at once (returns 0 with OA_STATUS=dead) if a process died.
_oa_ready() {
    if [[ -n $OA_APP_PID ]] && ! pid_alive "$OA_APP_PID"; then return 2; fi
    pid_alive "$OA_WS_PID" || return 2
    local code
    code=$(curl -s -o /dev/null --max-time 2 -w '%{http_code}' "$OA_URL/api/status" 2>/dev/null) || true
    [[ $code == 200 ]]
}
# wait_for SECONDS CMD...: retry CMD every 0.1 s until it succeeds (0) or
# time is up; CMD returning 2 means hopeless (a process died): stop at once.
wait_for() {
    local deadline=$((SECONDS + $1)) rc; shift
    while :; do
        "$@"; rc=$?
        [[ $rc -eq 0 ]] && return 0
        [[ $rc -eq 2 ]] && return 1       # 2 = hopeless (a process died)
        [[ $SECONDS -ge $deadline ]] && return 1
        sleep 0.1
    done
}

# oa_stop [SECONDS]: stop the web server and one-api of the current run
# (one-api with SIGTERM, so it drains and exits by itself; SIGKILL after
# SECONDS, default 40), then check its output for sanitizer reports (one
# failed test point when there is one).
oa_stop() {
    local grace=${1:-40}
    if pid_alive "$OA_WS_PID"; then
        # nginx: QUIT is graceful; lighttpd: INT is graceful and stops one-api too.
        case $OA_WS in
        nginx*) kill -QUIT "$OA_WS_PID" 2>/dev/null ;;
        lighttpd) kill -INT "$OA_WS_PID" 2>/dev/null ;;
        *) kill -TERM "$OA_WS_PID" 2>/dev/null ;;
        esac
        wait_exit "$OA_WS_PID" "$((grace < 15 ? grace : 15))" || { kill -KILL "$OA_WS_PID" 2>/dev/null; wait "$OA_WS_PID" 2>/dev/null; }
    fi
    if pid_alive "$OA_APP_PID"; then
        kill -TERM "$OA_APP_PID" 2>/dev/null
        wait_exit "$OA_APP_PID" "$grace" || { kill -KILL "$OA_APP_PID" 2>/dev/null; wait "$OA_APP_PID" 2>/dev/null; }
    fi
    _oa_check_sanitizers
    OA_WS_PID="" OA_APP_PID=""
}

# _oa_check_sanitizers: ASan/UBSan/LSan reports in the run's output fail the test.
_oa_check_sanitizers() {
    local f hits=""
    for f in "$OA_RUN"/one-api.out "$OA_RUN"/lighttpd.out "$OA_RUN"/error.log "$OA_RUN"/logs/*; do
        [[ -f $f ]] || continue
        if grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:|SUMMARY: [A-Za-z]+Sanitizer' "$f"; then
            hits+="$f "
        fi
    done
    if [[ -n $hits ]]; then
        fail "$OA_WS: no sanitizer reports from one-api"
        diag "sanitizer output in: $hits"
    fi
}

# oa_dump_logs: print the logs of every run so far to stderr (on failure only).
oa_dump_logs() {
    local f g
    for f in "${_oa_logs[@]}"; do
        if [[ -d $f ]]; then
            for g in "$f"/*; do [[ -f $g ]] && _oa_dump_one "$g"; done
        elif [[ -f $f ]]; then
            _oa_dump_one "$f"
        fi
    done
}
_oa_dump_one() { [[ -s $1 ]] || return 0; echo "=== $1 (last 200 lines) ===" >&2; tail -n 200 "$1" >&2; }

# --- FastCGI client --------------------------------------------------------

# fcgi_request ADDR METHOD URI [BODY_FILE]: talk FastCGI straight to one-api at
# ADDR (host:port or a unix socket path), without a web server; prints the raw
# CGI-style response (headers, blank line, body). Optional env:
#   FCGI_HEADERS  extra params, one "NAME=VALUE" a line (HTTP_COOKIE=...)
#   FCGI_PAUSE_AFTER  send only this many body bytes, create $FCGI_PAUSE_FILE.sent,
#                     wait until $FCGI_PAUSE_FILE exists, then send the rest
fcgi_request() {
    "$OA_PY" - "$@" <<'PY'
import os, socket, struct, sys, time

addr, method, uri = sys.argv[1], sys.argv[2], sys.argv[3]
body = open(sys.argv[4], "rb").read() if len(sys.argv) > 4 and sys.argv[4] else b""

def rec(t, content, rid=1):
    out = b""
    while True:
        chunk, content = content[:65535], content[65535:]
        out += struct.pack(">BBHHBx", 1, t, rid, len(chunk), 0) + chunk
        if not content:
            return out

def nv(k, v):
    k, v = k.encode(), v.encode()
    def ln(n):
        return struct.pack(">B", n) if n < 128 else struct.pack(">I", n | 0x80000000)
    return ln(len(k)) + ln(len(v)) + k + v

path, _, query = uri.partition("?")
params = {
    "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1",
    "SERVER_SOFTWARE": "oa-test", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
    "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000",
    "REQUEST_METHOD": method, "REQUEST_URI": uri, "DOCUMENT_URI": path,
    "SCRIPT_NAME": path, "QUERY_STRING": query,
    "CONTENT_LENGTH": str(len(body)) if body else "",
    "CONTENT_TYPE": "application/json" if body else "",
}
for line in os.environ.get("FCGI_HEADERS", "").splitlines():
    if "=" in line:
        k, v = line.split("=", 1)
        params[k] = v

if ":" in addr and not addr.startswith("/"):
    s = socket.create_connection((addr.rsplit(":", 1)[0], int(addr.rsplit(":", 1)[1])), timeout=60)
else:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(60)
    s.connect(addr)
s.sendall(rec(1, struct.pack(">HB5x", 1, 0)))             # BEGIN_REQUEST responder, no keep_conn
s.sendall(rec(4, b"".join(nv(k, v) for k, v in params.items())) + rec(4, b""))
pause = os.environ.get("FCGI_PAUSE_AFTER")
if pause is not None:
    n = int(pause)
    if n:
        s.sendall(rec(5, body[:n]))
    flag = os.environ["FCGI_PAUSE_FILE"]
    open(flag + ".sent", "w").close()
    while not os.path.exists(flag):
        time.sleep(0.05)
    body = body[n:]
if body:
    s.sendall(rec(5, body))
s.sendall(rec(5, b""))

buf, out = b"", b""
while True:
    try:
        d = s.recv(65536)
    except socket.timeout:
        break
    if not d:
        break
    buf += d
    while len(buf) >= 8:
        ver, t, rid, clen, plen = struct.unpack(">BBHHB", buf[:7])
        if len(buf) < 8 + clen + plen:
            break
        content, buf = buf[8:8 + clen], buf[8 + clen + plen:]
        if t == 6:
            out += content
        elif t == 7:
            sys.stderr.buffer.write(content)
        elif t == 3:
            sys.stdout.buffer.write(out)
            sys.exit(0)
sys.stdout.buffer.write(out)
sys.exit(3)      # no END_REQUEST
PY
}

# http_paused_request PORT METHOD PATH BODY_FILE PAUSE_AFTER FLAG: a raw HTTP/1.0
# request (so the response is not chunked) to 127.0.0.1:PORT that sends the
# headers and PAUSE_AFTER bytes of the body, creates FLAG.sent, waits until
# FLAG exists, sends the rest and prints the raw response (status line,
# headers, body) once the server closes. Keeps a request in flight for as long
# as the test wants.
http_paused_request() {
    "$OA_PY" - "$@" <<'PY'
import os, socket, sys, time
port, method, path, bodyf, n, flag = sys.argv[1:7]
body, n = open(bodyf, "rb").read(), int(n)
s = socket.create_connection(("127.0.0.1", int(port)), timeout=60)
s.sendall(("%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           "Content-Length: %d\r\nConnection: close\r\n\r\n" % (method, path, len(body))).encode()
          + body[:n])
open(flag + ".sent", "w").close()
while not os.path.exists(flag):
    time.sleep(0.05)
s.sendall(body[n:])
out = b""
while True:
    try:
        d = s.recv(65536)
    except (socket.timeout, ConnectionError):
        break
    if not d:
        break
    out += d
sys.stdout.buffer.write(out)
PY
}

# cgi_split FILE: split a CGI/FastCGI (or raw HTTP/1.x) response in FILE into
# OA_STATUS (from "Status:" or the status line; 200 when absent), OA_HEADERS
# and OA_BODY. A chunked HTTP body is left as it is.
cgi_split() {
    local line hdrs="" status=200
    OA_BODY=""
    {
        while IFS= read -r line; do
            line=${line%$'\r'}
            [[ -z $line ]] && break
            hdrs+="$line"$'\n'
            if [[ ${line,,} == status:* ]]; then status=${line#*:}; status=${status# }; status=${status%% *}; fi
            if [[ $line == HTTP/* ]]; then status=${line#* }; status=${status%% *}; continue; fi
        done
        OA_BODY=$(cat)
    } <"$1"
    OA_HEADERS=${hdrs%$'\n'}
    OA_STATUS=$status
}

# --- clean-up --------------------------------------------------------------

_oa_cleanup() {
    local rc=$? p d
    for p in "${_oa_pids[@]}"; do
        if pid_alive "$p"; then
            # Children of lighttpd (the spawned one-api) go with it on TERM.
            kill -TERM "$p" 2>/dev/null
        fi
    done
    for p in "${_oa_pids[@]}"; do
        wait_exit "$p" 10 >/dev/null 2>&1 || kill -KILL "$p" 2>/dev/null
    done
    # Spawned one-api processes that outlived lighttpd.
    [[ -n ${OA_APP_PID:-} ]] && pid_alive "$OA_APP_PID" && kill -KILL "$OA_APP_PID" 2>/dev/null
    for d in "${OA_PG_DBS[@]}"; do
        pg_psql "$OA_TEST_PG_DSN" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 ||
            echo "# could not drop database $d" >&2
    done
    declare -F oa_test_cleanup >/dev/null && oa_test_cleanup
    if [[ $_tap_done -eq 0 ]]; then
        # Died before done_testing: say so in TAP.
        echo "not ok $((_tap_n + 1)) - test script ended early (status $rc)"
        echo "1..$((_tap_n + 1))"
        _tap_failed=$((_tap_failed + 1))
    fi
    if [[ $_tap_failed -gt 0 || $rc -ne 0 ]]; then
        oa_dump_logs
        echo "# kept $OA_TMP for inspection" >&2
        [[ $rc -ne 0 ]] || rc=1
    elif [[ ${OA_KEEP:-0} != 1 ]]; then
        rm -rf "$OA_TMP"
    fi
    exit "$rc"
}
trap _oa_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- relay tests: the mock upstream and a database prepared before start -----
# (used by tests/integration/t03*.sh)

MOCK_PID=""      # the mock upstream (tests/mock)
MOCK_PORT=""
MOCK_URL=""      # http://127.0.0.1:$MOCK_PORT
MOCK_BODY=""     # body of the last mock_ctl answer

# mock_build: print the path of a mock_upstream binary: $MOCK_BIN (make check builds it
# once), or one built from tests/mock/*.c into the test's temporary directory.
mock_build() {
    if [[ -n ${MOCK_BIN:-} ]]; then echo "$MOCK_BIN"; return 0; fi
    local bin="$OA_TMP/mock_upstream"
    if [[ ! -x $bin ]]; then
        # shellcheck disable=SC2046
        "${CC:-cc}" -std=c17 -D_GNU_SOURCE -O1 -o "$bin" "$top_srcdir"/tests/mock/*.c \
            $(pkg-config --cflags --libs json-c libcrypto zlib) >"$OA_TMP/mock-build.log" 2>&1 || return 1
    fi
    echo "$bin"
}

# mock_start: start the mock upstream on a free port; sets MOCK_PID, MOCK_PORT,
# MOCK_URL. Bails out when it cannot be built or does not come up.
mock_start() {
    local bin i
    bin=$(mock_build) || bail_out "cannot build tests/mock: $(cat "$OA_TMP/mock-build.log")"
    "$bin" --port 0 --log-size "${MOCK_LOG_SIZE:-2048}" >"$OA_TMP/mock.out" 2>"$OA_TMP/mock.err" &
    MOCK_PID=$!
    _oa_pids+=("$MOCK_PID")
    _oa_logs+=("$OA_TMP/mock.err")
    MOCK_PORT=""
    for i in $(seq 100); do
        MOCK_PORT=$(sed -n 's/^PORT \([0-9]*\)$/\1/p' "$OA_TMP/mock.out")
        [[ -n $MOCK_PORT ]] && break
        pid_alive "$MOCK_PID" || break
        sleep 0.05
    done
    [[ -n $MOCK_PORT ]] || bail_out "the mock upstream did not start: $(cat "$OA_TMP/mock.err")"
    MOCK_URL="http://127.0.0.1:$MOCK_PORT"
}

# mock_ctl METHOD PATH [BODY]: a control call (/_mock/...); sets MOCK_BODY.
mock_ctl() {
    local a=(-sS --max-time 10 -X "$1" "$MOCK_URL$2")
    [[ $# -ge 3 ]] && a+=(-H 'Content-Type: application/json' --data-binary "$3")
    MOCK_BODY=$(curl "${a[@]}" 2>/dev/null) || MOCK_BODY=""
}

# mock_reset: forget the mock's recorded requests, scripts and counters.
mock_reset() { mock_ctl POST /_mock/reset; }

# oa_db_init [NAME=VALUE...]: a fresh database (oa_db_new), migrated and with
# root bootstrapped by one CGI run of one-api (environment: the database, OA_ENV
# and NAME=VALUE). The test may then insert rows (options, users...) before
# starting one-api on it with OA_KEEP_DB=1 oa_start.
oa_db_init() {
    oa_db_new
    mkdir -p "$OA_TMP/dbinit"
    # Plain CGI refuses to start without a session secret: a default the test may override.
    env SESSION_SECRET="oa-test-dbinit-$(rand_name)" "${OA_DB_ENV[@]}" "${OA_ENV[@]}" "$@" \
        GATEWAY_INTERFACE=CGI/1.1 SERVER_PROTOCOL=HTTP/1.1 SERVER_NAME=127.0.0.1 \
        SERVER_PORT=80 REMOTE_ADDR=127.0.0.1 REQUEST_METHOD=GET REQUEST_URI=/api/status \
        QUERY_STRING= SCRIPT_NAME=/one-api.cgi PATH_INFO=/api/status \
        timeout 30 "$ONEAPI_BIN" --log-dir "$OA_TMP/dbinit" </dev/null \
        >"$OA_TMP/dbinit/cgi.out" 2>"$OA_TMP/dbinit/cgi.err" ||
        bail_out "one-api could not initialise the database: $(cat "$OA_TMP/dbinit/cgi.err")"
}

# oa_set_option KEY VALUE: write one row of the options table (read by one-api
# at start: call it between oa_db_init and oa_start).
oa_set_option() {
    local k=${1//\'/\'\'} v=${2//\'/\'\'}
    oa_db_query "DELETE FROM options WHERE \"key\" = '$k'" >/dev/null &&
        oa_db_query "INSERT INTO options (\"key\", value) VALUES ('$k', '$v')" >/dev/null
}

# relay_env: adds to OA_ENV root's access token ROOT_AT, an unlimited relay key
# ROOT_KEY for root (INITIAL_ROOT_TOKEN: 48 hex chars) and a session secret.
relay_env() {
    ROOT_AT="oa-test-$(rand_name)$(rand_name)"
    ROOT_KEY=$("$OA_PY" -c 'import secrets; print(secrets.token_hex(24))')
    OA_ENV+=("INITIAL_ROOT_ACCESS_TOKEN=$ROOT_AT" "INITIAL_ROOT_TOKEN=$ROOT_KEY"
        "SESSION_SECRET=oa-test-secret-$(rand_name)")
}

# oa_admin METHOD PATH [BODY]: a management request with root's access token.
oa_admin() {
    if [[ $# -ge 3 ]]; then
        oa_req "$1" "$2" -H "Authorization: Bearer $ROOT_AT" -H 'Content-Type: application/json' \
            --data-binary "$3"
    else
        oa_req "$1" "$2" -H "Authorization: Bearer $ROOT_AT"
    fi
}

# oa_add_channel JSON: create a channel through POST /api/channel/; sets CH_ID to
# its id (0 when the creation failed, after a failed test point).
oa_add_channel() {
    oa_admin POST /api/channel/ "$1"
    CH_ID=0
    if [[ $OA_STATUS != 200 || $OA_BODY != *'"success":true'* ]]; then
        fail "$OA_WS: create channel $1"; diag "$OA_STATUS $OA_BODY"; return 1
    fi
    CH_ID=$(oa_db_query "SELECT MAX(id) FROM channels")
}

# oa_add_token JSON [ACCESS_TOKEN]: create a relay key through POST /api/token/
# (as root, or as the user owning ACCESS_TOKEN); sets TOK_KEY and TOK_ID.
oa_add_token() {
    oa_req POST /api/token/ -H "Authorization: Bearer ${2:-$ROOT_AT}" \
        -H 'Content-Type: application/json' --data-binary "$1"
    local f
    f=$(json_fields data.key data.id)
    TOK_KEY=${f%%|*} TOK_ID=${f#*|}
    if [[ $TOK_KEY == "<none>" || $TOK_KEY == "<invalid>" ]]; then fail "$OA_WS: create token $1"; diag "$OA_STATUS $OA_BODY"; return 1; fi
}

# oa_relay PATH KEY BODY [CURL ARGS...]: POST a JSON body to the relay with
# "Authorization: Bearer sk-KEY".
oa_relay() {
    local path=$1 key=$2 body=$3; shift 3
    oa_req POST "$path" -H "Authorization: Bearer sk-$key" -H 'Content-Type: application/json' \
        --data-binary "$body" "$@"
}

# oa_wait_logs N [SECONDS]: wait (default 10 s) until the logs table holds at
# least N consume rows (type 2): the writer commits settlements asynchronously.
oa_wait_logs() {
    local n=$1 deadline=$((SECONDS + ${2:-10})) c
    while :; do
        c=$(oa_db_query "SELECT COUNT(*) FROM logs WHERE type = 2" 2>/dev/null) || c=0
        [[ ${c:-0} -ge $n ]] && return 0
        [[ $SECONDS -ge $deadline ]] && return 1
        sleep 0.05
    done
}

# json_fields PATH... : several fields of $OA_BODY (JSON_DOC if set) with one
# python start, joined by "|"; each printed as json_get does, "<none>" when
# missing, the whole output "<invalid>" when the document is not JSON.
json_fields() {
    "$OA_PY" -c '
import json, sys
try:
    doc = json.loads(sys.stdin.read())
except ValueError:
    print("<invalid>"); sys.exit(0)
out = []
for path in sys.argv[1:]:
    v, ok = doc, True
    for k in path.split(".") if path else []:
        if isinstance(v, list) and k.isdigit() and int(k) < len(v):
            v = v[int(k)]
        elif isinstance(v, dict) and k in v:
            v = v[k]
        else:
            ok = False; break
    if not ok:
        out.append("<none>")
    elif isinstance(v, str):
        out.append(v)
    else:
        out.append(json.dumps(v, ensure_ascii=False, separators=(",", ":")))
sys.stdout.write("|".join(out))
' "$@" <<<"${JSON_DOC-$OA_BODY}"
}

# hex_key [N]: N (default 48) random hex characters, without starting python.
hex_key() { head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n' | cut -c1-"${1:-48}"; }

# sse_summary [TEXT]: one line describing an SSE body (default $OA_BODY) in the OpenAI
# chat/completions chunk format, fields joined by "|":
#   done_last  1 when the last event is "data: [DONE]" (and it occurs once), else 0
#   content    the concatenated choices[].delta.content (or choices[].text)
#   tool       the tool_calls function names seen, comma-joined
#   args       the concatenated tool_calls function arguments
#   finish     the last non-null finish_reason
#   usage      "P/C" from the last chunk with a usage object, "none" without one
#   bare       chunks with an empty choices array and no usage object
#   errors     events whose JSON has an "error" member
#   events     data events before [DONE]
#   other      lines that are neither "data: ..." nor blank (comments, event: ...)
sse_summary() {
    "$OA_PY" -c '
import json, sys
text = sys.stdin.read()
datas, other = [], 0
for line in text.replace("\r\n", "\n").split("\n"):
    if line.startswith("data: "):
        datas.append(line[6:])
    elif line.startswith("data:"):
        datas.append(line[5:])
    elif line.strip():
        other += 1
done_last = 1 if datas and datas[-1] == "[DONE]" and datas.count("[DONE]") == 1 else 0
content, tools, args, finish, usage, bare, errors, events = "", [], "", "", "none", 0, 0, 0
for d in datas:
    if d == "[DONE]":
        continue
    events += 1
    try:
        j = json.loads(d)
    except ValueError:
        continue
    if not isinstance(j, dict):
        continue
    if "error" in j:
        errors += 1
    u = j.get("usage")
    if isinstance(u, dict):
        usage = "%s/%s" % (u.get("prompt_tokens"), u.get("completion_tokens"))
    ch = j.get("choices")
    if isinstance(ch, list) and not ch and not isinstance(u, dict):
        bare += 1
    for c in ch if isinstance(ch, list) else []:
        dl = c.get("delta") or {}
        if isinstance(dl.get("content"), str):
            content += dl["content"]
        if isinstance(c.get("text"), str):
            content += c["text"]
        for tc in dl.get("tool_calls") or []:
            f = tc.get("function") or {}
            if f.get("name"):
                tools.append(f["name"])
            if isinstance(f.get("arguments"), str):
                args += f["arguments"]
        if c.get("finish_reason"):
            finish = c["finish_reason"]
print("|".join(str(x) for x in (done_last, content, ",".join(tools), args, finish, usage, bare, errors, events, other)))
' <<<"${1-$OA_BODY}"
}

# relay_bill DESC MODEL_RATIO COMPLETION_RATIO [FIXED_QUOTA]: the request just made added
# one consume log row (type 2) whose quota is ceil((prompt + completion x completion ratio)
# x model ratio) from its own token counts (group ratio 1), or is FIXED_QUOTA ("tokens": the row's token count, for
# transcripts whose count depends on the tokenizer files); root's users.quota dropped by
# exactly that quota. Two test points. State: N_LOGS (consume rows so far) and UQ (root's
# users.quota after the last billed request), set by relay_bill_start after oa_start;
# LOG_P, LOG_C, LOG_MODEL, LOG_STREAM, LOG_CONTENT get the new row's prompt and completion
# tokens, model_name, is_stream (1/0) and content.
N_LOGS=0
UQ=0
LOG_P="" LOG_C="" LOG_MODEL="" LOG_STREAM="" LOG_CONTENT=""
relay_bill() {
    local desc=$1 mr=$2 cr=$3 fixed=${4:-} row n q want uq deadline=$((SECONDS + 5))
    N_LOGS=$((N_LOGS + 1))
    # One query: the row count, the newest row and root's quota (the row and the quota
    # are committed together by the writer).
    while :; do
        row=$(oa_db_query "SELECT (SELECT COUNT(*) FROM logs WHERE type = 2), quota, prompt_tokens, completion_tokens, model_name, CASE WHEN is_stream THEN 1 ELSE 0 END, (SELECT quota FROM users WHERE id = 1), content FROM logs WHERE type = 2 ORDER BY id DESC LIMIT 1")
        n=${row%%|*}
        [[ ${n:-0} -ge $N_LOGS || $SECONDS -ge $deadline ]] && break
        sleep 0.03
    done
    if [[ ${n:-0} -lt $N_LOGS ]]; then
        fail "$desc: one consume log row"
        N_LOGS=${n:-0}
        return 1
    fi
    IFS='|' read -r n q LOG_P LOG_C LOG_MODEL LOG_STREAM uq LOG_CONTENT <<<"$row"
    if [[ $n -gt $N_LOGS ]]; then
        fail "$desc: exactly one consume log row (got $((n - N_LOGS + 1)))"
        N_LOGS=$n
    fi
    if [[ $fixed == tokens ]]; then
        want=$((LOG_P + LOG_C)) # the caller checks the ratio itself: the row's tokens
    elif [[ -n $fixed ]]; then
        want=$fixed
    else
        want=$(awk -v p="$LOG_P" -v c="$LOG_C" -v mr="$mr" -v cr="$cr" 'BEGIN {
            x = (p + c * cr) * mr; y = int(x); if (x > y) y++
            if (mr != 0 && y <= 0) y = 1; if (p + c == 0) y = 0; printf "%d", y }')
    fi
    if [[ -n $fixed ]]; then
        is "$q" "$want" "$desc: billed $want (prompt $LOG_P, completion $LOG_C)"
    else
        is "$q" "$want" "$desc: billed ceil(($LOG_P + $LOG_C x $cr) x $mr) = $want"
    fi
    is "$((UQ - uq))" "$q" "$desc: users.quota dropped by exactly the logged quota"
    UQ=$uq
}

# relay_bill_start: reset the relay_bill state for a fresh one-api run (root is user 1).
relay_bill_start() {
    N_LOGS=$(oa_db_query "SELECT COUNT(*) FROM logs WHERE type = 2")
    UQ=$(oa_db_query "SELECT quota FROM users WHERE id = 1")
}

# mock_keys: the API keys of the requests the mock recorded since its reset, oldest first,
# comma-joined ("" for a request without one).
mock_keys() {
    mock_ctl GET /_mock/requests
    "$OA_PY" -c 'import json, sys; print(",".join(r.get("key") or "" for r in json.loads(sys.stdin.read())))' <<<"$MOCK_BODY"
}

# mock_keys_statuses: "key:status" of the same requests, comma-joined.
mock_keys_statuses() {
    mock_ctl GET /_mock/requests
    "$OA_PY" -c 'import json, sys; print(",".join("%s:%s" % (r["key"], r["status"]) for r in json.loads(sys.stdin.read())))' <<<"$MOCK_BODY"
}

# same_json A B: 0 when the JSON texts A and B hold equal values (key order and spacing aside).
same_json() { "$OA_PY" -c 'import json, sys; sys.exit(json.loads(sys.argv[1]) != json.loads(sys.argv[2]))' "$1" "$2" 2>/dev/null; }

# mock_last FIELD...: fields of the last request the mock received (json_fields paths).
mock_last() {
    mock_ctl GET '/_mock/requests?limit=1'
    local f a=()
    for f; do a+=("0.$f"); done
    JSON_DOC=$MOCK_BODY json_fields "${a[@]}"
}

# --- contrib/run, the README's quick start -----------------------------------------------------

# run_start [NAME=VALUE...]: serves the binary under test with contrib/run (nginx in front)
# from a scratch copy of contrib/ in $OA_TMP/c, so nothing is written into the source tree;
# the assignments are added to its environment (after the defaults, so they win). Sets
# RUN_CLONE (the copy: data/, logs/ and run/ are there), RUN_PID, RUN_TOKEN (root's access
# token) and OA_URL, and passes a test point once /api/status answers through nginx; bails
# out when it does not within a minute.
run_start() {
    RUN_CLONE=$OA_TMP/c
    mkdir -p "$RUN_CLONE/contrib" "$RUN_CLONE/htdocs"
    cp "$top_srcdir"/contrib/{run,nginx.conf.in,lighttpd.conf.in,fetch-tiktoken} "$RUN_CLONE/contrib/"
    local port _
    port=$(free_port)
    RUN_TOKEN="oa-test-$(rand_name)$(rand_name)"
    env SKIP_APT=1 PORT="$port" BIND=127.0.0.1 ONEAPI_BIN="$ONEAPI_BIN" \
        TIKTOKEN_CACHE_DIR="$OA_TMP/no-rank-files" SESSION_SECRET="oa-test-$(rand_name)" \
        INITIAL_ROOT_ACCESS_TOKEN="$RUN_TOKEN" "$@" \
        bash "$RUN_CLONE/contrib/run" nginx >"$OA_TMP/run.log" 2>&1 &
    RUN_PID=$!
    _oa_pids+=("$RUN_PID")
    _oa_logs+=("$OA_TMP/run.log")
    OA_URL="http://127.0.0.1:$port"
    for _ in $(seq 300); do
        oa_req GET /api/status 2>/dev/null && [[ $OA_STATUS == 200 ]] && break
        pid_alive "$RUN_PID" || break
        sleep 0.2
    done
    is "$OA_STATUS" 200 "contrib/run serves /api/status through nginx" ||
        { diag "$(tail -n 30 "$OA_TMP/run.log")"; bail_out "contrib/run did not start"; }
    _oa_logs+=("$RUN_CLONE/logs/oneapi-$(date +%Y%m%d).log")
}

# run_admin METHOD PATH [JSON]: a management API request to run_start's gateway as root.
run_admin() {
    oa_req "$1" "$2" -H "Authorization: Bearer $RUN_TOKEN" -H 'Content-Type: application/json' \
        ${3:+--data-binary "$3"}
}

# --- the official OpenAI SDK ----------------------------------------------------------------

# Where npm's openai@4 is installed, once per user (OA_SDK_CACHE overrides it).
OA_SDK_DIR=${OA_SDK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/one-api-tests/openai-sdk}

# sdk_check DESC: 0 when the official OpenAI SDK is ready, installing it on first use.
# Without node and npm, DESC is skipped ("node and npm are needed"); when npm cannot install
# the package, DESC fails with npm's last words. Either way it returns 1.
sdk_check() {
    if ! { have node && have npm; }; then
        skip "$1" "node and npm are needed"
        return 1
    fi
    [[ -d $OA_SDK_DIR/node_modules/openai ]] && return 0
    mkdir -p "$OA_SDK_DIR"
    if ! (cd "$OA_SDK_DIR" && npm init -y >/dev/null 2>&1 &&
        timeout 300 npm install --no-audit --no-fund openai@4 >"$OA_TMP/npm.log" 2>&1); then
        fail "$1: cannot install the openai package: $(tail -3 "$OA_TMP/npm.log" 2>/dev/null)"
        return 1
    fi
}

# sdk_run SCRIPT ARG...: runs the ES module SCRIPT, which imports from "openai", against the
# SDK sdk_check installed, with ARGs (at most 180 s); prints what it prints, errors included.
sdk_run() {
    local script=$1
    shift
    sed "s|from \"openai\"|from \"$OA_SDK_DIR/node_modules/openai/index.mjs\"|" "$script" >"$OA_TMP/sdk-run.mjs"
    timeout 180 node "$OA_TMP/sdk-run.mjs" "$@" 2>&1
}

# --- the console ---------------------------------------------------------------------------

# html_valid DESC: $OA_BODY is a well-formed HTML5 document by tidy (errors fail; warnings
# about proprietary attributes and empty elements are printed, not counted).
html_valid() {
    local out
    out=$(tidy -q -e --show-warnings no --drop-empty-elements no <<<"$OA_BODY" 2>&1)
    is "$out" "" "$1"
}

# page_csrf: the CSRF token of the first form of $OA_BODY.
page_csrf() {
    sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' <<<"$OA_BODY" | head -n 1
}

# console_login JAR USER PASSWORD: signs in through the console's form; the session and CSRF
# cookies end in JAR. Sets CSRF (the token to post with JAR's forms). Fails a test point when
# the sign-in does not redirect.
console_login() {
    local jar=$1 user=$2 pass=$3
    oa_req GET /login -c "$jar" -b "$jar"
    CSRF=$(page_csrf)
    oa_req POST /login -c "$jar" -b "$jar" --data-urlencode "csrf=$CSRF" \
        --data-urlencode "username=$user" --data-urlencode "password=$pass"
    if [[ $OA_STATUS != 303 ]]; then fail "$OA_WS: console sign-in as $user"; diag "$OA_STATUS"; return 1; fi
}

# page_post JAR PATH FIELD=VALUE...: posts a console form with JAR's cookies and $CSRF.
page_post() {
    local jar=$1 path=$2 kv args=(); shift 2
    for kv in "$@"; do args+=(--data-urlencode "$kv"); done
    oa_req POST "$path" -c "$jar" -b "$jar" --data-urlencode "csrf=$CSRF" "${args[@]}"
}
