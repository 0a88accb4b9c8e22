# syntax=docker/dockerfile:1
# The GraphQL gateway: the one API clients see, HTTP and WebSocket on one port.
#
# The gateway process (bin/mercato-gateway, port 4000) as a container image, built from the
# repository root:
#
#   docker build -f deploy/docker/gateway.Dockerfile -t mercato/gateway .
#
# Configuration comes only from environment variables (docs/configuration.md). The image
# listens on 0.0.0.0:4000, runs as the unprivileged user 10001 and can run with a
# read-only root file system; SIGTERM starts a graceful shutdown bounded by
# SHUTDOWN_TIMEOUT_MS (default 10 s), so give it a stop timeout a few seconds longer.

# --- build: every server, compiled on Debian bookworm as the test suite builds it ----------
# This stage is the same in every process's Dockerfile (tests/deploy checks it), so a
# builder making several images compiles the code once and takes the rest from its cache.
FROM debian:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libargon2-dev libbson-dev libcurl4-openssl-dev libh2o-dev libh2o-dev-common \
      libhiredis-dev libjansson-dev libjwt-dev libmongoc-dev libssl-dev libuv1-dev \
      libwebsockets-dev libwslay-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The build context is what .dockerignore lets through: the sources, schema and seed.
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMERCATO_TESTS=OFF \
 && cmake --build /build --target processes \
 && strip --strip-debug /build/bin/mercato-*

# --- runtime: Debian slim with only the shared libraries this binary links ----------------
# (and libwebsockets' libuv event library, a plugin it loads at start: the WebSockets run
# on the gateway's own libuv loops)
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates libbson-1.0-0 libh2o0.13 libhiredis0.14 libjansson4 libjwt0 \
      libmongoc-1.0-0 libssl3 libuv1 zlib1g \
      libwebsockets17 libwebsockets-evlib-uv \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 mercato \
 && useradd --system --uid 10001 --gid mercato --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin mercato
COPY --from=build /build/bin/mercato-gateway /usr/local/bin/mercato-gateway
COPY --chmod=0755 deploy/docker/healthcheck.sh /usr/local/bin/mercato-healthcheck
# The SDL files the gateway stitches at start (schema/<service>.graphql), read relative
# to the working directory.
WORKDIR /opt/mercato
COPY --from=build /src/schema/ schema/
# The playground's libraries (GraphiQL, React, the graphql-ws client) from the npm
# packages scripts/setup installed, read at start from GATEWAY_PLAYGROUND_DIR
# (node_modules below the working directory). The playground is off in production
# unless GATEWAY_PLAYGROUND=on; then these files are not read.
COPY --from=build /src/node_modules/react/umd/react.production.min.js node_modules/react/umd/
COPY --from=build /src/node_modules/react-dom/umd/react-dom.production.min.js node_modules/react-dom/umd/
COPY --from=build /src/node_modules/graphiql/graphiql.min.js /src/node_modules/graphiql/graphiql.min.css node_modules/graphiql/
COPY --from=build /src/node_modules/graphql-ws/umd/graphql-ws.min.js node_modules/graphql-ws/umd/
ENV HOST=0.0.0.0 \
    PORT=4000
USER 10001:10001
EXPOSE 4000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/mercato-healthcheck"]
ENTRYPOINT ["/usr/local/bin/mercato-gateway"]
