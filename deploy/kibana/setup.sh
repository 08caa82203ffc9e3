#!/bin/sh
# One-shot: import the saved objects (data views, saved searches, dashboards for both output
# profiles), create the connectors (a server log, available on every license, and an index of
# alert history: logenrich-alerts), then the alert rules that act through them. The ids come from
# the `ids` file; a connector or rule that exists is deleted and created again.
set -eu
KIBANA="${KIBANA_URL:-http://kibana:5601}"
DIR="$(dirname "$0")"
until curl -fsS "$KIBANA/api/status" | grep -q '"level":"available"'; do echo "waiting for $KIBANA"; sleep 5; done
curl -fsS -X POST "$KIBANA/api/saved_objects/_import?overwrite=true" -H 'kbn-xsrf: true' \
  --form "file=@$DIR/saved-objects.ndjson"; echo
create() {  # create API-PATH ID BODY-FILE
  curl -sS -X DELETE "$KIBANA/$1/$2" -H 'kbn-xsrf: true' >/dev/null || true
  curl -fsS -X POST "$KIBANA/$1/$2" -H 'kbn-xsrf: true' -H 'Content-Type: application/json' \
    --data-binary "@$3"; echo
}
# connectors first: a rule whose action names a missing connector is refused
grep '^connector ' "$DIR/ids" | while read -r _ name id; do
  create api/actions/connector "$id" "$DIR/connectors/$name.json"
done
grep '^rule ' "$DIR/ids" | while read -r _ name id; do
  create api/alerting/rule "$id" "$DIR/rules/$name.json"
done
