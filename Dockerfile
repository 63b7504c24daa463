# cybrid-scan container image.
#
#   docker build -t cybrid-scan .
#   docker run --rm -v "$PWD:/src" cybrid-scan dir /src
#
# Three stages:
#   build    compiles cybrid-scan with a pinned Rust toolchain on Debian bookworm;
#   rootfs   assembles the runtime's file system from Debian packages: the binary, the
#            packages of the shared libraries it links (found with ldd, so a new native
#            dependency cannot be forgotten), dash as /bin/sh, the CA bundle, and
#            passwd/group entries for the non-root user;
#   (final)  that file system on an empty image: no package manager, no coreutils.
#
# Base images are build arguments, so the same file builds where no registry is
# reachable (scripts/test-image.sh builds it from a debootstrapped Debian):
#   RUST_IMAGE    the build stage. Bookworm, like DEBIAN_IMAGE: the binary must not need
#                 a newer glibc than the runtime has. 1.95.0 is the toolchain CI tests with.
#   DEBIAN_IMAGE  where the runtime's files come from (any Debian bookworm image).
#   BINARY        "build" (default): compile in the build stage. "prebuilt": take
#                 dist/linux-$TARGETARCH/cybrid-scan from the build context instead; the
#                 release workflow and CI use it, as they have already compiled the binary
#                 (on bookworm's glibc) and compiling again in a container costs minutes.
ARG RUST_IMAGE=docker.io/library/rust:1.95.0-slim-bookworm
ARG DEBIAN_IMAGE=docker.io/library/debian:bookworm-slim
ARG BINARY=build

FROM ${RUST_IMAGE} AS build
# git2's https transport links the system OpenSSL: its headers, and pkg-config to find
# them. Versions come from the pinned base's Debian suite (security updates included).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY rules ./rules
COPY src ./src
RUN CARGO_PROFILE_RELEASE_STRIP=symbols cargo build --release --locked --bin cybrid-scan \
 && install -D -m 0755 target/release/cybrid-scan /out/cybrid-scan

FROM scratch AS prebuilt
ARG TARGETARCH
COPY dist/linux-${TARGETARCH}/cybrid-scan /out/cybrid-scan

# "build" or "prebuilt", chosen by --build-arg BINARY; the other stage is skipped.
FROM ${BINARY} AS binary

FROM ${DEBIAN_IMAGE} AS rootfs
SHELL ["/bin/bash", "-euo", "pipefail", "-c"]
# The CA bundle that https clones (git, sweep) verify servers against. Skipped when the
# base already has it (a local base made with debootstrap --include=ca-certificates).
# hadolint ignore=DL3008
RUN if ! dpkg-query -W ca-certificates >/dev/null 2>&1; then \
      apt-get update \
      && apt-get install -y --no-install-recommends ca-certificates \
      && rm -rf /var/lib/apt/lists/*; \
    fi
COPY --from=binary /out/cybrid-scan /rootfs/usr/local/bin/cybrid-scan
# Keep the base's merged-/usr layout (/lib -> usr/lib, ...), then copy whole packages:
# those owning each library ldd names, and dash for /bin/sh (the Kubernetes Jobs in
# deploy/ use a shell to treat exit 1 and 3 as results). Documentation, locales and
# glibc's iconv modules (gconv, 8 MB) are left out: the scanner uses none of them.
RUN mkdir -p /rootfs/usr/bin \
 && for d in bin lib lib32 lib64 sbin; do \
      if [ -L "/$d" ]; then mkdir -p "/rootfs/usr/$d" && cp -a "/$d" /rootfs/; fi; \
    done \
 && chmod 0755 /rootfs/usr/local/bin/cybrid-scan \
 && libs="$(ldd /rootfs/usr/local/bin/cybrid-scan | awk '$2 == "=>" { print $3 } $1 ~ /^\// { print $1 }')" \
 && if [ -z "$libs" ]; then echo "ldd found no libraries for cybrid-scan" >&2; exit 1; fi \
 && echo dash > /tmp/packages \
 && for lib in $libs; do \
      pkg="$(dpkg-query -S "*/$(basename "$lib")" | awk -F: 'NR == 1 { print $1 }')"; \
      if [ -z "$pkg" ]; then echo "no Debian package owns $lib" >&2; exit 1; fi; \
      echo "$pkg" >> /tmp/packages; \
    done \
 && echo "runtime packages: $(sort -u /tmp/packages | tr '\n' ' ')" \
 && sort -u /tmp/packages | while read -r pkg; do \
      dpkg-query -L "$pkg" \
        | { grep -Ev '^/usr/share/(doc|doc-base|man|info|lintian|locale|bug)/|/gconv/' || true; } \
        | while read -r f; do \
            if [ -f "$f" ] || [ -L "$f" ]; then cp -a --parents "$f" /rootfs/; fi; \
          done; \
    done \
 && ln -sf dash /rootfs/usr/bin/sh \
 && cp -a --parents /etc/ssl/certs/ca-certificates.crt /rootfs/ \
 && printf 'root:x:0:0:root:/root:/usr/sbin/nologin\ncybrid:x:10001:10001:cybrid-scan:/home/cybrid:/usr/sbin/nologin\n' > /rootfs/etc/passwd \
 && printf 'root:x:0:\ncybrid:x:10001:\n' > /rootfs/etc/group \
 && install -d -m 1777 /rootfs/tmp \
 && install -d -m 0755 -o 10001 -g 10001 /rootfs/home/cybrid /rootfs/src \
 && chroot /rootfs /usr/local/bin/cybrid-scan --version

FROM scratch
COPY --from=rootfs /rootfs /
# git2 finds the bundle by itself; naming it keeps that true on any layout.
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    HOME=/home/cybrid
USER 10001:10001
WORKDIR /src
ENTRYPOINT ["cybrid-scan"]
CMD ["--help"]
