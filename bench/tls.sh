#!/usr/bin/env bash
# HTTPS, driftd vs nginx, in one run, on this machine (issue 16).
#
# Both serve the same files over TLS with the same ECDSA P-256 certificate
# (made here), one worker each, pinned to CPU 0; the clients run on CPU 1.
# nginx: ssl_session_tickets on, TLSv1.2 TLSv1.3, X25519:prime256v1,
# open_file_cache on (driftd's file cache is on too), access_log off.
# Scenarios, each measured as the server worker's CPU time (utime+stime from
# /proc) per request:
#   full      openssl s_time -new: a new connection per request, full handshake
#             (s_time never resumes with -new; one connection at a time)
#   resumed   openssl s_time -reuse: every connection resumes one TLS 1.3
#             session (a ticket); the script checks that s_time saw it reused
#   close     wrk -c50 with `Connection: close`: 50 at a time, each new
#             connection resumes (wrk keeps the session of the last one); no target
#   ka-1k     a 1 KiB file, keep-alive, wrk -c50
#   1m        a 1 MiB file, keep-alive, wrk -c4: CPU per MiB
# Each round runs every scenario on both servers back to back, in the other
# order the next round; a scenario's ratio is the median of the per-round
# driftd/nginx ratios. Then RSS per idle TLS keep-alive connection (full
# handshake, one GET answered, then silence; bench/tls_hold.py) at LEVELS:
# the worker's VmRSS with them held less before, over those held.
# Prints one table with a verdict per target, saved to bench/out/tls.txt.
#
#   bash bench/tls.sh                 # or: just bench-tls (just bench runs it too)
#
# Environment (all optional):
#   DURATION=5 WARMUP=1 ROUNDS=3   seconds per measured run (wrk and s_time), wrk
#                                  warm-up, rounds (defaults: about 5 minutes in all)
#   CONNECTIONS=50 BIG_CONNECTIONS=4   wrk connections for ka-1k/close and for 1m
#   LEVELS="1000 10000"            idle connections held (LEVELS="" skips them)
#   TLS_HOLD_WINDOW=64             handshakes tls_hold.py keeps in flight while opening them
#   DRIFTD=path                    this driftd binary instead of a fresh x86_64 build
#                                  (CARGO_TARGET_DIR is honoured for the build)
#   SERVER_CPU=0 CLIENT_CPU=1
#
# Processes it starts are stopped on exit, whatever the exit. Loopback only.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-50}
BIG_CONNECTIONS=${BIG_CONNECTIONS:-4}
LEVELS=${LEVELS-1000 10000}
export TLS_HOLD_WINDOW=${TLS_HOLD_WINDOW:-64}

# Settings, cleanup on any exit, nginx/wrk/curl, the driftd build, the /proc readers.
# shellcheck source=bench/lib.sh
source bench/lib.sh
install_missing openssl=openssl python3=python3
[[ $(uname -m) == x86_64 ]] || log "bench: warning: $(uname -m); the issue's numbers are for x86_64, natively"

# --- the certificate and the files --------------------------------------------------

chmod 755 "$TMP"   # nginx workers run as nobody
WWW=$TMP/www
mkdir -p "$WWW"
head -c 1024 /dev/urandom >"$WWW/1k.bin"
head -c 1048576 /dev/urandom >"$WWW/1m.bin"
# In a directory of their own: driftd watches the certificate's directory
# (inotify) and reloads on any change there, such as nginx's logs in $TMP.
mkdir -p "$TMP/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -keyout "$TMP/tls/key.pem" -out "$TMP/tls/cert.pem" -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null || die "openssl could not make the certificate"

# --- the servers --------------------------------------------------------------------

HELD_MAX=0
for l in $LEVELS; do ((l > HELD_MAX)) && HELD_MAX=$l; done
CONNS=$((HELD_MAX + 1000 > 4096 ? HELD_MAX + 1000 : 4096))
((HARD > CONNS + 100)) || die "hard RLIMIT_NOFILE $HARD is too low for LEVELS=$LEVELS"

declare -A PORT TLS_PORT PID WORKER
used=()
port_for() { P=$(free_port ${used[@]+"${used[@]}"}); used+=("$P"); } # -> P, a port not handed out before

