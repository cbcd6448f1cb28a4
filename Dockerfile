# Drift images: FROM scratch, one static binary, a non-root numeric user.
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
 && cp "target/$triple/release/drift" /out/

FROM scratch AS prebuilt
ARG TARGETARCH
COPY dist/${TARGETARCH}/ /out/

FROM ${BINARIES} AS binaries

FROM scratch
COPY --from=binaries /out/drift /drift
# Any unprivileged uid works: scratch has no /etc/passwd to name one.
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["/drift"]
