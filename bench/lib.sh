# Shared by the benchmark scripts (sourced, not run): process bookkeeping
# that stops every server a script started, whatever the exit, and the
# measurements they all take. Loopback only.
#
# The sourcing script sets TMP (a scratch directory it owns) first.

STARTED=()   # servers we started
KNOWN=()     # "pid starttime" of every server process seen, orphans included
WRK_PID=     # the wrk run in progress, if any

log() { printf '%s\n' "$*" >&2; }
die() { log "bench: $*"; exit 1; }

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
    local rc=$? pid all=() i k
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
        for i in $(seq 30); do
            kill -0 "${all[@]}" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "${all[@]}" 2>/dev/null || true
    fi
    for pid in "${STARTED[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$TMP"
    exit "$rc"
}

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

free_port() { # [AVOID...] -> a TCP port in no socket's use, below the ephemeral range wrk uses
    local port i used a ok
    used=$(ss -Htan 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -u)
    for i in $(seq 200); do
        port=$((20000 + RANDOM % 12000))
        grep -qx "$port" <<<"$used" && continue
        ok=1
        for a in "$@"; do [[ $port == "$a" ]] && ok=0; done
        ((ok)) || continue
        echo "$port"; return
    done
    die "no free port found"
}

wait_ready() { # NAME PID PORT [PATH]
    local i
    for i in $(seq 100); do
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

# Medians over rounds.
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
