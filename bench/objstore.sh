#!/usr/bin/env bash
# Parquet to an S3 server on loopback and back: convoy next to a plain
# object_store transfer of the same bytes (bench/objstore_put.rs), in the
# same run, against the same server.
#
# Usage: bench/objstore.sh [ROWS] [RUNS]      (defaults: 2000000 3)
#
# Environment:
#   BENCH_DIR  work directory (default /tmp/convoy-bench-objstore)
#   SEED       generator seed (default 42)
#
# The server is moto (`pip install "moto[server]"`) over HTTPS with a
# certificate from a CA made here with openssl. moto is a Python server, so
# absolute MB/s say more about it than about convoy; the ratio to the plain
# transfer is the figure to read. A Parquet file to a Parquet destination
# with no writing options is copied byte for byte, so convoy moves the same
# bytes as the baseline, and on top: SHA-256 of the output, the row count
# read from the footer before and after, and (down) an fsync before the file
# is renamed into place. "plain down+fsync" is the baseline download with
# that fsync. The "convoy local" row is the same copy between local files.
# Per-run lines go to stderr, the summary to stdout.
set -euo pipefail

ROWS=${1:-2000000}
RUNS=${2:-3}
BENCH_DIR=${BENCH_DIR:-/tmp/convoy-bench-objstore}
SEED=${SEED:-42}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $ROWS =~ ^[0-9]+$ && $ROWS -gt 0 ]] || die "ROWS must be a positive integer"
[[ $RUNS =~ ^[0-9]+$ && $RUNS -gt 0 ]] || die "RUNS must be a positive integer"

# --- prerequisites ---------------------------------------------------------
[[ -x /usr/bin/time ]] || { apt-get install -y time >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y time >/dev/null; }; }
command -v moto_server >/dev/null || python3 -m pip install --quiet "moto[server]"
command -v openssl >/dev/null || die "openssl (the command) is needed to make test certificates"
python3 -c 'import duckdb' 2>/dev/null || python3 -m pip install --quiet duckdb==1.5.5

log "building convoy and the baseline (release)"
cargo build --release --bin convoy --example objstore_put >&2
target=${CARGO_TARGET_DIR:-$repo/target}/release
CONVOY=$target/convoy
BASE=$target/examples/objstore_put

mkdir -p "$BENCH_DIR"
work=$BENCH_DIR
csv=$work/orders_${ROWS}_s${SEED}.csv
pq=$work/orders_${ROWS}_s${SEED}.parquet
[[ -f $csv ]] || python3 bench/gen_orders_csv.py "$ROWS" "$csv" --seed "$SEED"
[[ -f $pq ]] || "$CONVOY" copy "$csv" "$pq" --progress never -q
bytes=$(stat -c %s "$pq")

