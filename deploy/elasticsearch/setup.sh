#!/bin/sh
# One-shot: load the ILM policies and the templates into Elasticsearch (used by docker-compose).
# Component templates go first: an index template that names a missing one is refused.
# The data streams themselves (logs-jupyterhub-default, logs-jupyterhub.ecs-default,
# logenrich-dead-letter) are created by their first `create` write.
set -eu
ES="${ES_URL:-http://elasticsearch:9200}"
DIR="$(dirname "$0")"
until curl -fsS "$ES/_cluster/health?wait_for_status=yellow&timeout=5s" >/dev/null; do echo "waiting for $ES"; sleep 2; done
put() { curl -fsS -X PUT "$ES/$1" -H 'Content-Type: application/json' --data-binary "@$DIR/$2"; echo; }
put _ilm/policy/logenrich-jupyterhub ilm-policy.json
put _ilm/policy/logenrich-dead-letter ilm-policy-dead-letter.json
put _component_template/logenrich-settings component-template-settings.json
put _component_template/logenrich-record component-template-record.json
put _component_template/logenrich-default component-template-default.json
put _component_template/logenrich-ecs component-template-ecs.json
put _index_template/logenrich-jupyterhub index-template.json
put _index_template/logenrich-jupyterhub-ecs index-template-ecs.json
put _index_template/logenrich-dead-letter dead-letter-index-template.json
