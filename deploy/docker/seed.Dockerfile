# syntax=docker/dockerfile:1
# The demo seed (scripts/seed.py) as a one-shot container, and the Compose deployment's
# secret generator (init-secrets.sh) beside it. Built from the repository root:
#
#   docker build -f deploy/docker/seed.Dockerfile -t mercato/seed .
#
# The seed writes through the services' REST APIs, so it needs their URLs (AUTH_URL,
# CATEGORY_URL, …) and the HS256 key to act as an administrator (JWT_SECRET_FILE), and it
# waits up to MERCATO_SEED_WAIT_SECONDS for the services to answer. Nothing here is
# compiled: the Python standard library is all it uses.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 mercato \
 && useradd --system --uid 10001 --gid mercato --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin mercato \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/mercato/secrets
COPY scripts/seed.py /opt/mercato/scripts/seed.py
COPY scripts/seed/ /opt/mercato/scripts/seed/
COPY --chmod=0755 deploy/docker/init-secrets.sh /usr/local/bin/mercato-init-secrets
USER 10001:10001
HEALTHCHECK NONE
ENTRYPOINT ["python3", "/opt/mercato/scripts/seed.py"]
