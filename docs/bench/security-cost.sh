#!/usr/bin/env bash
# security-cost.sh: what tokens and TLS cost, measured in one run with KVBench (64 connections,
# 10,000 keys, 100-byte values): one ServerMain process of three nodes, started three ways
# (plain, with tokens, with tokens and TLS), puts then eventual gets on each, ROUNDS times in
# turn so that the machine's drift touches all three alike. Prints one line per run and the
# medians' ratios against plain TCP.
#
# Usage: swift build -c release && docs/bench/security-cost.sh   (env: ROUNDS=2 DUR=10 PORT=7393)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-2}; DUR=${DUR:-10}; PORT=${PORT:-7393}
bin=.build/release
work=$(mktemp -d); server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "{\"nodes\":3,\"proxy\":{\"host\":\"127.0.0.1\",\"port\":$PORT},\"http\":{\"enabled\":false}}" >"$work/base.json"
"$bin/ServerMain" --make-certs "$work/certs" --config "$work/base.json" >/dev/null
config() {  # config MODE -> file
  local auth="" tls=""
  [ "$1" != plain ] && auth=",\"auth\":{\"tokens\":[{\"token\":\"$token\",\"role\":\"admin\"}]}"
  [ "$1" = tls ] && tls=",\"tls\":{\"cert\":\"$work/certs/member{id}.pem\",\"key\":\"$work/certs/member{id}-key.pem\",\"ca\":\"$work/certs/ca.pem\"}"
  echo "{\"nodes\":3,\"proxy\":{\"host\":\"127.0.0.1\",\"port\":$PORT},\"dataDir\":\"$work/data-$1\",\"http\":{\"enabled\":false}$auth$tls}" >"$work/$1.json"
  echo "$work/$1.json"
}
flags() {
  case $1 in plain) ;; tokens) echo "--token $token" ;; tls) echo "--token $token --tls-ca $work/certs/ca.pem" ;; esac
}
results=()
for round in $(seq 1 "$ROUNDS"); do
  for mode in plain tokens tls; do
    rm -rf "$work/data-$mode"
    "$bin/ServerMain" --config "$(config $mode)" --quiet >/dev/null 2>&1 & server=$!
    for i in $(seq 1 150); do
      "$bin/ClientMain" --port "$PORT" $(flags $mode) status 2>/dev/null | grep -q leader && break
      sleep 0.2
    done
    for workload in put get; do
      line=$("$bin/KVBench" --port "$PORT" $(flags $mode) --workload $workload --keys 10000 --duration "$DUR" --warmup 2 --json)
      echo "$mode $workload $line"
      results+=("$mode $workload $line")
    done
    kill "$server"; wait "$server" 2>/dev/null || true; server=
  done
done
printf '%s\n' "${results[@]}" | python3 -c '
import json, statistics, sys
rates = {}
for line in sys.stdin:
    mode, workload, text = line.split(" ", 2)
    rates.setdefault((mode, workload), []).append(json.loads(text)["ok_ops_s"])
for workload in ("put", "get"):
    plain = statistics.median(rates[("plain", workload)])
    row = [f"{workload}: plain {plain:,.0f}/s"]
    for mode in ("tokens", "tls"):
        value = statistics.median(rates[(mode, workload)])
        row.append(f"{mode} {value:,.0f}/s ({100 * value / plain:.1f}%)")
    print("; ".join(row))
'