wait_tls() { # NAME PID TLS_PORT
    for _ in $(seq 100); do
        kill -0 "$2" 2>/dev/null || die "$1 exited at startup; its log: $(cat "$TMP/$1.log" 2>/dev/null)"
        curl -s -o /dev/null --max-time 1 --cacert "$TMP/tls/cert.pem" "https://$HOST:$3/1k.bin" && return
        sleep 0.1
    done
    die "$1 did not answer on https://$HOST:$3 within 10s; its log: $(cat "$TMP/$1.log" 2>/dev/null)"
}

worker_of() { # ROOT_PID -> the one worker process under it
    local w
    read -r w _ <"/proc/$1/task/$1/children" || true
    [[ -n $w ]] || die "no worker under pid $1"
    echo "$w"
}

start() { # NAME COMMAND...: start a server pinned to the server CPU
    local name=$1; shift
    taskset -c "$SERVER_CPU" "$@" >>"$TMP/$name.log" 2>&1 &
    PID[$name]=$!
    STARTED+=("${PID[$name]}")
    wait_tls "$name" "${PID[$name]}" "${TLS_PORT[$name]}"
    remember "${PID[$name]}"
    WORKER[$name]=$(worker_of "${PID[$name]}")
}

start_all() { # (re)starts both servers, on fresh ports: sets PORT TLS_PORT PID WORKER DRIFTD_ARGS
    port_for; PORT[driftd]=$P
    port_for; TLS_PORT[driftd]=$P
    # --max-conns: with --root, driftd counts two descriptors a connection and
    # would hold fewer than 10,000 under a 20,000 limit; idle ones hold one.
    DRIFTD_ARGS=(--bind "$HOST" --port "${PORT[driftd]}" --tls-port "${TLS_PORT[driftd]}"
        --tls-cert "$TMP/tls/cert.pem" --tls-key "$TMP/tls/key.pem" --root "$WWW"
        --workers 1 --quiet --idle-timeout 65 --max-conns "$CONNS")
    DRIFTD_NO_CGROUP=1 start driftd "$DRIFTD" "${DRIFTD_ARGS[@]}"

    port_for; PORT[nginx]=$P
    port_for; TLS_PORT[nginx]=$P
    cat >"$TMP/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $TMP/nginx.pid;
worker_rlimit_nofile $HARD;
error_log $TMP/nginx-error.log warn;
events { worker_connections $((CONNS * 9 / 8 + 64)); }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 65s;
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    client_body_temp_path $TMP/nginx-body;
    open_file_cache max=1000 inactive=60s;
    open_file_cache_valid 60s;
    ssl_certificate $TMP/tls/cert.pem;
    ssl_certificate_key $TMP/tls/key.pem;
    ssl_session_tickets on;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ecdh_curve X25519:prime256v1;
    server {
        listen $HOST:${PORT[nginx]} backlog=4096;
        listen $HOST:${TLS_PORT[nginx]} ssl backlog=4096;
        root $WWW;
    }
}
EOF
    start nginx "$NGINX" -p "$TMP" -e "$TMP/nginx-error.log" -c "$TMP/nginx.conf"
}
start_all
SERVERS=(driftd nginx)

# What each negotiates with an OpenSSL client (wrk, s_time): the same, or say so.
declare -A NEGOTIATED
for s in "${SERVERS[@]}"; do
    curl -s --max-time 2 --cacert "$TMP/tls/cert.pem" -o "$TMP/$s.1m" "https://$HOST:${TLS_PORT[$s]}/1m.bin"
    cmp -s "$TMP/$s.1m" "$WWW/1m.bin" || die "$s did not serve the 1 MiB file intact over https"
    NEGOTIATED[$s]=$(openssl s_client -connect "$HOST:${TLS_PORT[$s]}" -servername localhost </dev/null 2>/dev/null |
        awk '/^Server Temp Key:/ {k = $4; sub(",", "", k)} /^New, / {p = $2; c = $NF; sub(",", "", p)} END {print p, c, k}')
done
[[ ${NEGOTIATED[driftd]} == "${NEGOTIATED[nginx]}" ]] \
    || log "bench: warning: negotiated differently: driftd ${NEGOTIATED[driftd]}, nginx ${NEGOTIATED[nginx]}"

# --- measure ------------------------------------------------------------------------

ticks() { local u s; read -r u s < <(cpu_ticks "$1"); echo $((u + s)); } # PID -> utime+stime

