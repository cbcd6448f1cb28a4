#!/usr/bin/env bash
# driftd vs nginx, in one run, on this machine.
#
# Both servers serve the same body with the same Content-Type (nginx's body is
# read from driftd's own response), each pinned to CPU 0; wrk runs on CPU 1.
# For keep-alive, for 16 pipelined requests per write, and for
# `Connection: close`, over ROUNDS interleaved rounds,
# it measures requests/s, p99 latency, server CPU time per request and peak
# RSS, prints one table (medians) with the driftd/nginx ratios and a verdict per target, and saves it to
# bench/out/results.txt. Then bench/capacity.sh runs (CAPACITY=0 skips it):
# idle connections, a flood and 10,000 active ones, for both servers.
#
#   bash bench/bench.sh                 # or: just bench
#
# Environment (all optional):
#   DURATION=5       seconds per measured wrk run
#   WARMUP=1         seconds of unmeasured wrk before each measured run
#   ROUNDS=5         rounds; each runs both servers in every mode; medians reported
#                    (defaults: 5 x 2 x 3 x 6 s = 180 s of load)
#   CONNECTIONS=50   wrk connections (one wrk thread)
#   DRIFTD=path      benchmark this binary instead of building driftd
#   CAPACITY=1       then run bench/capacity.sh (its own knobs are listed there)
#   SERVER_CPU=0 CLIENT_CPU=1
#
# Processes it starts are stopped on exit, whatever the exit. Loopback only.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
ROUNDS=${ROUNDS:-5}
CONNECTIONS=${CONNECTIONS:-50}
CAPACITY=${CAPACITY:-1}
source bench/lib.sh
start_servers

# --- measure ----------------------------------------------------------------------

declare -A R   # R[server,mode,metric] = one value per round, space-separated

measure() { # SERVER PID PORT MODE ROUND
    local out="$OUT_DIR/wrk-$1-$4-$5.txt" t0 t1 u0 s0 u1 s1 req rps p99 errs non2xx
    log "bench: round $5/$ROUNDS, $1, $4"
    if ((WARMUP > 0)); then run_wrk "$WARMUP" "$3" "$4" /dev/null; fi
    read -r u0 s0 < <(cpu_ticks "$2")
    run_wrk "$DURATION" "$3" "$4" "$out"
    read -r u1 s1 < <(cpu_ticks "$2")
    kill -0 "$2" 2>/dev/null || die "$1 (pid $2) died during the run"
    t0=$((u0 + s0)) t1=$((u1 + s1))
    read -r req rps p99 errs non2xx < <(wrk_stats "$out")
    R[$1,$4,rps]+=" $rps"
    R[$1,$4,p99]+=" $(to_us "$p99")"
    R[$1,$4,cpu]+=" $(us_per_req $((t1 - t0)) "$req")"
    R[$1,$4,usr]+=" $(us_per_req $((u1 - u0)) "$req")"
    R[$1,$4,sys]+=" $(us_per_req $((s1 - s0)) "$req")"
    R[$1,$4,cap]+=" $(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$req" 'BEGIN {printf "%.0f", (t > 0) ? n / (t / hz) : 0}')"
    R[$1,$4,busy]+=" $(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v d="$DURATION" 'BEGIN {printf "%.0f", t / hz / d * 100}')"
    R[$1,$4,rss]+=" $(peak_rss_kib "$2")"
    R[$1,$4,err]+=" $((errs + non2xx))"
}

mkdir -p "$OUT_DIR"
rm -f "$OUT_DIR"/wrk-*.txt
MODES=(keepalive pipelined close)
# Rounds interleave the servers, alternating which goes first, so drift in
# the machine's speed (a shared VM's neighbours) lands on both alike.
for ((round = 1; round <= ROUNDS; round++)); do
    for mode in "${MODES[@]}"; do
        if ((round % 2)); then order=(driftd nginx); else order=(nginx driftd); fi
        for server in "${order[@]}"; do
            if [[ $server == driftd ]]; then
                measure driftd "$DRIFTD_PID" "$DRIFTD_PORT" "$mode" "$round"
            else
                measure nginx "$NGINX_PID" "$NGINX_PORT" "$mode" "$round"
            fi
        done
    done
done

# Medians over the rounds; peak RSS is the last (VmHWM only grows), errors the sum.
declare -A M
for k in "${!R[@]}"; do
    case $k in
        *,rss) M[$k]=${R[$k]##* } ;;
        *,err) M[$k]=$(tr ' ' '\n' <<<"${R[$k]}" | awk '{s += $1} END {print s + 0}') ;;
        *) M[$k]=$(median <<<"${R[$k]}") ;;
    esac
