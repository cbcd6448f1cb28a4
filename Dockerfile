# Drift images: FROM scratch, the static binaries, a non-root numeric user.
# Two targets: `drift` (the default, the walkthrough's mirror) and `driftd`
# (production, `--target driftd`). In both, `driftd check` is the
# HEALTHCHECK (scratch has no curl). podman keeps HEALTHCHECK only with
# `podman build --format docker`.
#
#   docker buildx build --platform linux/arm64,linux/amd64 -t drift .
#       builds the binaries in a Rust stage on the build machine's own
#       architecture (cross-linked by rust-lld: no emulation), then copies
#       them into scratch images for each platform.
#   podman build --platform linux/arm64 --build-arg BINARIES=prebuilt -t drift .
#       skips the Rust stage and takes already-built binaries from
#       dist/<arch>/ (`just build-image-prebuilt` puts them there): for
#       machines that cannot pull a Rust image.
ARG BINARIES=build

FROM --platform=$BUILDPLATFORM docker.io/library/rust:1-slim AS build
ARG TARGETARCH
WORKDIR /src
COPY . .
RUN case "$TARGETARCH" in \
      arm64) triple=aarch64-unknown-linux-gnu ;; \
      amd64) triple=x86_64-unknown-linux-gnu ;; \
      *) echo "unsupported TARGETARCH $TARGETARCH" >&2; exit 1 ;; \
    esac \
 && rustup target add "$triple" \
 && cargo build --release --bins --target "$triple" \
 && mkdir -p /out \
 && cp "target/$triple/release/drift" "target/$triple/release/driftd" /out/

FROM scratch AS prebuilt
ARG TARGETARCH
COPY dist/${TARGETARCH}/ /out/

FROM ${BINARIES} AS binaries

# The production image: driftd serves and is its own health check.
#   docker build --target driftd -t driftd .
FROM scratch AS driftd
COPY --from=binaries /out/driftd /
# Any unprivileged uid works: scratch has no /etc/passwd to name one.
USER 10001:10001
EXPOSE 8080
# Silent and exit 0 on 2xx/3xx; else exit 1 with one line (in `inspect`).
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/driftd", "check", "--timeout", "2", "http://127.0.0.1:8080/"]
ENTRYPOINT ["/driftd"]

# The mirror, and the default image because it is the last stage: the
# walkthrough's server on top of the driftd stage, whose user, port and
# HEALTHCHECK it inherits.
FROM driftd AS drift
COPY --from=binaries /out/drift /
ENTRYPOINT ["/drift"]
