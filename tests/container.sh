#!/usr/bin/env bash
# The container test: build both arm64 FROM-scratch images (the default
# `drift` mirror and the `driftd` production target) from binaries built
# here, run each with a published port, check the response (the exact 111
# bytes from the mirror), the non-root user, the HEALTHCHECK (`driftd
# check`), and that `stop` takes under 2 seconds with exit status 0.
#
# Environment-specific engine flags come from the caller (CI sets them):
#   CONTAINER_ENGINE        docker or podman (default: whichever works)
#   CONTAINER_GLOBAL_FLAGS  e.g. "--cgroup-manager=cgroupfs --runtime runc"
#   CONTAINER_RUN_FLAGS     e.g. "--ulimit nofile=1024:1024"
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tests/free_port.sh
source tests/free_port.sh

engine=${CONTAINER_ENGINE:-}
if [ -z "$engine" ]; then
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then engine=docker; else engine=podman; fi
fi
# shellcheck disable=SC2206
eng=($engine ${CONTAINER_GLOBAL_FLAGS:-})
# shellcheck disable=SC2206
runflags=(${CONTAINER_RUN_FLAGS:-})
name=drift-container-test-$$

fail() { echo "FAIL: $*" >&2; "${eng[@]}" logs "$name" >&2 2>/dev/null || true; exit 1; }
cleanup() { "${eng[@]}" rm -f "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT

cargo build --release --bins --target aarch64-unknown-linux-gnu
mkdir -p dist/arm64
cp target/aarch64-unknown-linux-gnu/release/drift target/aarch64-unknown-linux-gnu/release/driftd dist/arm64/
# podman's default (OCI) image format has no HEALTHCHECK.
format=()
[ "$engine" = podman ] && format=(--format docker)

passed=0
# check_image TARGET JUDGE: build the Dockerfile's TARGET stage (empty: the
# default) and run the checks against it; the function JUDGE judges the
# response (a file).
check_image() {
  local target=$1 image="localhost/drift:container-test${1:+-$1}"
  local port err
  local -a target_flag=()
  [ -n "$target" ] && target_flag=(--target "$target")
  echo "-- image ${target:-drift (default)}"
  "${eng[@]}" build -q "${format[@]}" --platform linux/arm64 --build-arg BINARIES=prebuilt "${target_flag[@]}" -t "$image" . >/dev/null

  # Without systemd, podman cannot schedule the checks (it says so on stderr);
  # `podman healthcheck run` below runs one on demand.
  # A port found free can still be taken before the engine binds it: on
  # "address already in use", remove the container and try another port.
  err=$(mktemp)
  for attempt in 1 2 3 4 5; do
    # shellcheck disable=SC2119 # no ports to avoid
    port=$(free_port)
    if "${eng[@]}" run -d --platform linux/arm64 "${runflags[@]}" -p "127.0.0.1:$port:8080" --name "$name" "$image" \
      2>"$err" >/dev/null; then
      break
    fi
    "${eng[@]}" rm -f "$name" >/dev/null 2>&1 || true
    if ! grep -qi 'address already in use' "$err" || [ "$attempt" = 5 ]; then
      grep -v 'systemd connection' "$err" >&2
      rm -f "$err"
      fail "$engine run failed"
    fi
    echo "port $port was taken at bind time; trying another" >&2
  done
  grep -v 'systemd connection' "$err" >&2 || true
  rm -f "$err"

  got=$(mktemp)
  # The published port may accept a connection and drop it before the server
  # listens: writing to it must fail (and be retried), not kill this shell.
  trap '' PIPE
  for _ in $(seq 100); do
    if { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
      printf 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3 2>/dev/null || true
      timeout 5 cat <&3 >"$got" 2>/dev/null || true
      exec 3<&- 3>&-
      [ -s "$got" ] && break
    fi
    sleep 0.2
  done
  trap - PIPE
  "$2" "$got"
  rm -f "$got"

  hc=$("${eng[@]}" inspect --format '{{json .Config.Healthcheck.Test}}' "$name")
  [ "$hc" = '["CMD","/driftd","check","--timeout","2","http://127.0.0.1:8080/"]' ] || fail "HEALTHCHECK is '$hc'"
  if [ "$engine" = podman ]; then
    "${eng[@]}" healthcheck run "$name" 2> >(grep -v 'systemd connection' >&2) || fail "podman healthcheck run: exit $?"
  else
    for _ in $(seq 60); do
      [ "$("${eng[@]}" inspect --format '{{.State.Health.Status}}' "$name")" = healthy ] && break
      sleep 0.5
    done
  fi
  health=$("${eng[@]}" inspect --format '{{.State.Health.Status}}' "$name")
  [ "$health" = healthy ] || fail "health status '$health'"
  # The same binary reports a dead server: exit 1 and one line.
  set +e
  out=$("${eng[@]}" exec "$name" /driftd check http://127.0.0.1:1/ 2>&1); code=$?
  set -e
  if [ "$code" != 1 ] || [ "$out" != "driftd: connect 127.0.0.1:1: Connection refused (ECONNREFUSED)" ]; then
    fail "check of a closed port: exit $code, '$out'"
  fi
  echo "ok: HEALTHCHECK driftd check: healthy; a closed port is exit 1"

  user=$("${eng[@]}" inspect --format '{{.Config.User}}' "$name")
  [ "$user" = "10001:10001" ] || fail "runs as '$user', expected 10001:10001"
  echo "ok: runs as uid 10001"

  start=$(date +%s%N)
  "${eng[@]}" stop -t 10 "$name" 2> >(grep -v 'systemd connection' >&2) >/dev/null
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  code=$("${eng[@]}" inspect --format '{{.State.ExitCode}}' "$name")
  [ "$ms" -lt 2000 ] || fail "stop took ${ms} ms (SIGTERM ignored as PID 1?)"
  [ "$code" = 0 ] || fail "exit status $code after stop"
  echo "ok: stopped in ${ms} ms, exit status 0"
  "${eng[@]}" rm -f "$name" 2> >(grep -v 'systemd connection' >&2) >/dev/null
  passed=$(( passed + 4 ))
}

# The mirror: the walkthrough's exact bytes.
mirror_answer() {
  local want=$'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 27\r\nConnection: close\r\n\r\nHello from Drift on ARM64!\n'
  [ "$(wc -c <"$1")" -eq 111 ] || fail "expected 111 bytes, got $(wc -c <"$1")"
  [ "$(cat "$1"; echo x)" = "${want}x" ] || fail "response bytes differ: $(od -c "$1" | head)"
  echo "ok: 111 response bytes through the published port"
}
check_image "" mirror_answer

# driftd: a Date header changes the bytes, so check the parts that matter.
driftd_answer() {
  local head body
  head=$(sed -n '1,/^\r$/p' "$1")
  body=$(sed '1,/^\r$/d' "$1"; echo x)
  [ "$(head -n 1 "$1")" = $'HTTP/1.1 200 OK\r' ] || fail "status line: $(head -n 1 "$1" | od -c | head -2)"
  grep -q $'^Server: driftd\r$' <<<"$head" || fail "no 'Server: driftd' header: $head"
  [ "$body" = $'Hello from Drift on ARM64!\nx' ] || fail "body: ${body%x}"
  echo "ok: driftd's 200 and greeting through the published port"
}
check_image driftd driftd_answer
echo "container test: $passed passed, 0 failed"
