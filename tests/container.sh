#!/usr/bin/env bash
# The container test: build the arm64 FROM-scratch image from binaries built
# here, run it with a published port, check the exact response bytes, the
# non-root user, the HEALTHCHECK (`driftd check`), and that `stop` takes
# under 2 seconds with exit status 0.
#
# Environment-specific engine flags come from the caller (CI sets them):
#   CONTAINER_ENGINE        docker or podman (default: whichever works)
#   CONTAINER_GLOBAL_FLAGS  e.g. "--cgroup-manager=cgroupfs --runtime runc"
#   CONTAINER_RUN_FLAGS     e.g. "--ulimit nofile=1024:1024"
set -euo pipefail
cd "$(dirname "$0")/.."

engine=${CONTAINER_ENGINE:-}
if [ -z "$engine" ]; then
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then engine=docker; else engine=podman; fi
fi
# shellcheck disable=SC2206
eng=($engine ${CONTAINER_GLOBAL_FLAGS:-})
# shellcheck disable=SC2206
runflags=(${CONTAINER_RUN_FLAGS:-})
image=localhost/drift:container-test
name=drift-container-test-$$
port=$(( 20000 + RANDOM % 20000 ))

fail() { echo "FAIL: $*" >&2; "${eng[@]}" logs "$name" >&2 2>/dev/null || true; exit 1; }
cleanup() { "${eng[@]}" rm -f "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT

cargo build --release --bins --target aarch64-unknown-linux-gnu
mkdir -p dist/arm64
cp target/aarch64-unknown-linux-gnu/release/drift target/aarch64-unknown-linux-gnu/release/driftd dist/arm64/
# podman's default (OCI) image format has no HEALTHCHECK.
format=()
[ "$engine" = podman ] && format=(--format docker)
"${eng[@]}" build -q "${format[@]}" --platform linux/arm64 --build-arg BINARIES=prebuilt -t "$image" . >/dev/null

# Without systemd, podman cannot schedule the checks (it says so on stderr);
# `podman healthcheck run` below runs one on demand.
"${eng[@]}" run -d --platform linux/arm64 "${runflags[@]}" -p "127.0.0.1:$port:8080" --name "$name" "$image" \
  2> >(grep -v 'systemd connection' >&2) >/dev/null

got=$(mktemp)
# The published port may accept a connection and drop it before the server
# listens: writing to it must fail (and be retried), not kill this shell.
trap '' PIPE
for _ in $(seq 100); do
  if { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
    printf 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n' >&3 2>/dev/null || true
    timeout 5 cat <&3 >"$got" 2>/dev/null || true
    exec 3<&- 3>&-
    [ -s "$got" ] && break
  fi
  sleep 0.2
done
trap - PIPE
want=$'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 27\r\nConnection: close\r\n\r\nHello from Drift on ARM64!\n'
[ "$(wc -c <"$got")" -eq 111 ] || fail "expected 111 bytes, got $(wc -c <"$got")"
[ "$(cat "$got"; echo x)" = "${want}x" ] || fail "response bytes differ: $(od -c "$got" | head)"
echo "ok: 111 response bytes through the published port"

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
[ "$code" = 1 ] && [ "$out" = "driftd: connect 127.0.0.1:1: Connection refused (ECONNREFUSED)" ] \
  || fail "check of a closed port: exit $code, '$out'"
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
echo "container test: 4 passed, 0 failed"
