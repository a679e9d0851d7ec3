#!/usr/bin/env bash
# Instructions per request, counted by callgrind, of the pingora pass-through,
# of the gateway (allowed requests, header identity) and of the gateway with
# the signed decision assertion (EdDSA) on the same request
# as `reqflo-loadtest compare`: a noise-free complement to compare's CPU per
# request (it counts user-space instructions only, not kernel time or cache
# misses). Needs valgrind and release builds:
#
#   cargo build --release -p reqflo-loadtest -p reqflo-gateway
#   loadtest/scripts/callgrind-per-request.sh [BIN_DIR] [REQUESTS_PER_SECOND] [SECONDS]
#
# Each proxy runs under callgrind; 600 unmeasured requests warm it up, then
# counters are zeroed, RATE × SECONDS requests (4 connections, open loop) are
# sent, and the counters dumped. Prints instructions per request for each.
set -euo pipefail
export RUST_LOG=warn

bin=${1:-target/release}
rate=${2:-300}
seconds=${3:-10}
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$dir"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
    for _ in $(seq 240); do
        if (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.5
    done
    echo "nothing listens on port $1 after 120 s" >&2
    exit 1
}

upstream=$(free_port)
"$bin/reqflo-loadtest" upstream --listen "127.0.0.1:$upstream" --ignore-stdin 2>/dev/null &
pids+=($!)
wait_port "$upstream"

cat > "$dir/policy.yaml" <<'YAML'
version: 1
orgs:
  - id: loadtest-org
    services:
      - id: payments
    resources:
      - id: staging
        kind: environment
      - id: checkout
        kind: journey
        service: payments
        access_mode: restricted
    grants:
      - id: alice-runs-checkout
        principal: { user: lt-alice }
        scope: { resource: checkout }
        actions: [run]
        environments: [staging]
      - id: alice-uses-staging
        principal: { user: lt-alice }
        scope: { resource: staging }
        actions: [use]
users:
  - id: lt-alice
    memberships: [{ org: loadtest-org, status: active, roles: [member] }]
YAML

cat > "$dir/allowed.yaml" <<'YAML'
name: allowed
requests:
  - name: allowed-run
    method: POST
    path: /api/v1/orgs/loadtest-org/journeys/checkout/runs?env=staging
    headers:
      content-type: application/json
      x-reqflo-user: lt-alice
    body: '{"inputs":{"cart":"c-123"}}'
    expect: [200]
YAML

# measure NAME PORT MIX COMMAND...: prints NAME and instructions per request.
measure() {
    local name=$1 port=$2 mix=$3
    shift 3
    valgrind --tool=callgrind --callgrind-out-file="$dir/$name.out" "$@" > "$dir/$name.log" 2>&1 &
    local pid=$!
    pids+=("$pid")
    wait_port "$port"
    "$bin/reqflo-loadtest" run --target "127.0.0.1:$port" --mix "$mix" \
        --connections 4 --rate 200 --duration 3s > /dev/null 2>&1
    callgrind_control -z "$pid" > /dev/null
    local sent
    sent=$("$bin/reqflo-loadtest" run --target "127.0.0.1:$port" --mix "$mix" \
        --connections 4 --rate "$rate" --duration "${seconds}s" --json "$dir/$name.json" 2>&1 \
        | awk '/^target /{getline; getline; print $2}')
    callgrind_control -d "$pid" > /dev/null
    # The counters are dumped: stop it at once (pingora under valgrind can
    # take minutes to act on SIGTERM).
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
    local total
    total=$(callgrind_annotate "$dir/$name.out.1" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",", "", $1); print $1}')
    echo "$name: $((total / sent)) instructions/request ($sent requests)"
}

pt=$(free_port)
measure passthrough "$pt" "$here/../mixes/plain.yaml" \
    "$bin/reqflo-passthrough" --listen "127.0.0.1:$pt" --upstream "127.0.0.1:$upstream" --threads 2 --ignore-stdin

gw=$(free_port)
admin=$(free_port)
cat > "$dir/gateway.yaml" <<YAML
listen:
  proxy: 127.0.0.1:$gw
  admin: 127.0.0.1:$admin
upstreams:
  backend:
    address: 127.0.0.1:$upstream
identity:
  trusted_header:
    header: x-reqflo-user
    trusted_sources: [127.0.0.1/32]
policy: policy.yaml
routes:
  - id: run-journey
    methods: [POST]
    path: /api/v1/orgs/{org}/journeys/{journey}/runs
    action: run
    resource: "{journey}"
    kind: journey
    environment: { from: query, name: env }
    environment_required: true
    upstream: backend
YAML
measure gateway "$gw" "$dir/allowed.yaml" \
    "$bin/reqflo-gateway" serve --config "$dir/gateway.yaml" --threads 2

# The same gateway signing a decision assertion for every forwarded request.
cp "$here/../../tests/fixtures/keys/assertion-ed25519-private.pem" "$dir/assertion-ed25519.pem"
gw2=$(free_port)
admin2=$(free_port)
sed -e "s/127.0.0.1:$gw\$/127.0.0.1:$gw2/" -e "s/127.0.0.1:$admin\$/127.0.0.1:$admin2/" "$dir/gateway.yaml" > "$dir/gateway-assertion.yaml"
printf 'assertion:\n  algorithm: EdDSA\n  kid: loadtest\n  key: assertion-ed25519.pem\n' >> "$dir/gateway-assertion.yaml"
measure gateway-assertion "$gw2" "$dir/allowed.yaml" \
    "$bin/reqflo-gateway" serve --config "$dir/gateway-assertion.yaml" --threads 2