run_wrk_tls() { # SECONDS TLS_PORT PATH CONNECTIONS OUTFILE [close]: one wrk thread on CLIENT_CPU
    local extra=()
    [[ ${6:-} == close ]] && extra=(-H 'Connection: close')
    (ulimit -n "$(ulimit -Hn)"; exec timeout -k 5 $(($1 + 30)) taskset -c "$CLIENT_CPU" \
        wrk -t1 -c"$4" -d"$1"s --latency "${extra[@]}" "https://$HOST:$2$3") >"$5" 2>&1 &
    WRK_PID=$!
    wait "$WRK_PID" || { WRK_PID=; die "wrk failed: $(cat "$5")"; }
    WRK_PID=
}

run_stime() { # SECONDS TLS_PORT new|reuse OUTFILE: openssl s_time on CLIENT_CPU
    timeout -k 5 $(($1 + 30)) taskset -c "$CLIENT_CPU" \
        openssl s_time -connect "$HOST:$2" -"$3" -www /1k.bin -time "$1" >"$4" 2>&1 &
    WRK_PID=$!
    wait "$WRK_PID" || { WRK_PID=; die "openssl s_time failed: $(cat "$4")"; }
    WRK_PID=
}

declare -A R   # R[server,scenario,metric]: one value per round, space-separated
declare -A RATIO_R

measure() { # SERVER SCENARIO ROUND
    local s=$1 sc=$2 out="$OUT_DIR/tls-$1-$2-$3.txt" w=${WORKER[$1]} p=${TLS_PORT[$1]} t0 t1 n errs=0 rate per reused bytes
    log "bench: round $3/$ROUNDS, $s, $sc"
    case $sc in
        ka-1k) ((WARMUP > 0)) && run_wrk_tls "$WARMUP" "$p" /1k.bin "$CONNECTIONS" /dev/null ;;
        1m) ((WARMUP > 0)) && run_wrk_tls "$WARMUP" "$p" /1m.bin "$BIG_CONNECTIONS" /dev/null ;;
    esac
    t0=$(ticks "$w")
    case $sc in
        full) run_stime "$DURATION" "$p" new "$out" ;;
        resumed) run_stime "$DURATION" "$p" reuse "$out" ;;
        close) run_wrk_tls "$DURATION" "$p" /1k.bin "$CONNECTIONS" "$out" close ;;
        ka-1k) run_wrk_tls "$DURATION" "$p" /1k.bin "$CONNECTIONS" "$out" ;;
        1m) run_wrk_tls "$DURATION" "$p" /1m.bin "$BIG_CONNECTIONS" "$out" ;;
    esac
    t1=$(ticks "$w")
    kill -0 "$w" 2>/dev/null || die "$s's worker (pid $w) died during $sc"
    case $sc in
        full | resumed)
            # s_time prints * for each new session and r for each reused one.
            n=$(awk '/connections in [0-9.]+ real seconds/ {print $1}' "$out" | tail -1)
            bytes=$(awk '/bytes read per connection/ {print $(NF - 4)}' "$out" | tail -1)
            [[ -n $n && $n -gt 0 ]] || die "could not parse s_time output: $(cat "$out")"
            reused=$(grep -E '^[*r]+$' "$out" | tr -cd r | wc -c)
            rate=$(awk '/connections in [0-9.]+ real seconds/ {r = $1 / $4} END {printf "%.0f", r}' "$out")
            R[$s,$sc,reused]+=" $(awk -v r="$reused" -v n="$n" 'BEGIN {printf "%.1f", 100 * r / n}')"
            # a 1 KiB body and its head: anything shorter is an error page or a cut
            ((bytes >= 1100)) || errs=$n
            ;;
        *)
            read -r n rate _ e non2xx < <(wrk_stats "$out")
            errs=$((e + non2xx))
            ;;
    esac
    per=$(us_per_req $((t1 - t0)) "$n")
    R[$s,$sc,cpu]+=" $per"
    R[$s,$sc,rate]+=" $rate"
    R[$s,$sc,busy]+=" $(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v d="$DURATION" 'BEGIN {printf "%.0f", t / hz / d * 100}')"
    R[$s,$sc,err]+=" $errs"
    LAST[$s]=$per
}

