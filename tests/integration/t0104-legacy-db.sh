#!/usr/bin/env bash
# t0104: an existing database of the Go One API works as is: one-api starts on
# it, the legacy user logs in with the password it had ($2a$ bcrypt), and
# neither the users nor the password hash change.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

case $OA_TEST_DB in
sqlite)
    dump="$top_srcdir/tests/data/oneapi-sqlite.sql"
    have sqlite3 || skip_all "the sqlite3 command-line shell is not installed"
    ;;
postgres)
    dump="$top_srcdir/tests/data/oneapi-postgres.sql"
    ;;
esac
[[ -f $dump ]] || skip_all "no $dump"

# One database per web server, loaded from the dump before one-api starts.
OA_KEEP_DB=1
for ws in $(oa_webservers); do
    oa_db_new
    if ! oa_db_load "$dump" 2>"$OA_TMP/load.err"; then
        fail "$ws: load $(basename "$dump") into $OA_TEST_DB"; diag "$(cat "$OA_TMP/load.err")"
        continue
    fi
    users_before=$(oa_db_query "SELECT count(*) FROM users")
    hash_before=$(oa_db_query "SELECT password FROM users WHERE username = 'legacy'")
    roots=$(oa_db_query "SELECT count(*) FROM users WHERE username = 'root'")
    like "$hash_before" '^\$2a\$' "$ws: the dump has the legacy user with a \$2a\$ bcrypt hash"

    oa_start "$ws" || continue
    jar="$OA_RUN/cookies.txt"
    oa_post_json /api/user/login '{"username":"legacy","password":"legacypass1"}' -c "$jar"
    is "$OA_STATUS" 200 "$ws: legacy login is 200"
    is "$(json_get success)" true "$ws: legacy login succeeds ($OA_TEST_DB)"
    is "$(json_get data.username)" legacy "$ws: ... data.username"
    oa_req GET /api/user/self -b "$jar"
    is "$(json_get success):$(json_get data.username)" "true:legacy" "$ws: the legacy session works"

    oa_post_json /api/user/login '{"username":"legacy","password":"wrong-pass"}'
    is "$(json_get success)" false "$ws: a wrong password for legacy is refused"
    # The Go One API creates root only in an empty users table.
    if [[ $roots == 0 ]]; then
        oa_post_json /api/user/login '{"username":"root","password":"123456"}'
        is "$(json_get success)" false "$ws: no root/123456 was added to an existing database"
    fi
    oa_stop

    is "$(oa_db_query "SELECT count(*) FROM users")" "$users_before" "$ws: the number of users is unchanged"
    is "$(oa_db_query "SELECT password FROM users WHERE username = 'legacy'")" "$hash_before" \
        "$ws: the legacy password hash is unchanged"
done

done_testing
