#!/usr/bin/env bash
# Capacity, driftd vs nginx, in one run, on this machine (issue 9).
#
# Both servers as in bench.sh (one worker each, on CPU 0, same body); nginx
# gets worker_connections and worker_rlimit_nofile at the hard RLIMIT_NOFILE.
# The clients run on CPU 1: tests/hold.py holds the connections, wrk loads.
# For each server it measures
#   - worker RSS per idle keep-alive connection (one GET answered on each, then
#     silence) at each of LEVELS, the worker's CPU while the most sit idle,
#     and its RSS 3 s after they have closed (what a burst leaves behind);
#   - fresh-client latency (PROBES sequential `Connection: close` GETs), alone
#     and under a flood of FLOOD half-sent heads;
#   - requests/s and server CPU per request, wrk -c50 against -c$ACTIVE;
# then prints one table with the driftd/nginx ratios and a verdict per target,
# and saves it to bench/out/capacity.txt.
#
#   bash bench/capacity.sh              # or: just bench-capacity (just bench runs it too)
#
# Environment (all optional):
#   LEVELS="1000 10000 max"  idle connections held; max = the hard limit less 500
#   IDLE_SECONDS=10          worker CPU measured over this, at the last level
#   FLOOD=5000 PROBES=100
#   DURATION=10 SETTLE=3     wrk runs SETTLE s, then SETTLE+DURATION s: CPU/request
#                            is their difference, so opening the connections is left out
#   ACTIVE=10000             connections of the many-connection wrk run
#   DRIFTD=path SERVER_CPU=0 CLIENT_CPU=1
# A smoke run: LEVELS="1000 max" IDLE_SECONDS=2 DURATION=2 SETTLE=2 bash bench/capacity.sh
#
# Processes it starts are stopped on exit, whatever the exit. Loopback only.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

LEVELS=${LEVELS:-1000 10000 max}
IDLE_SECONDS=${IDLE_SECONDS:-10}
FLOOD=${FLOOD:-5000}
PROBES=${PROBES:-100}
DURATION=${DURATION:-10}
SETTLE=${SETTLE:-3}
ACTIVE=${ACTIVE:-10000}
CONNECTIONS=50
source bench/lib.sh
command -v python3 >/dev/null || die "python3 is needed (tests/hold.py holds the connections)"

MAX=$((HARD - 500))   # the server's listener, log and spare descriptors fit in the rest
((MAX <= 28000)) || MAX=28000   # one client address has about 28,000 ephemeral ports
# nginx closes idle keep-alive connections once fewer than 1/16 of its
# worker_connections are free: give it room for MAX, as many as it can open.
NGINX_CONNS=$((MAX * 9 / 8 + 64)) NGINX_NOFILE=$HARD
# driftd sizes its table from the descriptor limit itself; start it with the
# usual soft limit so that it has to raise it, as it would in a container.
ulimit -S -n 1024
# nginx's keepalive_timeout (bench/nginx.conf.in): no idle connection may
# time out while the most are being opened and then measured.
DRIFTD_EXTRA=(--idle-timeout 65)
start_servers
declare -A PORT=([driftd]=$DRIFTD_PORT [nginx]=$NGINX_PORT) PID=([driftd]=$DRIFTD_PID [nginx]=$NGINX_PID)

worker_of() { # ROOT_PID -> the one worker process under it
    local w
    read -r w _ <"/proc/$1/task/$1/children" || true
    [[ -n $w ]] || die "no worker under pid $1"
    echo "$w"
}
declare -A WORKER=([driftd]=$(worker_of "$DRIFTD_PID") [nginx]=$(worker_of "$NGINX_PID"))

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

ticks() { # PID -> utime + stime (clock ticks), from lib.sh's cpu_ticks
    local u s
    read -r u s < <(cpu_ticks "$1")
    echo $((u + s))
}

# --- tests/hold.py as a coprocess: one at a time ----------------------------------

HOLDS=0
hold_start() { # PORT N MODE -> HOLD_LINE `held K of N in T s: open=.. 200=..`
    # Each holder connects from its own address, clear of the last one's TIME_WAITs.
    HOLDS=$((HOLDS + 1))
    coproc HOLDER { exec taskset -c "$CLIENT_CPU" python3 tests/hold.py "$HOST" "$1" "$2" "$3" 60 "127.0.1.$HOLDS"; }
    # shellcheck disable=SC2153 # coproc HOLDER sets HOLDER_PID
    HOLD_PID=$HOLDER_PID HOLD_OUT=${HOLDER[0]} HOLD_IN=${HOLDER[1]}
    STARTED+=("$HOLD_PID")
    IFS= read -r -t 150 -u "$HOLD_OUT" HOLD_LINE || die "hold.py $*: no answer"
    log "bench: hold.py $*: $HOLD_LINE"
}