SCENARIOS=(full resumed close ka-1k 1m)
declare -A LAST
mkdir -p "$OUT_DIR"
rm -f "$OUT_DIR"/tls-*.txt
for ((round = 1; round <= ROUNDS; round++)); do
    if ((round % 2)); then order=(driftd nginx); else order=(nginx driftd); fi
    for sc in "${SCENARIOS[@]}"; do
        # back to back, so the machine's speed swings land on both alike
        for s in "${order[@]}"; do measure "$s" "$sc" "$round"; done
        RATIO_R[$sc]+=" $(awk -v a="${LAST[driftd]}" -v b="${LAST[nginx]}" 'BEGIN {printf "%.4f", (b > 0 ? a / b : 0)}')"
    done
done

# --- idle TLS connections -------------------------------------------------------------

declare -A M
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
HOLDS=0
for level in $LEVELS; do
    # Fresh servers: a worker keeps the pages earlier connections touched,
    # which would hide part of the next level's cost.
    stop_started
    start_all
    for s in "${SERVERS[@]}"; do
        w=${WORKER[$s]}
        sleep 1
        before=$(rss_kib "$w")
        HOLDS=$((HOLDS + 1))
        coproc HOLDER { exec taskset -c "$CLIENT_CPU" python3 bench/tls_hold.py "$HOST" "${TLS_PORT[$s]}" "$level" /1k.bin 150 "127.0.2.$HOLDS"; }
        # shellcheck disable=SC2153 # coproc HOLDER sets HOLDER_PID
        HOLD_PID=$HOLDER_PID HOLD_OUT=${HOLDER[0]} HOLD_IN=${HOLDER[1]}
        STARTED+=("$HOLD_PID")
        IFS= read -r -t 200 -u "$HOLD_OUT" line || die "tls_hold.py $level against $s: no answer"
        log "bench: $s, $level idle TLS connections: $line"
        sleep 1
        echo status >&"$HOLD_IN"
        IFS= read -r -t 30 -u "$HOLD_OUT" line || die "tls_hold.py status: no answer"
        after=$(rss_kib "$w")
        held=$(sed -En 's/.* held=([0-9]+).*/\1/p' <<<"$line")
        M[$s,held$level]=$held
        M[$s,rss$level]=$after
        M[$s,base$level]=$before
        M[$s,per$level]=$(awk -v a="$after" -v b="$before" -v n="$held" 'BEGIN {printf "%.2f", (n > 0 ? (a - b) / n : 0)}')
        exec {HOLD_IN}>&-
        wait "$HOLD_PID" || true
    done
done

# --- report ---------------------------------------------------------------------------

num() { sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"$1"; }   # 19500 -> 19,500
sum() { tr ' ' '\n' | awk '{s += $1} END {print s + 0}'; }
declare -A LABEL=([full]="full handshake (s_time -new)" [resumed]="resumed (s_time -reuse)"
    [close]="resumed, wrk -c$CONNECTIONS close" [ka-1k]="1 KiB, keep-alive -c$CONNECTIONS" [1m]="1 MiB, keep-alive -c$BIG_CONNECTIONS")
