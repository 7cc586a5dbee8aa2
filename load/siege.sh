#!/usr/bin/env bash
# The original's siege command, against a running HiFive's gateway (default :8088).
# siege is a Debian package: apt-get install siege.
#
#   load/siege.sh [GATEWAY_URL]
#
# Bookings need a customer's token: HIFIVE_TOKEN, or script/token's for a local stack. From one
# address, 100 users exceed the gateway's per-client rate limit: start the stack with
# GATEWAY_RATE_LIMIT=0 to measure the system rather than the limit.
set -euo pipefail
gw=${1:-http://127.0.0.1:8088}
token=${HIFIVE_TOKEN:-$("$(dirname "$0")/../script/token" customer siege)}
exec siege -c100 -t60S -v --content-type "application/json" -H "Authorization: Bearer $token" \
  "$gw/conferences POST {\"status\":\"\", \"payId\":0, \"roomNumber\":1}"
