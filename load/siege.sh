#!/usr/bin/env bash
# The original's siege command, against a running HiFive's gateway (default :8088).
# siege is a Debian package: apt-get install siege.
#
#   load/siege.sh [GATEWAY_URL]
set -euo pipefail
gw=${1:-http://127.0.0.1:8088}
exec siege -c100 -t60S -v --content-type "application/json" \
  "$gw/conferences POST {\"status\":\"\", \"payId\":0, \"roomNumber\":1}"
