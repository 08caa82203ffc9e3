#!/bin/sh
# One-shot: import the saved objects (data view, saved search, dashboard) and create the alert rules.
set -eu
KIBANA="${KIBANA_URL:-http://kibana:5601}"
DIR="$(dirname "$0")"
until curl -fsS "$KIBANA/api/status" | grep -q '"level":"available"'; do echo "waiting for $KIBANA"; sleep 5; done
curl -fsS -X POST "$KIBANA/api/saved_objects/_import?overwrite=true" -H 'kbn-xsrf: true' \
  --form "file=@$DIR/saved-objects.ndjson"; echo
for rule in "$DIR"/rules/*.json; do
  id="logenrich-$(basename "$rule" .json)"
  curl -sS -X DELETE "$KIBANA/api/alerting/rule/$id" -H 'kbn-xsrf: true' >/dev/null || true
  curl -fsS -X POST "$KIBANA/api/alerting/rule/$id" -H 'kbn-xsrf: true' -H 'Content-Type: application/json' \
    --data-binary "@$rule"; echo
done
