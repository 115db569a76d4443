#!/bin/bash
# healthcheck.sh — the image's HEALTHCHECK (installed as buzzradar-healthcheck): exits
# 0 when the worker's `GET /health` answers 200, 1 otherwise (nothing listening, no
# answer within 3 s, another status). Needs only bash (its /dev/tcp), no HTTP client
# in the image.
#
#   buzzradar-healthcheck [HOST:PORT]
#
# The address defaults to $BUZZRADAR_HTTP (the worker's listen address; 0.0.0.0, an
# empty host or [::] are probed on the loopback), else 127.0.0.1:8080.
set -u
trap "" PIPE # a server that hangs up early must not kill the check with SIGPIPE

addr=${1:-${BUZZRADAR_HTTP:-127.0.0.1:8080}}
host=${addr%:*}
port=${addr##*:}
case $host in
  '' | 0.0.0.0 | '*' | "$addr") host=127.0.0.1 ;;
  '[::]') host=::1 ;;
  \[*\]) host=${host#\[} host=${host%\]} ;;
esac
case $port in
  '' | *[!0-9]*) echo "buzzradar-healthcheck: bad address '$addr'" >&2; exit 1 ;;
esac

{ exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null || { echo "buzzradar-healthcheck: nothing listens on $host:$port" >&2; exit 1; }
printf 'GET /health HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' "$host" >&3 2>/dev/null
if ! IFS=' ' read -r -t 3 _proto status _rest <&3; then
  echo "buzzradar-healthcheck: no answer from $host:$port" >&2
  exit 1
fi
status=${status%$'\r'} # a status line without a reason phrase ends at the CR
[ "$status" = 200 ] && exit 0
echo "buzzradar-healthcheck: GET /health answered ${status:-nothing}" >&2
exit 1
