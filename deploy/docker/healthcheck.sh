#!/bin/bash
# The containers' health check: GET /health from the process on its own port ($PORT, which
# every image sets) and exit 0 only if it answers 200. Debian slim images have no curl, and
# bash's /dev/tcp needs nothing more. The orchestrator's own timeout bounds the connect;
# the answer must come within 2 seconds.
set -u
port=${PORT:?PORT is not set}
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3 || exit 1
IFS=' ' read -r -t 2 _ status _ <&3 || exit 1
[ "$status" = 200 ]
