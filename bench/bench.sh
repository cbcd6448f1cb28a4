#!/usr/bin/env bash
# driftd vs nginx, in one run, on this machine.
#
# Both servers serve the same body with the same Content-Type (nginx's body is
# read from driftd's own response), each pinned to CPU 0; wrk runs on CPU 1.
# For keep-alive and for `Connection: close`, over ROUNDS interleaved rounds,
# it measures requests/s, p99 latency, server CPU time per request and peak
# RSS, prints one table (medians) with the driftd/nginx ratios and a verdict per target, and saves it to
# bench/out/results.txt.
#
#   bash bench/bench.sh                 # or: just bench
#
# Environment (all optional):
#   DURATION=5       seconds per measured wrk run
#   WARMUP=1         seconds of unmeasured wrk before each measured run
#   ROUNDS=5         rounds; each runs both servers in both modes; medians reported
#                    (defaults: 5 x 2 x 2 x 6 s = 120 s of load)
#   CONNECTIONS=50   wrk connections (one wrk thread)
#   DRIFTD=path      benchmark this binary instead of building driftd
#   SERVER_CPU=0 CLIENT_CPU=1
#
# Processes it starts are stopped on exit, whatever the exit. Loopback only.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
ROUNDS=${ROUNDS:-5}
CONNECTIONS=${CONNECTIONS:-50}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
TARGET=x86_64-unknown-linux-gnu     # native build: under qemu speed means nothing
OUT_DIR=bench/out
HOST=127.0.0.1

log() { printf '%s\n' "$*" >&2; }
die() { log "bench: $*"; exit 1; }

# --- cleanup: every process this script started, on any exit -----------------

TMP=$(mktemp -d /tmp/drift-bench.XXXXXX)
STARTED=()   # servers we started
KNOWN=()     # "pid starttime" of every server process seen, orphans included
WRK_PID=     # the wrk run in progress, if any

