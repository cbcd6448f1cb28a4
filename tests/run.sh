#!/usr/bin/env bash
# The README's test command. On a fresh Debian machine with rustup it adds
# what the tests need, then runs `cargo test` (arguments are passed on):
#   - the aarch64 target: rustup adds rust-toolchain.toml's targets only when
#     it installs the toolchain itself, never to a `stable` already there;
#   - the Debian packages the end-to-end tests use, when it runs as root or
#     with passwordless sudo. Otherwise it prints the one apt-get line to run,
#     and the tests that need those packages say SKIPPED.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v rustup >/dev/null 2>&1; then
  # `rustup target list` resolves rust-toolchain.toml from this directory.
  if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    echo "tests/run.sh: rustup target add aarch64-unknown-linux-gnu" >&2
    rustup target add aarch64-unknown-linux-gnu
  fi
else
  echo "tests/run.sh: no rustup; the aarch64 target must already be installed" >&2
fi

# tool the tests run -> the Debian package that has it
need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
have qemu-aarch64 || need+=(qemu-user)      # runs the aarch64 binaries on x86_64
have curl         || need+=(curl)           # the walkthrough's client
have nginx        || need+=(nginx-light)    # the peer `driftd get`/`check` are tested against
have strace       || need+=(strace)         # the x86_64 syscall-trace tests
have python3      || need+=(python3)        # http.client as a second client
have openssl      || need+=(openssl)        # certificates and s_client for the HTTPS tests
have gnutls-cli   || need+=(gnutls-bin)     # a second TLS stack as a client
have testssl      || need+=(testssl.sh)     # the HTTPS scan
if [ "$(uname -m)" = aarch64 ]; then        # native: no emulator needed
  need=("${need[@]/qemu-user}")
fi
read -r -a need <<<"${need[*]}"

if [ ${#need[@]} -gt 0 ]; then
  sudo=none
  if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo=sudo; fi
  if [ "$sudo" != none ] && command -v apt-get >/dev/null; then
    echo "tests/run.sh: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -q >/dev/null
    $sudo apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "tests/run.sh: some tests will be SKIPPED; to run them all first run:" >&2
    echo "  sudo apt-get install -y ${need[*]}" >&2
  fi
fi

# The metrics test parses driftd's text with Prometheus's own parser
# (prometheus_client): Debian's package, or else pip's.
if ! python3 -c 'import prometheus_client' 2>/dev/null; then
  sudo=none
  if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo=sudo; fi
  if [ "$sudo" != none ] && command -v apt-get >/dev/null && [ "$(command -v python3)" = /usr/bin/python3 ]; then
    echo "tests/run.sh: installing python3-prometheus-client" >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends python3-prometheus-client >/dev/null || true
  fi
  python3 -c 'import prometheus_client' 2>/dev/null \
    || python3 -m pip install -q prometheus_client 2>/dev/null \
    || python3 -m pip install -q --user --break-system-packages prometheus_client 2>/dev/null \
    || echo "tests/run.sh: prometheus_client is missing; the metrics test checks the text by hand only" >&2
fi

exec cargo test "$@"