hold_ask() { # COMMAND -> HOLD_LINE
    echo "$1" >&"$HOLD_IN"
    IFS= read -r -t 120 -u "$HOLD_OUT" HOLD_LINE || die "hold.py $1: no answer"
    log "bench: hold.py $1: $HOLD_LINE"
}

hold_stop() { # hold.py closes every connection and exits
    exec {HOLD_IN}>&-
    wait "$HOLD_PID" || true
    sleep 1   # let the server see the closes and give memory back
}

field() { sed -En "s/(^|.* )$1=([0-9]+).*/\2/p" <<<"$HOLD_LINE" | grep . || echo 0; } # KEY -> its count in HOLD_LINE

# --- measure ------------------------------------------------------------------------

declare -A M   # M[server,metric]
mkdir -p "$OUT_DIR"
ORDER=(driftd nginx)
LAST_LEVEL=

for level in $LEVELS; do
    n=$([[ $level == max ]] && echo "$MAX" || echo "$level")
    LAST_LEVEL=$n
    for server in "${ORDER[@]}"; do
        w=${WORKER[$server]}
        before=$(rss_kib "$w")
        hold_start "${PORT[$server]}" "$n" get
        sleep 1
        hold_ask status
        held=$(field held)   # answered and still open: a full table's 503s are not held
        M[$server,held$n]=$held
        after=$(rss_kib "$w")
        M[$server,rss$n]=$after
        M[$server,per$n]=$(awk -v a="$after" -v b="$before" -v n="$held" 'BEGIN {printf "%.3f", (n > 0 ? (a - b) / n : 0)}')
        if [[ $level == "${LEVELS##* }" ]]; then
            t0=$(ticks "$w")
            sleep "$IDLE_SECONDS"
            t1=$(ticks "$w")
            M[$server,idlecpu]=$(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v d="$IDLE_SECONDS" 'BEGIN {printf "%.2f", t / hz / d * 100}')
            hold_ask status
            M[$server,stillopen]=$(field open)
        fi
        hold_stop
        if [[ $level == "${LEVELS##* }" ]]; then
            sleep 3   # the burst is over: what does the worker keep?
            M[$server,rssafter]=$(rss_kib "$w")
            M[$server,rssbefore]=$before
        fi
    done
done

for server in "${ORDER[@]}"; do
    hold_start "${PORT[$server]}" 0 none
    hold_ask "probe $PROBES"
    M[$server,lat0]=$(field median_us) M[$server,p990]=$(field p99_us)
    hold_stop
    hold_start "${PORT[$server]}" "$FLOOD" half
    M[$server,flooded]=$(field open)
    hold_ask "probe $PROBES"
    M[$server,lat]=$(field median_us) M[$server,p99]=$(field p99_us) M[$server,ok]=$(field 200)
    hold_stop
done

# Both runs of a pair open the same connections: the difference between a
# SETTLE-second run and a SETTLE+DURATION one is the cost of requests alone.
for conns in "$CONNECTIONS" "$ACTIVE"; do
    for server in "${ORDER[@]}"; do
        for d in "$SETTLE" $((SETTLE + DURATION)); do
            out="$OUT_DIR/capacity-wrk-$server-c$conns-${d}s.txt"
            log "bench: $server, wrk -c$conns -d${d}s"
            read -r u0 s0 < <(cpu_ticks "${PID[$server]}")
            run_wrk "$d" "${PORT[$server]}" keepalive "$out" "$conns"
            read -r u1 s1 < <(cpu_ticks "${PID[$server]}")
            read -r req rps _ errs non2xx < <(wrk_stats "$out")
            M[$server,req$conns,$d]=$req M[$server,ticks$conns,$d]=$((u1 + s1 - u0 - s0))
            M[$server,err$conns]=$((${M[$server,err$conns]:-0} + errs + non2xx))
            sleep 1
        done
        M[$server,rps$conns]=$rps
        t=$((${M[$server,ticks$conns,$d]} - ${M[$server,ticks$conns,$SETTLE]}))
        n=$((${M[$server,req$conns,$d]} - ${M[$server,req$conns,$SETTLE]}))
        M[$server,cpu$conns]=$(us_per_req "$t" "$n")
    done
done

# --- report -------------------------------------------------------------------------

num() { sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"$1"; }   # 19500 -> 19,500
row() { # LABEL KEY FORMAT
    local d=${M[driftd,$2]:-} n=${M[nginx,$2]:-}
    printf "%-44s %12${3} %12${3} %13s\n" "$1" "${d:-0}" "${n:-0}" "$(ratio "${d:-0}" "${n:-0}")"
}