# --- certificates and server ----------------------------------------------
tls=$work/tls
mkdir -p "$tls"
if [[ ! -f $tls/server.pem ]]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=convoy bench CA" \
        -keyout "$tls/ca-key.pem" -out "$tls/ca.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$tls/server-key.pem" -out "$tls/server.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$tls/ext.cnf"
    openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca-key.pem" \
        -CAcreateserial -days 2 -extfile "$tls/ext.cnf" -out "$tls/server.pem" 2>/dev/null
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# moto spills large objects to temporary files; on a VM disk their writeback
# made runs vary by tens of percent, so they go to memory where possible.
moto_tmp=$work
[[ -d /dev/shm && -w /dev/shm ]] && moto_tmp=$(mktemp -d /dev/shm/convoy-bench-moto.XXXXXX)
TMPDIR=$moto_tmp moto_server -H 127.0.0.1 -p "$port" -c "$tls/server.pem" -k "$tls/server-key.pem" >"$work/moto.log" 2>&1 &
moto_pid=$!
trap 'kill $moto_pid 2>/dev/null || true; [[ $moto_tmp == /dev/shm/* ]] && rm -rf "$moto_tmp"' EXIT
for _ in $(seq 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
    sleep 0.1
done
endpoint=https://127.0.0.1:$port
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret-value
python3 - "$endpoint" "$tls/ca.pem" <<'PY'
import sys, boto3
boto3.client("s3", endpoint_url=sys.argv[1], verify=sys.argv[2], region_name="us-east-1").create_bucket(Bucket="bench")
PY

cat >"$work/up.toml" <<EOF
[connections.s3]
kind = "s3"
bucket = "bench"
region = "us-east-1"
endpoint = "$endpoint"
tls = { ca_file = "$tls/ca.pem" }

[[copy]]
name = "up"
from = { path = "$pq" }
to = { connection = "s3", path = "convoy/orders.parquet" }
EOF
sed -e 's/^name = "up"/name = "down"/' \
    -e "s|^from = .*|from = { connection = \"s3\", path = \"convoy/orders.parquet\" }|" \
    -e "s|^to = .*|to = { path = \"$work/down.parquet\" }|" "$work/up.toml" >"$work/down.toml"
sed -e 's/^name = "up"/name = "csv_up"/' \
    -e "s|^from = .*|from = { path = \"$csv\" }|" \
    -e "s|^to = .*|to = { connection = \"s3\", path = \"convoy/orders_csv.parquet\" }|" "$work/up.toml" >"$work/csv_up.toml"

# --- runs ------------------------------------------------------------------
results=$work/results.tsv
: >"$results"
timed() { # label cmd...
    local label=$1 t0 t1 wall rss
    shift
    t0=$EPOCHREALTIME
    /usr/bin/time -f '%M' -o "$work/time.out" "$@" >"$work/run.log" 2>&1 || { cat "$work/run.log" >&2; die "$label failed"; }
    t1=$EPOCHREALTIME
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    rss=$(tail -1 "$work/time.out")
    printf '%s\t%s\t%s\n' "$label" "$wall" "$rss" >>"$results"
    log "$label  ${wall}s  peak RSS $((rss / 1024)) MiB"
}
for ((n = 1; n <= RUNS; n++)); do
    timed "convoy up" "$CONVOY" run "$work/up.toml" --progress never -q
    timed "plain up" "$BASE" put "$endpoint" bench plain/orders.parquet "$pq" "$tls/ca.pem"
    rm -f "$work/down.parquet" "$work/plain.parquet"
    timed "convoy down" "$CONVOY" run "$work/down.toml" --progress never -q
    timed "plain down" "$BASE" get "$endpoint" bench plain/orders.parquet "$work/plain.parquet" "$tls/ca.pem"
    rm -f "$work/plain.parquet"
    timed "plain down+fsync" "$BASE" get-sync "$endpoint" bench plain/orders.parquet "$work/plain.parquet" "$tls/ca.pem"
    # The same copy between local files: what decoding and encoding cost.
    rm -f "$work/local.parquet"
    timed "convoy local" "$CONVOY" copy "$pq" "$work/local.parquet" --progress never -q
    timed "convoy csv up" "$CONVOY" run "$work/csv_up.toml" --progress never -q
    rm -f "$work/duck.parquet"
    timed "duckdb csv→pq" python3 -c "import duckdb; duckdb.sql(\"COPY (SELECT * FROM read_csv('$csv')) TO '$work/duck.parquet' (FORMAT parquet)\")"
    timed "plain up duckdb" "$BASE" put "$endpoint" bench plain/duck.parquet "$work/duck.parquet" "$tls/ca.pem"
    timed "python+duckdb start" python3 -c "import duckdb; duckdb.sql('select 1')"
done

python3 - "$results" "$bytes" "$ROWS" "$RUNS" "$(nproc)" <<'PY'
import statistics, sys
path, size, rows, runs, cpus = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
by = {}
for line in open(path):
    label, wall, rss = line.rstrip("\n").split("\t")
    by.setdefault(label, []).append((float(wall), int(rss)))
print(f"Parquet {size / 1e6:.1f} MB ({rows:,} rows) to moto over HTTPS on loopback and back; {runs} run(s), {cpus} CPUs")
print(f"{'transfer':<17} {'wall s':>8} {'MB/s':>8} {'peak RSS MiB':>13}")
med = {}
for label, rs in by.items():
    med[label] = statistics.median(w for w, _ in rs)
    print(f"{label:<17} {med[label]:>8.2f} {size / 1e6 / med[label]:>8.1f} {max(r for _, r in rs) / 1024:>13.0f}")
for d in ("up", "down", "down+fsync"):
    print(f"convoy/plain throughput {d}: {med['plain ' + d] / med['convoy ' + d.split('+')[0]]:.2f}x")
bound = med["duckdb csv→pq"] + med["plain up duckdb"]
print(f"convoy csv up / (duckdb csv→pq + plain up duckdb): {med['convoy csv up']:.2f} s / {bound:.2f} s = {med['convoy csv up'] / bound:.2f}x (target ≤ 1.1x)")
print("(wall: median over runs; MB/s of the Parquet file's size; peak RSS: max over runs)")
PY
