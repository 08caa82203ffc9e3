#!/bin/sh
# Demo log generator: replays a real-looking JupyterHub log into /var/log/jupyterhub/hub.log,
# one line every 200 ms, with each hub-format line re-stamped with the current time.
set -eu
SAMPLE="${SAMPLE:-/sample/jupyterhub.log}"
OUT="${OUT:-/var/log/jupyterhub/hub.log}"
mkdir -p "$(dirname "$OUT")"
while true; do
  while IFS= read -r line; do
    now="$(date -u '+%Y-%m-%d %H:%M:%S').000"
    printf '%s\n' "$line" | sed -E "s/^\[([DIWEC]) [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+ /[\1 $now /" >> "$OUT"
    sleep 0.2
  done < "$SAMPLE"
done
