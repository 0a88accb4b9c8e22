#!/bin/bash
# Generates the secrets a Compose deployment shares, once: the HS256 key the auth service
# signs access tokens with (and every process verifies them with), and the key services
# authenticate their internal calls with. Each is 32 random bytes written as 64 hex
# characters into the directory given as $1, readable only by the user that runs every
# Mercato image (10001). Existing files are kept, so restarts keep sessions valid.
set -euo pipefail
dir=${1:?usage: init-secrets DIRECTORY}
umask 077
for name in jwt-secret internal-api-key; do
  if [ ! -s "$dir/$name" ]; then
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/$name.tmp"
    mv "$dir/$name.tmp" "$dir/$name"
    echo "init-secrets: generated $dir/$name"
  fi
done
