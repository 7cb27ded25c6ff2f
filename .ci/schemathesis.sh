#!/usr/bin/env bash
# Issue #4: Schemathesis, a property-based tester written by others, holds the running service
# to its committed documents, openapi/sends.json and openapi/admin.json.
#
#   .ci/schemathesis.sh
#
# Builds target/debug/sendid if needed (a no-op after `cargo test`), serves it on a free port
# with a temporary data directory, provisions a workspace, a campaign and a key through the admin
# API, and runs `st run` against each document with every check but one. Exits non-zero on any
# failure; JUnit reports, logs and `st replay` data stay in target/schemathesis/.
#
# Environment:
#   SENDID_BIN                  a sendid binary to test instead of building one
#   SCHEMATHESIS_SEED           replay the run that printed this seed
#   SCHEMATHESIS_EXAMPLES       examples per public operation: POST /sends/id/create,
#                               POST /campaigns/trigger/send, GET /sends/data_series (default
#                               1000; also the floor of test cases that run must reach)
#   SCHEMATHESIS_ADMIN_EXAMPLES examples per admin operation (default 100)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target_dir=${CARGO_TARGET_DIR:-$root/target}

examples=${SCHEMATHESIS_EXAMPLES:-1000}
admin_examples=${SCHEMATHESIS_ADMIN_EXAMPLES:-100}
seed=${SCHEMATHESIS_SEED:-$(((RANDOM << 15) | RANDOM))}
admin_token="schemathesis-admin-$(od -An -N16 -tx1 /dev/urandom | tr -d " \n")"
campaign=schemathesis-campaign
send_id=schemathesis-send

st=$(command -v st || command -v schemathesis || true)
if [ -z "$st" ]; then
  echo "schemathesis.sh: Schemathesis not found (pip install schemathesis)" >&2
  exit 2
fi

if [ -n "${SENDID_BIN:-}" ]; then
  bin=$SENDID_BIN
else
  cargo build --quiet --bin sendid
  bin=$target_dir/debug/sendid
fi

out=$target_dir/schemathesis
mkdir -p "$out"
work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Port 0: the service binds a free port and its banner says which. --sandbox: the admin document
# describes the sandbox's calls, so they are served (without it each of their paths answers 404
# to every method, as the contract says, and Schemathesis expects 405 for undeclared ones). The
# sends.json suite runs first; the admin suite's resets and fault rules come after it.
"$bin" serve --bind 127.0.0.1:0 --data-dir "$work/data" --admin-token "$admin_token" \
  --sandbox --log warn >"$work/server.log" 2>&1 &
server_pid=$!
base=
for _ in $(seq 300); do
  base=$(sed -n 's|^sendid is listening on \(http://[0-9.]*:[0-9]*\).*|\1|p' "$work/server.log")
  [ -n "$base" ] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "schemathesis.sh: sendid exited at start:" >&2
    cat "$work/server.log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$base" ]; then
  echo "schemathesis.sh: sendid did not report its address within 30 s" >&2
  exit 1
fi

# A quota no run can exhaust, so that 429 never hides another answer.
api_key=$(python3 - "$base" "$admin_token" "$campaign" "$send_id" <<'EOF'
import json, sys, urllib.request

base, token, campaign, send_id = sys.argv[1:]

def post(path, body):
    req = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)

ws = post("/admin/workspaces", {"name": "schemathesis", "daily_send_id_quota": 1000000})
post(f"/admin/workspaces/{ws['id']}/campaigns",
     {"campaign_id": campaign, "name": "schemathesis", "audience_size": 100})
key = post(f"/admin/workspaces/{ws['id']}/api-keys",
           {"name": "schemathesis",
            "permissions": ["sends.id.create", "campaigns.trigger.send", "sends.data_series"]})
# A send ID of the campaign, so that sends and data series under it reach their 201 and 200.
req = urllib.request.Request(
    base + "/sends/id/create",
    data=json.dumps({"campaign_id": campaign, "send_id": send_id}).encode(),
    method="POST",
    headers={"Authorization": f"Bearer {key['api_key']}", "Content-Type": "application/json"},
)
urllib.request.urlopen(req, timeout=10).read()
print(key["api_key"])
EOF
)

# A schema-valid campaign_id is almost never a campaign of the workspace, so half of the
# generated ones name the provisioned campaign (and half of the send_ids its send ID): the
# 200/201 paths, with their headers and quota accounting, are then exercised as much as the
# 400 path — in the bodies of create and send, and the query of the data series.
cat >"$work/sends.toml" <<EOF
[dictionaries.campaigns]
values = ["$campaign"]

[dictionaries.send_ids]
values = ["$send_id"]

[parameters]
"body.campaign_id" = { dictionary = "campaigns", probability = 0.5 }
"body.send_id" = { dictionary = "send_ids", probability = 0.5 }
"query.campaign_id" = { dictionary = "campaigns", probability = 0.5 }
"query.send_id" = { dictionary = "send_ids", probability = 0.5 }
EOF

# Every check except positive_data_acceptance: a schema-valid campaign_id can still name an
# unknown campaign, and the contract's answer to that is a correct 400 (`Invalid campaign_id`).
checks=(--checks all --exclude-checks positive_data_acceptance)

declare -A result cases
failed=0

# suite NAME DOCUMENT EXAMPLES AUTH-TOKEN [global st options...]
suite() {
  local name=$1 document=$2 n=$3 token=$4
  shift 4
  printf '\n=== schemathesis: %s (%s examples per operation, seed %s)\n' "$document" "$n" "$seed"
  set +e
  # From target/schemathesis, so that Schemathesis keeps its example database and replay data
  # there rather than in the checkout.
  (cd "$out" && "$st" "$@" run "$root/openapi/$document" \
    --url "$base" \
    -H "Authorization: Bearer $token" \
    "${checks[@]}" \
    --max-examples "$n" \
    --seed "$seed" \
    --request-timeout 10 \
    --no-color \
    --report junit --report-junit-path "$out/$name.junit.xml") 2>&1 | tee "$out/$name.log"
  local rc=${PIPESTATUS[0]}
  set -e
  # The summary's line after "Test cases:", e.g. "1039 generated, 1039 passed, 2 skipped".
  cases[$name]=$(grep -A1 '^Test cases:' "$out/$name.log" | tail -n1 | sed 's/^ *//')
  if [ "$rc" -eq 0 ]; then
    result[$name]=passed
  else
    result[$name]="FAILED (exit $rc; log: $out/$name.log)"
    failed=1
  fi
}

suite sends sends.json "$examples" "$api_key" --config-file "$work/sends.toml"
suite admin admin.json "$admin_examples" "$admin_token"

generated=$(grep -o '^[0-9]*' <<<"${cases[sends]}" || true)
if [ "${result[sends]}" = passed ] && [ "${generated:-0}" -lt "$examples" ]; then
  result[sends]="FAILED (${generated:-no} test cases, fewer than $examples)"
  failed=1
fi
if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "schemathesis.sh: sendid is no longer running; its log:" >&2
  cat "$work/server.log" >&2
  failed=1
fi

printf '\n=== schemathesis summary (seed %s; replay with SCHEMATHESIS_SEED=%s .ci/schemathesis.sh)\n' \
  "$seed" "$seed"
printf '  %-11s %s: %s\n' sends.json "${result[sends]}" "${cases[sends]:-no summary}"
printf '  %-11s %s: %s\n' admin.json "${result[admin]}" "${cases[admin]:-no summary}"
exit "$failed"