descendants() { # PID -> PID and all its descendants, one per line
    local want=("$1") p f rest ppid found
    echo "$1"
    while ((${#want[@]})); do
        found=()
        for f in /proc/[0-9]*/stat; do
            { read -r rest <"$f"; } 2>/dev/null || continue
            rest=${rest##*) }
            ppid=${rest#* }; ppid=${ppid%% *}
            for p in "${want[@]}"; do
                if [[ $ppid == "$p" ]]; then
                    p=${f#/proc/}; p=${p%/stat}
                    echo "$p"; found+=("$p")
                fi
            done
        done
        want=("${found[@]}")
    done
}

starttime() { # PID -> its start time (field 22 of proc(5)), to tell it from a reused pid
    local line f
    { read -r line <"/proc/$1/stat"; } 2>/dev/null || return 0
    line=${line##*) }; read -r -a f <<<"$line"; echo "${f[19]}"
}

remember() { # ROOT_PID: note its whole tree, so a worker orphaned by a dying master is still stopped
    local p
    for p in $(descendants "$1"); do KNOWN+=("$p $(starttime "$p")"); done
}

cleanup() {
    local rc=$? pid all=() k
    trap - EXIT INT TERM
    # timeout(1) passes TERM on to wrk
    if [[ -n $WRK_PID ]]; then kill -TERM "$WRK_PID" 2>/dev/null || true; wait "$WRK_PID" 2>/dev/null || true; fi
    for pid in "${STARTED[@]}"; do
        kill -0 "$pid" 2>/dev/null || continue
        mapfile -t -O "${#all[@]}" all < <(descendants "$pid")
    done
    for k in "${KNOWN[@]}"; do
        pid=${k%% *}
        [[ -n ${k#* } && $(starttime "$pid") == "${k#* }" ]] && all+=("$pid")
    done
    if ((${#all[@]})); then
        kill -TERM "${all[@]}" 2>/dev/null || true
        for _ in $(seq 30); do
            kill -0 "${all[@]}" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "${all[@]}" 2>/dev/null || true
    fi
    for pid in "${STARTED[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- tools --------------------------------------------------------------------

need=()
command -v nginx >/dev/null || need+=(nginx-light)
command -v wrk >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
command -v taskset >/dev/null || need+=(util-linux)
if ((${#need[@]})); then
    log "bench: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y "${need[@]}" >/dev/null 2>&1 \
        || { apt-get update >/dev/null && apt-get install -y "${need[@]}" >/dev/null; } \
        || die "could not install ${need[*]}"
fi
NGINX=$(command -v nginx)
(($(nproc) >= 2)) || log "bench: warning: $(nproc) CPU(s); server and wrk will share one"

# --- driftd -------------------------------------------------------------------

if [[ -n ${DRIFTD:-} ]]; then
    [[ -x $DRIFTD ]] || die "DRIFTD=$DRIFTD is not executable"
else
    log "bench: cargo build --release --bins --target $TARGET"
    cargo build --release --bins --target "$TARGET" >&2
    DRIFTD=target/$TARGET/release/driftd
    [[ -x $DRIFTD ]] || die "$DRIFTD was not built (is the driftd binary in Cargo.toml yet?)"
fi

# --- helpers --------------------------------------------------------------------

free_port() { # [AVOID] -> a TCP port in no socket's use, below the ephemeral range wrk uses
    local port used
    used=$(ss -Htan 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -u)
    for _ in $(seq 200); do
        port=$((20000 + RANDOM % 12000))
        grep -qx "$port" <<<"$used" && continue
        [[ $port == "${1:-}" ]] && continue
        echo "$port"; return
    done
    die "no free port found"
}

wait_ready() { # NAME PID PORT
    for _ in $(seq 100); do
        kill -0 "$2" 2>/dev/null || die "$1 exited at startup; its log: $(cat "$TMP/$1.log" 2>/dev/null)"
        curl -s -o /dev/null --max-time 1 "http://$HOST:$3/" && return
        sleep 0.1
    done
    die "$1 did not answer on $HOST:$3 within 10s"
}

cpu_ticks() { # ROOT_PID -> "utime stime" (clock ticks) summed over it and its descendants
    local p line user=0 sys=0 f
    for p in $(descendants "$1"); do
        { read -r line <"/proc/$p/stat"; } 2>/dev/null || continue
        line=${line##*) }
        read -r -a f <<<"$line"
        user=$((user + f[11])) sys=$((sys + f[12]))   # fields 14 and 15 of proc(5)
    done
    echo "$user $sys"
}

peak_rss_kib() { # ROOT_PID -> VmHWM (KiB) summed over it and its descendants
    local p v sum=0
    for p in $(descendants "$1"); do
        v=$(awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null) || continue
        sum=$((sum + ${v:-0}))
    done
    echo "$sum"
}

to_us() { # wrk duration (e.g. 812.00us, 1.23ms, 2.01s, 1.5m) -> microseconds
    awk -v d="$1" 'BEGIN {
        if (d ~ /us$/) m = 1; else if (d ~ /ms$/) m = 1000;
        else if (d ~ /m$/) m = 60e6; else if (d ~ /s$/) m = 1e6; else m = -1;
        sub(/[a-z]+$/, "", d); printf "%.0f", (m < 0 ? -1 : d * m) }'
}

# --- start the servers ----------------------------------------------------------

CLK_TCK=$(getconf CLK_TCK)
DRIFTD_PORT=$(free_port)
NGINX_PORT=$(free_port "$DRIFTD_PORT")

# Loopback only, where driftd knows --bind (its default is [::]).
DRIFTD_ARGS=(--port "$DRIFTD_PORT" --workers 1 --quiet)
if timeout 5 "$DRIFTD" --help 2>&1 | grep -q -- --bind; then DRIFTD_ARGS=(--bind "$HOST" "${DRIFTD_ARGS[@]}"); fi
taskset -c "$SERVER_CPU" "$DRIFTD" "${DRIFTD_ARGS[@]}" >"$TMP/driftd.log" 2>&1 &
DRIFTD_PID=$!
STARTED+=("$DRIFTD_PID")
wait_ready driftd "$DRIFTD_PID" "$DRIFTD_PORT"
remember "$DRIFTD_PID"

# nginx serves driftd's own body, so the two can't drift apart.
curl -s --max-time 2 -D "$TMP/driftd.head" -o "$TMP/driftd.body" "http://$HOST:$DRIFTD_PORT/"
BODY=$(cat "$TMP/driftd.body"; printf x); BODY=${BODY%x}
[[ $BODY != *'$'* && $BODY != *'"'* ]] || die "driftd's body has \$ or \"; the nginx template can't carry it"
ESC=${BODY//\\/\\\\}; ESC=${ESC//$'\n'/\\n}; ESC=${ESC//$'\r'/\\r}; ESC=${ESC//$'\t'/\\t}
conf=$(<bench/nginx.conf.in)
conf=${conf//@DIR@/"$TMP"}; conf=${conf//@PORT@/"$NGINX_PORT"}; conf=${conf//@BODY@/"$ESC"}
printf '%s\n' "$conf" >"$TMP/nginx.conf"

# -e: the error log before the config is read (else /var/log/nginx/error.log).
taskset -c "$SERVER_CPU" "$NGINX" -p "$TMP" -e "$TMP/nginx-error.log" -c "$TMP/nginx.conf" >"$TMP/nginx.log" 2>&1 &
NGINX_PID=$!
STARTED+=("$NGINX_PID")
wait_ready nginx "$NGINX_PID" "$NGINX_PORT"
remember "$NGINX_PID"

curl -s --max-time 2 -D "$TMP/nginx.head" -o "$TMP/nginx.body" "http://$HOST:$NGINX_PORT/"
cmp -s "$TMP/driftd.body" "$TMP/nginx.body" || die "driftd and nginx bodies differ"
ctype() { tr -d '\r' <"$1" | awk -F': *' 'tolower($1) == "content-type" {print $2}'; }
[[ $(ctype "$TMP/driftd.head") == "$(ctype "$TMP/nginx.head")" ]] \
    || die "Content-Type differs: driftd '$(ctype "$TMP/driftd.head")', nginx '$(ctype "$TMP/nginx.head")'"
resp_bytes() { echo $(($(wc -c <"$TMP/$1.head") + $(wc -c <"$TMP/$1.body"))); }

# --- measure ----------------------------------------------------------------------

declare -A R   # R[server,mode,metric] = one value per round, space-separated

run_wrk() { # SECONDS PORT MODE OUTFILE
    local extra=()
    [[ $3 == close ]] && extra=(-H 'Connection: close')
    timeout -k 5 $(($1 + 30)) taskset -c "$CLIENT_CPU" \
        wrk -t1 -c"$CONNECTIONS" -d"$1"s --latency "${extra[@]}" "http://$HOST:$2/" >"$4" 2>&1 &
    WRK_PID=$!   # in the background so a signal reaches the trap at once
    wait "$WRK_PID" || { WRK_PID=; die "wrk failed: $(cat "$4")"; }
    WRK_PID=
}

measure() { # SERVER PID PORT MODE ROUND
    local out="$OUT_DIR/wrk-$1-$4-$5.txt" t0 t1 u0 s0 u1 s1 req rps p99 errs non2xx
    log "bench: round $5/$ROUNDS, $1, $4"
    if ((WARMUP > 0)); then run_wrk "$WARMUP" "$3" "$4" /dev/null; fi
    read -r u0 s0 < <(cpu_ticks "$2")
    run_wrk "$DURATION" "$3" "$4" "$out"
    read -r u1 s1 < <(cpu_ticks "$2")
    kill -0 "$2" 2>/dev/null || die "$1 (pid $2) died during the run"
    t0=$((u0 + s0)) t1=$((u1 + s1))
    req=$(awk '/ requests in / {print $1}' "$out")
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
    p99=$(awk '$1 == "99%" {print $2}' "$out")
    [[ -n $req && $req -gt 0 && -n $rps && -n $p99 ]] || die "could not parse wrk output: $(cat "$out")"
    errs=$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
    R[$1,$4,rps]+=" $rps"
    R[$1,$4,p99]+=" $(to_us "$p99")"
    per() { awk -v t="$1" -v hz="$CLK_TCK" -v n="$req" 'BEGIN {printf "%.3f", t / hz * 1e6 / n}'; }
    R[$1,$4,cpu]+=" $(per $((t1 - t0)))"
    R[$1,$4,usr]+=" $(per $((u1 - u0)))"
    R[$1,$4,sys]+=" $(per $((s1 - s0)))"
    R[$1,$4,cap]+=" $(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$req" 'BEGIN {printf "%.0f", (t > 0) ? n / (t / hz) : 0}')"
    R[$1,$4,busy]+=" $(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v d="$DURATION" 'BEGIN {printf "%.0f", t / hz / d * 100}')"
    R[$1,$4,rss]+=" $(peak_rss_kib "$2")"
    R[$1,$4,err]+=" $((${errs:-0} + ${non2xx:-0}))"
}

mkdir -p "$OUT_DIR"
rm -f "$OUT_DIR"/wrk-*.txt
MODES=(keepalive close)
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
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
declare -A M
for k in "${!R[@]}"; do
    case $k in
        *,rss) M[$k]=${R[$k]##* } ;;
        *,err) M[$k]=$(tr ' ' '\n' <<<"${R[$k]}" | awk '{s += $1} END {print s + 0}') ;;
        *) M[$k]=$(median <<<"${R[$k]}") ;;
    esac
done

# --- report -----------------------------------------------------------------------

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

{
    echo "driftd vs nginx — $(date -u '+%Y-%m-%d %H:%M:%SZ'), $(uname -srm), $(nproc) CPUs: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "servers on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU: wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency (after ${WARMUP}s warm-up), http://$HOST/; median of $ROUNDS rounds"
    echo "driftd: $DRIFTD ${DRIFTD_ARGS[*]} ($(stat -c %s "$DRIFTD") bytes); nginx: $("$NGINX" -v 2>&1 | sed 's/.*: //'), 1 worker, access_log off"
    echo "response: $(wc -c <"$TMP/driftd.body")-byte body, Content-Type $(ctype "$TMP/driftd.head"); whole response driftd $(resp_bytes driftd) B, nginx $(resp_bytes nginx) B"
    echo
    printf '%-11s %-24s %12s %12s %13s\n' mode metric driftd nginx driftd/nginx
    printf '%-11s %-24s %12s %12s %13s\n' ----------- ------------------------ ------------ ------------ -------------
    for mode in "${MODES[@]}"; do
        label=$([[ $mode == close ]] && echo "close" || echo "keep-alive")
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
