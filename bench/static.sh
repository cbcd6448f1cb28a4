#!/usr/bin/env bash
# Static files: driftd (with its open-file cache, and with it off) against
# nginx (without and with open_file_cache), lighttpd and h2o, in one run.
# Every server has one worker (one thread) pinned to CPU 0; wrk runs on
# CPU 1. It measures server CPU time per request (wrk is the ceiling for
# requests/s on two cores), prints medians and driftd's ratio to the best
# peer, with a verdict per target, and saves the table to
# bench/out/static.txt.
#
#   bash bench/static.sh            # or: just bench-static (just bench runs it too)
#
# Environment (all optional):
#   DURATION=3 WARMUP=1 ROUNDS=3 CONNECTIONS=50 SERVER_CPU=0 CLIENT_CPU=1 (bench/lib.sh)
#   DRIFTD=path    this driftd binary instead of a fresh x86_64 build
#   PEERS="nginx nginx-cache lighttpd h2o"   which peers to run
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION=${DURATION:-3}
WARMUP=${WARMUP:-1}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-50}
PEERS=${PEERS:-nginx nginx-cache lighttpd h2o}

# Settings, cleanup on any exit, nginx/wrk/curl, the driftd build.
# shellcheck source=bench/lib.sh
source bench/lib.sh
install_missing lighttpd=lighttpd h2o=h2o

# --- the files --------------------------------------------------------------------

chmod 755 "$TMP"   # nginx workers run as nobody
WWW=$TMP/www
mkdir -p "$WWW"
head -c 1024 /dev/urandom >"$WWW/1k.bin"
head -c 65536 /dev/urandom >"$WWW/64k.bin"
# --- the servers ------------------------------------------------------------------

declare -A PORT PID
used=()
start() { # NAME COMMAND...: start a server pinned to the server CPU
    local name=$1; shift
    taskset -c "$SERVER_CPU" "$@" >"$TMP/$name.log" 2>&1 &
    PID[$name]=$!
    STARTED+=("${PID[$name]}")
    wait_ready "$name" "${PID[$name]}" "${PORT[$name]}" /1k.bin
    remember "${PID[$name]}"
}
port_for() { PORT[$1]=$(free_port "${used[@]}"); used+=("${PORT[$1]}"); }

SERVERS=(driftd driftd-nocache)
port_for driftd
start driftd "$DRIFTD" --bind "$HOST" --port "${PORT[driftd]}" --workers 1 --quiet --root "$WWW"
port_for driftd-nocache
start driftd-nocache "$DRIFTD" --bind "$HOST" --port "${PORT[driftd-nocache]}" --workers 1 --quiet --root "$WWW" --file-cache 0

for peer in $PEERS; do
    port_for "$peer"
    case $peer in
        nginx | nginx-cache)
            cache=""
            [[ $peer == nginx-cache ]] && cache="open_file_cache max=1000 inactive=60s; open_file_cache_valid 60s;"
            cat >"$TMP/$peer.conf" <<EOF
worker_processes 1;
daemon off;
pid $TMP/$peer.pid;
error_log $TMP/$peer-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000;
    keepalive_timeout 65s;
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    client_body_temp_path $TMP/$peer-body;
    $cache
    server { listen $HOST:${PORT[$peer]}; root $WWW; }
}
EOF
            start "$peer" "$NGINX" -p "$TMP" -e "$TMP/$peer-error.log" -c "$TMP/$peer.conf"
            ;;
        lighttpd)
            cat >"$TMP/lighttpd.conf" <<EOF
server.document-root = "$WWW"
server.bind = "$HOST"
server.port = ${PORT[lighttpd]}
server.pid-file = "$TMP/lighttpd.pid"
server.errorlog = "$TMP/lighttpd-error.log"
server.max-keep-alive-requests = 100000
server.max-keep-alive-idle = 65
mimetype.assign = (".bin" => "application/octet-stream")
EOF
            start lighttpd "$(command -v lighttpd || echo /usr/sbin/lighttpd)" -D -f "$TMP/lighttpd.conf"
            ;;
        h2o)
            cat >"$TMP/h2o.conf" <<EOF
listen:
  host: $HOST
  port: ${PORT[h2o]}
num-threads: 1
user: $(id -un)
pid-file: $TMP/h2o.pid
error-log: $TMP/h2o-error.log
hosts:
  "default":
    paths:
      "/":
        file.dir: $WWW
EOF
            start h2o "$(command -v h2o)" -c "$TMP/h2o.conf"
            ;;
        *) die "unknown peer $peer" ;;
    esac
    SERVERS+=("$peer")
done

