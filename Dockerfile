# syntax=docker/dockerfile:1
#
# recon in a container: a release build in rust:1-bookworm, run from
# debian:bookworm-slim as the non-root user `recon` (uid 10001).
#
#   docker build -t recon .
#   docker run --rm --init \
#     -v /srv/recon/keys:/keys:ro \
#     -v /srv/recon/exports:/data:ro \
#     -v /srv/recon/reports:/reports \
#     recon run /data/shop-erp.toml --out /reports --memory-limit 4GiB
#
# Keys: the image points RECON_SIGNING_KEY_FILE and RECON_TOKEN_KEY_FILE at
# /keys, so a container without its keys mounted exits 2 and creates
# nothing (a new key every night would change the signer and every token).
# recon refuses a key file readable by group or others: the files must be
# mode 0600 and owned by uid 10001 (or run with --user "$(id -u):$(id -g)").
# The first time (the folder owned by uid 10001):
#   docker run --rm -v /srv/recon/keys:/keys recon keygen
# writes /keys/recon.key and recon.pub; create the token key with
# `umask 077; openssl rand -hex 32 > /srv/recon/keys/token.key`.
#
# Memory: recon's default budget is half of the *machine's* memory
# (/proc/meminfo), not the container's limit; pass --memory-limit (about
# half the container's limit) wherever a limit is set.
#
# Not built yet: there was no image registry where it was written. Checked
# instead, on a Debian 12 host with a `cargo install --locked` binary: it
# needs only libc, libm and libgcc_s (ldd), all in bookworm-slim; stripped,
# it runs the demo; as uid 10001 with this image's environment, no keys is
# exit 2 and creates nothing, and `recon keygen` writes /keys/recon.key.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# The cache mounts keep the registry and the compiled dependencies between
# builds (a cold build compiles polars: about 15 minutes on two cores). The
# target dir is a cache, so the binary is copied out of it; stripping drops
# the release profile's line tables (about 640 MB to 40 MB).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --locked --release \
    && strip target/release/recon \
    && install -D -m 0755 target/release/recon /out/recon

FROM debian:bookworm-slim
# ca-certificates: for HTTPS (object storage, webhooks); recon needs no other package.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 recon \
    && useradd --system --uid 10001 --gid recon --home-dir /home/recon --create-home \
       --shell /usr/sbin/nologin recon \
    && mkdir -p /keys /reports \
    && chown recon:recon /keys /reports
COPY --from=build /out/recon /usr/local/bin/recon
ENV RECON_HOME=/keys \
    RECON_SIGNING_KEY_FILE=/keys/recon.key \
    RECON_TOKEN_KEY_FILE=/keys/token.key \
    NO_PROGRESS=1
VOLUME ["/keys", "/reports"]
USER recon
# From /, the default `--out reports` is the /reports volume.
WORKDIR /
ENTRYPOINT ["recon"]
CMD ["--help"]
