#!/bin/sh
# docker-entrypoint.sh — the image's entry point: runs `buzzradar ARGS...`.
#
# For the commands that talk to Kafka (`run`, `tail`), every regular file in
# $BUZZRADAR_RDKAFKA_DIR (default /etc/buzzradar/rdkafka) becomes a librdkafka
# property: the file's name is the property, its content the value (trailing newlines
# dropped), passed as `-X name=value` before the arguments given to the container, so
# that an explicit -X on the command line comes last. A Kubernetes Secret mounted
# there (keys `security.protocol`, `sasl.mechanisms`, `sasl.username`,
# `sasl.password`, ...) thus turns SASL/TLS on without new code and without putting
# credentials in the manifest. Hidden files (the ..data links of Secret and ConfigMap
# volumes) and names that cannot be librdkafka properties are skipped, the latter
# with a warning on stderr. Other commands, and a missing or empty folder, run
# buzzradar with the arguments unchanged.
set -eu

dir=${BUZZRADAR_RDKAFKA_DIR:-/etc/buzzradar/rdkafka}

if [ $# -gt 0 ] && { [ "$1" = run ] || [ "$1" = tail ]; } && [ -d "$dir" ]; then
  cmd=$1
  shift
  nargs=$#
  for f in "$dir"/*; do
    [ -f "$f" ] || continue # the unmatched pattern itself, or a folder
    name=${f##*/}
    case $name in
      *[!a-z0-9._-]*)
        echo "docker-entrypoint: skipping $f: not a librdkafka property name" >&2
        continue
        ;;
    esac
    value=$(cat "$f")
    set -- "$@" -X "$name=$value"
  done
  # Move the container's own arguments behind the properties read from files.
  i=0
  while [ "$i" -lt "$nargs" ]; do
    set -- "$@" "$1"
    shift
    i=$((i + 1))
  done
  set -- "$cmd" "$@"
fi

exec buzzradar "$@"