# Same bytes from everyone.
for s in "${SERVERS[@]}"; do
    for f in 1k.bin 64k.bin; do
        curl -s --max-time 2 -o "$TMP/check" "http://$HOST:${PORT[$s]}/$f"
        cmp -s "$TMP/check" "$WWW/$f" || die "$s serves $f wrong"
    done
done

# --- measure ----------------------------------------------------------------------

declare -A M
declare -A R   # R[server,scenario] = CPU µs/request, one per round
SCENARIOS=("ka-1k:/1k.bin:" "pipe-1k:/1k.bin:pipeline" "ka-64k:/64k.bin:")

run() { # SERVER SCENARIO ROUND
    local name=${2%%:*} rest=${2#*:} mode=keepalive out u0 s0 u1 s1 req non2xx
    local path=${rest%%:*}
    [[ ${rest#*:} == pipeline ]] && mode=pipelined
    out="$OUT_DIR/static-$1-$name-$3.txt"
    log "bench: round $3/$ROUNDS, $1, $name"
    if ((WARMUP > 0)); then run_wrk "$WARMUP" "${PORT[$1]}" "$mode" /dev/null "$CONNECTIONS" "$path"; fi
    read -r u0 s0 < <(cpu_ticks "${PID[$1]}")
    run_wrk "$DURATION" "${PORT[$1]}" "$mode" "$out" "$CONNECTIONS" "$path"
    read -r u1 s1 < <(cpu_ticks "${PID[$1]}")
    kill -0 "${PID[$1]}" 2>/dev/null || die "$1 died during the run"
    read -r req _ _ _ non2xx < <(wrk_stats "$out")
    ((non2xx == 0)) || die "$1 answered non-2xx in $name: $(cat "$out")"
    R[$1,$name]+=" $(us_per_req $((u1 + s1 - u0 - s0)) "$req")"
}

mkdir -p "$OUT_DIR"
rm -f "$OUT_DIR"/static-*.txt
for ((round = 1; round <= ROUNDS; round++)); do
    # Interleaved, and in a different order each round, so drift in the
    # machine's speed lands on all alike.
    mapfile -t order < <(printf '%s\n' "${SERVERS[@]}" | if ((round % 2)); then cat; else tac; fi)
    for sc in "${SCENARIOS[@]}"; do
        for s in "${order[@]}"; do run "$s" "$sc" "$round"; done
    done
done

# --- report -----------------------------------------------------------------------

declare -A TARGET_RATIO=([ka-1k]=0.85 [pipe-1k]=0.5 [ka-64k]=0.9)
declare -A LABEL=([ka-1k]="1 KiB file, keep-alive" [pipe-1k]="1 KiB file, pipelined x16" [ka-64k]="64 KiB file, keep-alive")
{
    echo "static files — $(date -u '+%Y-%m-%d %H:%M:%SZ'), $(uname -srm), $(nproc) CPUs: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "server CPU time per request (µs), median of $ROUNDS rounds; servers on CPU $SERVER_CPU (one worker each), wrk -t1 -c$CONNECTIONS -d${DURATION}s on CPU $CLIENT_CPU"
    echo "driftd: $DRIFTD ($(stat -c %s "$DRIFTD") bytes); nginx: $("$NGINX" -v 2>&1 | sed 's/.*: //'); lighttpd: $(lighttpd -v 2>&1 | head -1 | awk '{print $1}'); h2o: $(h2o --version 2>&1 | head -1 | awk '{print $3}')"
    echo
    printf '%-28s' scenario
    for s in "${SERVERS[@]}"; do printf '%15s' "$s"; done
    printf '%12s %-8s %s\n' "vs best" target verdict
    for sc in "${SCENARIOS[@]}"; do
        k=${sc%%:*}
        printf '%-28s' "${LABEL[$k]}"
        best=""; bestname=""
        for s in "${SERVERS[@]}"; do
            M[$s]=$(median <<<"${R[$s,$k]}")
            printf '%15.2f' "${M[$s]}"
            if [[ $s != driftd* ]] && { [[ -z $best ]] || lt "${M[$s]}" "$best"; }; then best=${M[$s]}; bestname=$s; fi
        done
        r=$(awk -v a="${M[driftd]}" -v b="$best" 'BEGIN {printf "%.2f", a / b}')
        v=$(le "$r" "${TARGET_RATIO[$k]}" && echo PASS || echo FAIL)
        printf '%12s %-8s %s\n' "${r}x" "<=${TARGET_RATIO[$k]}x" "$v (best peer: $bestname)"
    done
    echo
    echo "(driftd-nocache is driftd --file-cache 0; nginx-cache has open_file_cache max=1000;"
    echo " every run's wrk output: $OUT_DIR/static-SERVER-SCENARIO-ROUND.txt)"
} | tee "$OUT_DIR/static.txt"