done

# --- report -----------------------------------------------------------------------


{
    echo "driftd vs nginx — $(date -u '+%Y-%m-%d %H:%M:%SZ'), $(uname -srm), $(nproc) CPUs: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "servers on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU: wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency (after ${WARMUP}s warm-up), http://$HOST/; median of $ROUNDS rounds"
    echo "driftd: $DRIFTD ${DRIFTD_ARGS[*]} ($(stat -c %s "$DRIFTD") bytes); nginx: $("$NGINX" -v 2>&1 | sed 's/.*: //'), 1 worker, access_log off"
    echo "response: $(wc -c <"$TMP/driftd.body")-byte body, Content-Type $(ctype "$TMP/driftd.head"); whole response driftd $(resp_bytes driftd) B, nginx $(resp_bytes nginx) B"
    echo
    printf '%-11s %-24s %12s %12s %13s\n' mode metric driftd nginx driftd/nginx
    printf '%-11s %-24s %12s %12s %13s\n' ----------- ------------------------ ------------ ------------ -------------
    for mode in "${MODES[@]}"; do
        case $mode in close) label=close ;; pipelined) label=pipelined ;; *) label=keep-alive ;; esac
        for m in "rps:requests/s (higher=better)" "p99:p99 latency (µs)" "cpu:CPU time/request (µs)" \
                 "usr:  of which user (µs)" "sys:  of which kernel (µs)" "busy:server CPU busy (%)" \
                 "cap:req per server CPU-s" "rss:peak RSS (KiB)" "err:errors + non-2xx"; do
            key=${m%%:*}; name=${m#*:}
            d=${M[driftd,$mode,$key]}; n=${M[nginx,$mode,$key]}
            case $key in cpu | usr | sys) fmt=.2f ;; *) fmt=.0f ;; esac
            printf "%-11s %-24s %12${fmt} %12${fmt} %13s\n" "$label" "$name" "$d" "$n" "$(ratio "$d" "$n")"
        done
    done
    echo
    echo "(peak RSS = VmHWM summed over the server's processes, after the run; nginx = master + worker)"
    echo "(server CPU busy well under 100% means wrk, on its one CPU, was the bottleneck, not the server;"
    echo " req per server CPU-s = requests / server CPU seconds: what one saturated CPU would serve)"
    echo "(every round's wrk output: $OUT_DIR/wrk-SERVER-MODE-ROUND.txt)"
    echo

    dk=driftd,keepalive; nk=nginx,keepalive
    if ge "${M[$dk,rps]}" "$(awk -v n="${M[$nk,rps]}" 'BEGIN {print 1.5 * n}')" && le "${M[$dk,p99]}" "${M[$nk,p99]}"; then v=PASS; else v=FAIL; fi
    echo "verdict: keep-alive requests/s >= 1.5x nginx with p99 no worse: $v" \
         "(requests/s $(ratio "${M[$dk,rps]}" "${M[$nk,rps]}"), p99 $(printf %.0f "${M[$dk,p99]}") vs $(printf %.0f "${M[$nk,p99]}") µs)"
    if lt "${M[$dk,busy]}" 90 || lt "${M[$nk,busy]}" 90; then
        echo "  note: client-bound (server CPU busy: driftd ${M[$dk,busy]}%, nginx ${M[$nk,busy]}%); per CPU-second" \
             "driftd serves $(ratio "${M[$dk,cap]}" "${M[$nk,cap]}") of nginx's requests"
    fi
    if lt "${M[driftd,keepalive,cpu]}" "${M[nginx,keepalive,cpu]}" && lt "${M[driftd,close,cpu]}" "${M[nginx,close,cpu]}"; then v=PASS; else v=FAIL; fi
    echo "verdict: CPU/request lower than nginx in both modes: $v" \
         "(keep-alive $(printf %.2f "${M[driftd,keepalive,cpu]}") vs $(printf %.2f "${M[nginx,keepalive,cpu]}") µs," \
         "close $(printf %.2f "${M[driftd,close,cpu]}") vs $(printf %.2f "${M[nginx,close,cpu]}") µs)"
    bad=0
    for k in "${!M[@]}"; do [[ $k == *,err && ${M[$k]} != 0 ]] && bad=1; done
    ((bad == 0)) || echo "warning: some runs had socket errors or non-2xx responses; see $OUT_DIR/wrk-*.txt"
} | tee "$OUT_DIR/results.txt"

if [[ $CAPACITY != 0 ]]; then
    stop_started
    DRIFTD=$DRIFTD bash bench/capacity.sh
fi