declare -A TARGET_RATIO=([full]=1.5 [resumed]=1.0 [ka-1k]=1.0 [1m]=1.5)
declare -A UNIT=([full]="conn/s" [resumed]="conn/s" [close]="req/s" [ka-1k]="req/s" [1m]="MiB/s")
fails=()
{
    echo "HTTPS, driftd vs nginx — $(date -u '+%Y-%m-%d %H:%M:%SZ'), $(uname -srm), $(nproc) CPUs: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "servers on CPU $SERVER_CPU (one worker each), clients on CPU $CLIENT_CPU; ${DURATION}s per run, median of $ROUNDS rounds (order rotated each round)"
    echo "driftd: $DRIFTD ($(stat -c %s "$DRIFTD") bytes) ${DRIFTD_ARGS[*]//$TMP\//}"
    echo "nginx: $("$NGINX" -v 2>&1 | sed 's/.*: //'), $(openssl version | awk '{print $1, $2}'), 1 worker, tickets on, open_file_cache on, access_log off"
    echo "certificate: ECDSA P-256, self-signed; negotiated with OpenSSL clients: driftd ${NEGOTIATED[driftd]}, nginx ${NEGOTIATED[nginx]}"
    echo
    echo "server worker CPU time per request (µs; 1 MiB: per MiB), ratio = median of the per-round driftd/nginx ratios"
    printf '%-30s %10s %10s %8s %8s %-9s %14s %14s %9s\n' scenario driftd nginx ratio target verdict "driftd rate" "nginx rate" "busy d/n"
    printf '%-30s %10s %10s %8s %8s %-9s %14s %14s %9s\n' ------------------------------ ---------- ---------- -------- -------- --------- -------------- -------------- ---------
    for sc in "${SCENARIOS[@]}"; do
        d=$(median <<<"${R[driftd,$sc,cpu]}") n=$(median <<<"${R[nginx,$sc,cpu]}")
        r=$(median <<<"${RATIO_R[$sc]}")
        t=${TARGET_RATIO[$sc]:-}
        if [[ -z $t ]]; then v=-; elif le "$r" "$t"; then v=PASS; else v=FAIL; fails+=("$sc"); fi
        printf '%-30s %10.1f %10.1f %7.2fx %8s %-9s %14s %14s %9s\n' "${LABEL[$sc]}" "$d" "$n" "$r" "${t:+<=${t}x}" "$v" \
            "$(median <<<"${R[driftd,$sc,rate]}") ${UNIT[$sc]}" "$(median <<<"${R[nginx,$sc,rate]}") ${UNIT[$sc]}" \
            "$(median <<<"${R[driftd,$sc,busy]}")/$(median <<<"${R[nginx,$sc,busy]}")%"
    done
    echo
    if [[ -n $LEVELS ]]; then
        echo "idle TLS keep-alive connections (full handshake, one GET answered, then idle; $TLS_HOLD_WINDOW handshakes in flight while opening): worker VmRSS"
        printf '%-30s %10s %10s %8s %8s %-9s %s\n' "held" driftd nginx ratio target verdict "worker RSS before -> with them (KiB)"
        for level in $LEVELS; do
            d=${M[driftd,per$level]} n=${M[nginx,per$level]}
            if le "$d" 4 && [[ ${M[driftd,held$level]} == "$level" ]]; then v=PASS; else v=FAIL; fails+=("idle$level"); fi
            printf '%-30s %10s %10s %8s %8s %-9s %s\n' "KiB per connection at $(num "$level")" "$d" "$n" "$(ratio "$d" "$n")" "<=4 KiB" "$v" \
                "driftd ${M[driftd,base$level]} -> ${M[driftd,rss$level]} (held ${M[driftd,held$level]}), nginx ${M[nginx,base$level]} -> ${M[nginx,rss$level]} (held ${M[nginx,held$level]})"
        done
        echo
    fi
    echo "per-round ratios:"
    for sc in "${SCENARIOS[@]}"; do echo "  ${LABEL[$sc]}:${RATIO_R[$sc]}"; done
    echo "errors (wrk socket errors + non-2xx; s_time short reads), all rounds: driftd $(for sc in "${SCENARIOS[@]}"; do sum <<<"${R[driftd,$sc,err]}"; done | sum)," \
         "nginx $(for sc in "${SCENARIOS[@]}"; do sum <<<"${R[nginx,$sc,err]}"; done | sum)"
    echo "s_time sessions reused (%): full: driftd${R[driftd,full,reused]}, nginx${R[nginx,full,reused]};" \
         "resumed: driftd${R[driftd,resumed,reused]}, nginx${R[nginx,resumed,reused]}"
    echo "(busy = server worker CPU over the run's wall time: s_time runs one connection at a time, so the"
    echo " handshake rows are client-bound; CPU per request is what they compare. every run's output:"
    echo " $OUT_DIR/tls-SERVER-SCENARIO-ROUND.txt)"
    said=$(grep -Ev 'listening on|stopping|stopped' "$TMP/driftd.log" || true)
    if [[ -n $said ]]; then echo "driftd said (beyond its start-up line):"; head -5 <<<"$said" | sed 's/^/  /'; fi
    said=$(grep -v '^$' "$TMP/nginx-error.log" 2>/dev/null || true)
    if [[ -n $said ]]; then echo "nginx's error log:"; head -5 <<<"$said" | sed 's/^/  /'; fi
    if ((${#fails[@]})); then echo "verdict: missed: ${fails[*]}"; else echo "verdict: every target met"; fi
} | tee "$OUT_DIR/tls.txt"
