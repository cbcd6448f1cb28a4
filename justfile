# Drift's recipes, after the walkthrough's. Works on arm64 Linux (native),
# on x86_64 Linux (qemu-user), and with docker or podman, whichever runs.

REGISTRY   := env("REGISTRY", "ghcr.io")
IMAGE_NS   := env("IMAGE_NS", "drift")
# Which image the image recipes and `deploy` use: drift (the walkthrough's
# mirror) or driftd (production). It is the Dockerfile target and the name.
SERVER     := env("SERVER", "drift")
IMAGE_NAME := env("IMAGE_NAME", SERVER)
VERSION    := env("VERSION", "dev")
DRIFT_HOST := env("DRIFT_HOST", "")
PORT       := env("PORT", "8080")
PLATFORMS  := env("PLATFORMS", "linux/arm64")
IMAGE      := REGISTRY / IMAGE_NS / IMAGE_NAME + ":" + VERSION

target := "aarch64-unknown-linux-gnu"
bin    := "target" / target / "release/drift"
# In the image too: `driftd check` is its HEALTHCHECK.
daemon := "target" / target / "release/driftd"
# Run aarch64 binaries natively on arm64, under qemu-aarch64 elsewhere.
native := if arch() == "aarch64" { "true" } else { "false" }
runner := if arch() == "aarch64" { "" } else { "qemu-aarch64" }
# docker if its daemon answers, else podman. CONTAINER_ENGINE overrides.
engine := env("CONTAINER_ENGINE", `if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then echo docker; else echo podman; fi`)
# Flags some hosts need, passed through as tests/container.sh does. Podman in a
# sandbox that cannot raise limits, for example:
#   CONTAINER_GLOBAL_FLAGS="--cgroup-manager=cgroupfs --runtime runc"
#   CONTAINER_RUN_FLAGS="--ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
eng    := engine + " " + env("CONTAINER_GLOBAL_FLAGS", "")
runfl  := env("CONTAINER_RUN_FLAGS", "")
# podman's default OCI image format drops HEALTHCHECK.
format := if engine == "podman" { "--format docker" } else { "" }

# List the recipes.
help:
    @just --list --unsorted

# Build the release binaries for arm64 (cross-linked by rust-lld) and show their size.
build:
    cargo build --release --bins --target {{target}}
    @ls -l {{bin}}

# Run the arm64 server here (natively or under qemu-aarch64) on PORT.
run: build
    {{runner}} {{bin}} {{PORT}}

# Run the arm64 image with port 8080 published (builds it from local binaries first).
run-server: build-image-prebuilt
    {{eng}} run {{runfl}} --rm --platform linux/arm64 -p {{PORT}}:8080 --name drift {{IMAGE}}

# Trace one request: start the server under strace (qemu -strace on x86_64), curl it, stop it.
strace: build
    #!/usr/bin/env bash
    set -euo pipefail
    source tests/free_port.sh; port=$(free_port)
    log=$(mktemp)
    if {{native}}; then strace -o "$log" {{bin}} "$port" & else qemu-aarch64 -strace {{bin}} "$port" 2>"$log" & fi
    pid=$!
    for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
    kill -TERM "$pid"; wait "$pid" || true
    cat "$log"; rm -f "$log"

# Serve on PORT with every syscall traced, until Ctrl-C.
strace-server: build
    {{ if native == "true" { "strace -f" } else { "qemu-aarch64 -strace" } }} {{bin}} {{PORT}}

# File type and size, headers, symbols and disassembly of the arm64 binary.
inspect: build
    #!/usr/bin/env bash
    set -euo pipefail
    # The shipped binary is stripped; an identical build with symbols goes to target/inspect.
    cargo build -q --release --bins --target {{target}} --target-dir target/inspect --config 'profile.release.strip=false'
    sym=target/inspect/{{target}}/release/drift
    file {{bin}} 2>/dev/null || true
    ls -l {{bin}}
    readelf -h -S -l {{bin}}
    nm --size-sort -S "$sym"
    if command -v llvm-objdump >/dev/null; then llvm-objdump -d "$sym"; else objdump -d "$sym"; fi

# A shell in a Rust dev container with this directory mounted.
shell:
    {{eng}} run {{runfl}} --rm -it -v "$PWD":/src -w /src docker.io/library/rust:1-slim bash

# Build the SERVER image (drift or driftd) for PLATFORMS (default linux/arm64; e.g. linux/arm64,linux/amd64) with the Rust build stage.
build-image:
    {{ if engine == "docker" { "docker buildx build --load" } else { eng + " build --format docker" } }} --platform {{PLATFORMS}} --target {{SERVER}} -t {{IMAGE}} .

# Build the arm64 SERVER image from binaries built here (no image pulls needed).
build-image-prebuilt: build
    mkdir -p dist/arm64
    cp {{bin}} {{daemon}} dist/arm64/
    {{eng}} build {{format}} --platform linux/arm64 --build-arg BINARIES=prebuilt --target {{SERVER}} -t {{IMAGE}} .

# Run the image for this machine's own platform on PORT.
run-image:
    {{eng}} run {{runfl}} --rm -p {{PORT}}:8080 --name drift {{IMAGE}}

# Push the image to REGISTRY/IMAGE_NS/IMAGE_NAME:VERSION.
push-image:
    {{eng}} push {{IMAGE}}

# Push, then on DRIFT_HOST (ssh) pull it and replace the running container (port 80 -> 8080); SERVER=driftd for production.
deploy: push-image
    #!/usr/bin/env bash
    set -euo pipefail
    test -n "{{DRIFT_HOST}}" || { echo "set DRIFT_HOST=user@host" >&2; exit 2; }
    ssh "{{DRIFT_HOST}}" "docker pull {{IMAGE}} && (docker stop drift || true) && (docker rm drift || true) && docker run -d --name drift -p 80:8080 --restart unless-stopped {{IMAGE}}"

# Every test: unit, end-to-end on both arches, ELF and trace checks (adds the aarch64 target and the Debian packages first).
test:
    bash tests/run.sh

# Build both arm64 images from local binaries, run them, check the bytes, the health check and a prompt stop.
test-container:
    bash tests/container.sh

# driftd vs nginx (same body, each pinned to one CPU, wrk on the other): requests/s, p99, CPU/request, RSS, ratios; then bench-capacity, bench-static and bench-tls.
bench:
    bash bench/bench.sh
    bash bench/static.sh
    bash bench/tls.sh

# driftd vs nginx holding many clients: RSS and CPU per idle connection, latency under a half-open flood, wrk -c10000 against -c50.
bench-capacity:
    bash bench/capacity.sh

# Static files: driftd (cache on and off) vs nginx (open_file_cache off and on), lighttpd, h2o: CPU per request.
bench-static:
    bash bench/static.sh

# HTTPS, driftd vs nginx (same ECDSA P-256 certificate): CPU per full and resumed handshake, per 1 KiB keep-alive request, per MiB; RSS per idle TLS connection.
bench-tls:
    bash bench/tls.sh

# driftd against an earlier driftd (a git revision): CPU per request on the fixed response and a cached file, metrics on; median ratio, limit 1.03.
bench-ab base="467b825":
    BASE={{base}} bash bench/ab.sh

# Check deploy/ (Terraform, Packer, Kubernetes), the workflows, the Dockerfile and every shell script offline.
check-deploy:
    bash deploy/check.sh

# Fuzz every parser: its seeds, then SECONDS of fuzzing per target (installs nightly and cargo-fuzz if missing).
fuzz seconds="20":
    FUZZ_SECONDS={{seconds}} bash fuzz/ci.sh
