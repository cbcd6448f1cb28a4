# shellcheck shell=bash
# free_port [AVOID...]: print a TCP port that no socket on this machine uses
# right now, below the kernel's ephemeral range (so an outgoing connection
# cannot take it between this check and the bind), and not one of AVOID.
# Sourced by tests/container.sh, bench/lib.sh and the justfile.
free_port() {
  local low base span port a ok hex
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
  base=20000
  span=$(( low - base ))
  if (( span < 1000 )); then base=1024; span=$(( low - base )); fi
  for _ in $(seq 200); do
    port=$(( base + RANDOM % span ))
    ok=1
    for a in "$@"; do [[ $port == "$a" ]] && ok=0; done
    (( ok )) || continue
    # /proc/net/tcp{,6} name each socket's ports in hex, as ":1F90 ".
    hex=$(printf '%04X' "$port")
    grep -qs ":$hex " /proc/net/tcp /proc/net/tcp6 && continue
    echo "$port"
    return 0
  done
  echo "free_port: no free TCP port found in $base..$(( base + span - 1 ))" >&2
  return 1
}
