# One image for all five services (and hifive-check, hifive-stack, hifive-dlq); the command picks one:
#   docker build -t hifive .
#   docker run -p 8088:8080 hifive gateway
# The web page (web/ → /srv/web), served by the gateway at / (WEB_DIR).
FROM node:20-bookworm-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci
COPY web/ ./
RUN npm run build

FROM rust:1.95-slim-bookworm AS build
# librdkafka (bundled by rdkafka) builds with make and a C/C++ toolchain.
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential cmake python3 zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --workspace --bins \
    && mkdir /out \
    && cp target/release/conference target/release/pay target/release/room \
          target/release/customer-center target/release/gateway target/release/hifive-check \
          target/release/hifive-stack target/release/hifive-dlq /out/

FROM debian:bookworm-slim
# curl for container healthchecks; nothing else is needed at run time.
RUN apt-get update && apt-get install -y --no-install-recommends curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin hifive \
    && mkdir /data && chown hifive:hifive /data
COPY --from=build /out/ /usr/local/bin/
COPY --from=web /web/dist/ /srv/web/
USER 10001:10001
# WEB_DIR: only the gateway reads it (the page at /; sign-in needs WEB_OIDC_ISSUER too).
ENV HOST=0.0.0.0 PORT=8080 DATA_DIR=/data RUST_LOG=info WEB_DIR=/srv/web
EXPOSE 8080
VOLUME ["/data"]
CMD ["gateway"]
