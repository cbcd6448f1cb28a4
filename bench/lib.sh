# shellcheck shell=bash disable=SC2034  # the variables are used by the scripts that source this
# What bench.sh, capacity.sh and static.sh share: the settings, stopping every process
# they start on any exit, the tools, the driftd build, the /proc readers, and
# start_servers, which starts driftd and nginx serving the same body.
# Sourced by them from the repository root, after `set -euo pipefail`.

SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
TARGET=x86_64-unknown-linux-gnu     # native build: under qemu speed means nothing
OUT_DIR=bench/out
HOST=127.0.0.1
# driftd refuses root workers unless told: benchmarks run as root on a
# throwaway machine, so they say so (a driftd that predates `user` ignores it).
export DRIFTD_ALLOW_ROOT=1
# Every load generator here connects from one address: driftd's per-client
# limit (max-conns-per-client, 256 a worker) would turn most of a -c1000 run
# away, and nginx has no such limit by default.
export DRIFTD_MAX_CONNS_PER_CLIENT=0
CLK_TCK=$(getconf CLK_TCK)
HARD=$(ulimit -Hn)   # the hard RLIMIT_NOFILE
[[ $HARD == unlimited ]] && HARD=1048576

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

stop_started() { # stops every server started so far (and its orphans) and forgets them
    local pid all=() i k
    # timeout(1) passes TERM on to wrk
    if [[ -n $WRK_PID ]]; then kill -TERM "$WRK_PID" 2>/dev/null || true; wait "$WRK_PID" 2>/dev/null || true; fi
    WRK_PID=
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
        for i in $(seq 30); do
            kill -0 "${all[@]}" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "${all[@]}" 2>/dev/null || true
    fi
    for pid in "${STARTED[@]}"; do wait "$pid" 2>/dev/null || true; done
    STARTED=() KNOWN=()
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_started
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- tools --------------------------------------------------------------------

install_missing() { # TOOL=PACKAGE ...: apt-get install the packages of the tools not on PATH
    local need=() t
    for t in "$@"; do
        command -v "${t%%=*}" >/dev/null || [[ -x /usr/sbin/${t%%=*} ]] || need+=("${t#*=}")
    done
    ((${#need[@]})) || return 0
    log "bench: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y "${need[@]}" >/dev/null 2>&1 \
        || { apt-get update >/dev/null && apt-get install -y "${need[@]}" >/dev/null; } \
        || die "could not install ${need[*]}"
}
install_missing nginx=nginx-light wrk=wrk curl=curl taskset=util-linux
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
(($(nproc) >= 2)) || log "bench: warning: $(nproc) CPU(s); server and wrk will share one"

# --- driftd -------------------------------------------------------------------

if [[ -n ${DRIFTD:-} ]]; then
    [[ -x $DRIFTD ]] || die "DRIFTD=$DRIFTD is not executable"
else
    log "bench: cargo build --release --bins --target $TARGET"
    cargo build --release --bins --target "$TARGET" >&2
    DRIFTD=${CARGO_TARGET_DIR:-target}/$TARGET/release/driftd   # CARGO_TARGET_DIR: a build dir of its own
    [[ -x $DRIFTD ]] || die "$DRIFTD was not built (is the driftd binary in Cargo.toml yet?)"
fi

# --- helpers --------------------------------------------------------------------

# free_port [AVOID...]: a port no socket uses, below the ephemeral range wrk uses.
# shellcheck source=tests/free_port.sh
source tests/free_port.sh

us_per_req() { # TICKS REQUESTS -> CPU µs per request
    awk -v t="$1" -v n="$2" -v hz="$CLK_TCK" 'BEGIN {printf "%.3f", (n > 0 ? t / hz * 1e6 / n : 0)}'
}

wait_ready() { # NAME PID PORT [PATH]
    for _ in $(seq 100); do
        kill -0 "$2" 2>/dev/null || die "$1 exited at startup; its log: $(cat "$TMP/$1.log" 2>/dev/null)"
        curl -s -o /dev/null --max-time 1 "http://$HOST:$3${4:-/}" && return
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

median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

# 16 requests in one write, answered in order (wrk counts each response):
# `run_wrk ... pipelined`, and bench/static.sh's pipelined scenario.
cat >"$TMP/pipeline.lua" <<'EOF'
init = function(args)
  local r = {}
  for i = 1, 16 do r[i] = wrk.format("GET", wrk.path) end
  req = table.concat(r)
end
request = function() return req end
EOF

run_wrk() { # SECONDS PORT MODE OUTFILE [CONNECTIONS [PATH]]: one wrk thread on CLIENT_CPU
    local extra=() conns=${5:-$CONNECTIONS} path=${6:-/}
    [[ $3 == close ]] && extra=(-H 'Connection: close')
    [[ $3 == pipelined ]] && extra=(-s "$TMP/pipeline.lua")
    # wrk needs a descriptor per connection: raise its soft limit to the hard one.
    (ulimit -n "$(ulimit -Hn)"; exec timeout -k 5 $(($1 + 30)) taskset -c "$CLIENT_CPU" \
        wrk -t1 -c"$conns" -d"$1"s --latency "${extra[@]}" "http://$HOST:$2$path") >"$4" 2>&1 &
    WRK_PID=$!   # in the background so a signal reaches the trap at once
    wait "$WRK_PID" || { WRK_PID=; die "wrk failed: $(cat "$4")"; }
    WRK_PID=
}

wrk_stats() { # WRK_OUTPUT_FILE -> "requests requests/s p99 socket-errors non-2xx"
    local req rps p99 errs non2xx
    req=$(awk '/ requests in / {print $1}' "$1")
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$1")
    p99=$(awk '$1 == "99%" {print $2}' "$1")
    [[ -n $req && $req -gt 0 && -n $rps && -n $p99 ]] || die "could not parse wrk output: $(cat "$1")"
    errs=$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$1")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$1")
    echo "$req $rps $p99 ${errs:-0} ${non2xx:-0}"
}

# --- the servers ------------------------------------------------------------------

# Starts driftd (--workers 1 --quiet, then DRIFTD_EXTRA) and nginx (one
# worker, NGINX_CONNS worker_connections, NGINX_NOFILE descriptors), each on
# SERVER_CPU. Sets DRIFTD_PID DRIFTD_PORT DRIFTD_ARGS NGINX_PID NGINX_PORT BODY.
start_servers() {
    DRIFTD_PORT=$(free_port)
    NGINX_PORT=$(free_port "$DRIFTD_PORT")

    # Loopback only, where driftd knows --bind (its default is [::]).
    DRIFTD_ARGS=(--port "$DRIFTD_PORT" --workers 1 --quiet ${DRIFTD_EXTRA[@]+"${DRIFTD_EXTRA[@]}"})
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
    conf=${conf//@CONNS@/"${NGINX_CONNS:-4096}"}; conf=${conf//@NOFILE@/"${NGINX_NOFILE:-$((HARD < 8192 ? HARD : 8192))}"}
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
}

resp_bytes() { echo $(($(wc -c <"$TMP/$1.head") + $(wc -c <"$TMP/$1.body"))); } # SERVER -> bytes of its whole response
