#!/usr/bin/env bash
# t0108: options come from the options table at start (defaults otherwise), and with
# MEMORY_CACHE_ENABLED they are re-read every SYNC_FREQUENCY seconds, so a change made by
# another node (here: straight into the database) shows without a restart.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

base_env=("${OA_ENV[@]}")
for ws in $(oa_webservers); do
    OA_ENV=("${base_env[@]}")
    oa_db_init
    oa_set_option SystemName "Gateway A"
    OA_ENV+=(MEMORY_CACHE_ENABLED=true SYNC_FREQUENCY=1)
    OA_KEEP_DB=1 oa_start "$ws" || continue
    oa_req GET /api/status
    is "$(json_fields data.system_name data.quota_per_unit)" "Gateway A|500000" \
        "$ws: a stored option overrides its default; others keep theirs"
    oa_set_option SystemName "Gateway B"
    seen=""
    for _ in $(seq 40); do
        oa_req GET /api/status
        seen=$(json_fields data.system_name)
        [[ $seen == "Gateway B" ]] && break
        sleep 0.1
    done
    is "$seen" "Gateway B" "$ws: a change in the table shows within SYNC_FREQUENCY"
    oa_stop
done
done_testing
