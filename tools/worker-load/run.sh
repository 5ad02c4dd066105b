#!/usr/bin/env bash
# Load test of the worker service (not a unit test): N no-op jobs submitted over HTTP to W worker
# processes sharing one PostgreSQL job table on loopback. Checks that every job was claimed and
# completed exactly once and none was lost, then reports claims/s. Needs a local PostgreSQL with
# role onnxlora/onnxlora (as .ci/run sets up). Usage: tools/worker-load/run.sh [jobs=1000] [workers=4]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
jobs="${1:-1000}"; workers="${2:-4}"
db=onnxlora_load
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
su postgres -c "psql -q -c 'DROP DATABASE IF EXISTS $db'" >/dev/null
su postgres -c "psql -q -c 'CREATE DATABASE $db OWNER onnxlora'" >/dev/null
pg="Host=127.0.0.1;Username=onnxlora;Password=onnxlora;Database=$db"
psql_q() { PGPASSWORD=onnxlora psql -h 127.0.0.1 -U onnxlora -d "$db" -tAc "$1"; }

dotnet build "$root/src/OnnxLora.Cli" -c Release -v q -nologo >/dev/null
cli="$root/artifacts/bin/OnnxLora.Cli/release/onnxlora"
key=load-test-key
hash="$("$cli" serve --hash-key "$key")"
mkdir -p "$work/data/models" "$work/data/datasets"
for i in $(seq 1 "$workers"); do
  "$cli" serve --data-dir "$work/data" --postgres "$pg" --urls "http://127.0.0.1:$((18080 + i))" \
    --api-key "load=$hash" --concurrency 1 > "$work/worker$i.log" 2>&1 &
  pids+=($!)
done
for i in $(seq 1 "$workers"); do
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$((18080 + i))/health" >/dev/null && break; sleep 0.2; done
done

start=$(date +%s.%N)
seq 1 "$jobs" | xargs -P 8 -I{} sh -c \
  'curl -sf -o /dev/null -H "Authorization: Bearer '"$key"'" -H "Idempotency-Key: job-{}" \
     "http://127.0.0.1:$((18081 + {} % '"$workers"'))/v1/jobs" -d "{\"kind\":\"noop\",\"duration_ms\":0}"'
submitted=$(date +%s.%N)
while [ "$(psql_q "SELECT count(*) FROM jobs WHERE state NOT IN ('succeeded','failed')")" != "0" ]; do sleep 0.5; done
done_at=$(date +%s.%N)

total=$(psql_q "SELECT count(*) FROM jobs")
succeeded=$(psql_q "SELECT count(*) FROM jobs WHERE state='succeeded'")
claims=$(psql_q "SELECT count(*) FROM job_claims")
multi=$(psql_q "SELECT count(*) FROM (SELECT job_id FROM job_claims GROUP BY job_id HAVING count(*) <> 1) x")
by_worker=$(psql_q "SELECT worker || ':' || count(*) FROM job_claims GROUP BY worker ORDER BY worker" | tr '\n' ' ')
echo "submitted $jobs jobs to $workers workers in $(awk -v a="$start" -v b="$submitted" 'BEGIN{printf "%.1f", b-a}')s"
echo "jobs in table: $total, succeeded: $succeeded, lost: $((jobs - total)), claimed more than once: $multi, claims: $claims"
echo "claims per worker: $by_worker"
echo "claims/s (first submit → last completion): $(awk -v a="$start" -v b="$done_at" -v n="$claims" 'BEGIN{printf "%.0f", n/(b-a)}')"
[ "$total" = "$jobs" ] && [ "$succeeded" = "$jobs" ] && [ "$multi" = "0" ] && [ "$claims" = "$jobs" ]