{
    echo "capacity, driftd vs nginx — $(date -u '+%Y-%m-%d %H:%M:%SZ'), $(uname -srm), $(nproc) CPUs: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "servers on CPU $SERVER_CPU (one worker each), clients on CPU $CLIENT_CPU; hard RLIMIT_NOFILE $HARD; driftd started with a soft limit of 1024"
    echo "driftd: $DRIFTD ${DRIFTD_ARGS[*]}: $(grep -m1 'listening on' "$TMP/driftd.log" || echo '(no start-up line)')"
    echo "nginx: $("$NGINX" -v 2>&1 | sed 's/.*: //'), worker_connections $NGINX_CONNS, worker_rlimit_nofile $NGINX_NOFILE"
    echo
    printf '%-44s %12s %12s %13s\n' metric driftd nginx driftd/nginx
    printf '%-44s %12s %12s %13s\n' -------------------------------------------- ------------ ------------ -------------
    for level in $LEVELS; do
        n=$([[ $level == max ]] && echo "$MAX" || echo "$level")
        row "idle keep-alive held, of $(num "$n")" "held$n" .0f
        row "  RSS per idle connection (KiB)" "per$n" .3f
        row "  worker RSS (KiB)" "rss$n" .0f
    done
    row "worker RSS before them (KiB)" rssbefore .0f
    row "  3 s after they closed (KiB)" rssafter .0f
    row "worker CPU, $(num "$LAST_LEVEL") idle, ${IDLE_SECONDS} s (%)" idlecpu .2f
    row "  still open after that" stillopen .0f
    row "fresh client, no flood: median (µs)" lat0 .0f
    row "  p99 (µs)" p990 .0f
    row "fresh client, $(num "$FLOOD") half-open: median (µs)" lat .0f
    row "  p99 (µs)" p99 .0f
    row "  answered 200, of $PROBES" ok .0f
    row "  flood connections open" flooded .0f
    for conns in "$CONNECTIONS" "$ACTIVE"; do
        row "wrk -c$conns: requests/s" "rps$conns" .0f
        row "  CPU time/request (µs)" "cpu$conns" .3f
        row "  errors + non-2xx" "err$conns" .0f
    done
    echo
    echo "(RSS per idle connection = worker VmRSS with the connections held less before, over those held;"
    echo " idle CPU = the worker's utime+stime; wrk -t1 on CPU $CLIENT_CPU: requests/s of a $((SETTLE + DURATION)) s run; CPU/request ="
    echo " the server's CPU over the requests beyond a ${SETTLE} s run's, so that opening the connections is left out;"
    echo " each wrk run's output: $OUT_DIR/capacity-wrk-SERVER-cCONNS-SECONDSs.txt)"
    echo

    per=${M[driftd,per$LAST_LEVEL]}
    if le "$per" 0.5 && [[ ${M[driftd,held$LAST_LEVEL]} == "$LAST_LEVEL" ]]; then v=PASS; else v=FAIL; fi
    echo "verdict: at most 0.5 KiB per idle connection: $v (driftd $per KiB at $(num "$LAST_LEVEL")," \
         "${M[driftd,held$LAST_LEVEL]} held; nginx ${M[nginx,per$LAST_LEVEL]} KiB)"
    if le "${M[driftd,idlecpu]}" 1; then v=PASS; else v=FAIL; fi
    echo "verdict: at most 1% of a CPU with $(num "$LAST_LEVEL") idle connections: $v (driftd ${M[driftd,idlecpu]}%, nginx ${M[nginx,idlecpu]}%)"
    if [[ ${M[driftd,ok]} == "$PROBES" ]]; then v=PASS; else v=FAIL; fi
    echo "verdict: fresh clients served under a flood of $(num "$FLOOD") half-sent heads: $v" \
         "(${M[driftd,ok]} of $PROBES answered 200, p99 ${M[driftd,p99]} µs; nginx ${M[nginx,ok]}, p99 ${M[nginx,p99]} µs)"
    lim=$(awk -v c="${M[driftd,cpu$CONNECTIONS]}" 'BEGIN {print c * 1.1}')
    if le "${M[driftd,cpu$ACTIVE]}" "$lim" && [[ ${M[driftd,err$ACTIVE]} == 0 ]]; then v=PASS; else v=FAIL; fi
    echo "verdict: $(num "$ACTIVE") active connections within 10% of the $CONNECTIONS-connection CPU/request, without errors: $v" \
         "(driftd ${M[driftd,cpu$ACTIVE]} vs ${M[driftd,cpu$CONNECTIONS]} µs, $(ratio "${M[driftd,cpu$ACTIVE]}" "${M[driftd,cpu$CONNECTIONS]}")," \
         "${M[driftd,err$ACTIVE]} errors; nginx $(ratio "${M[nginx,cpu$ACTIVE]}" "${M[nginx,cpu$CONNECTIONS]}"))"
} | tee "$OUT_DIR/capacity.txt"
