#!/usr/bin/env bash
# Benchmark convoy's PostgreSQL connector against psql's own COPY and DuckDB
# 1.5.5 with its PostgreSQL extension, measured in the same run on the same
# throwaway cluster (TLS on and verified for every client).
#
#   bench/postgres.sh [ROWS] [RUNS]  (defaults 2,000,000 and 3)
#
# Each pair (bound, convoy) runs RUNS times, alternating, and the medians are
# compared: single runs on a shared 2-core machine vary by tens of percent.
#
# Needs: PostgreSQL 15 server binaries in /usr/lib/postgresql/15/bin, psql,
# openssl (for the test certificate), GNU time, and a release build
# (cargo build --release; CONVOY=path/to/convoy to use another binary).
# Runs as root: the server runs as the postgres user.
set -euo pipefail

ROWS=${1:-2000000}
RUNS=${2:-3}
BIN=/usr/lib/postgresql/15/bin
HERE=$(cd "$(dirname "$0")/.." && pwd)
CONVOY=${CONVOY:-${CARGO_TARGET_DIR:-$HERE/target}/release/convoy}
[ -x "$CONVOY" ] || { echo "missing $CONVOY: run cargo build --release" >&2; exit 1; }
for b in initdb pg_ctl; do [ -x "$BIN/$b" ] || { echo "missing $BIN/$b" >&2; exit 1; }; done

W=$(mktemp -d /tmp/convoy-bench.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export PGPASSWORD=bench-pw
cleanup() { runuser -u postgres -- "$BIN/pg_ctl" -D "$W/data" stop -m immediate >/dev/null 2>&1 || true; rm -rf "$W"; }
trap cleanup EXIT

# Certificate authority and server certificate for "localhost".
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=convoy bench CA" -keyout "$W/ca.key" -out "$W/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
  -keyout "$W/server.key" -out "$W/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost\n' > "$W/ext"
openssl x509 -req -in "$W/server.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial \
  -days 2 -extfile "$W/ext" -out "$W/server.crt" 2>/dev/null

echo "$PGPASSWORD" > "$W/pw"
chown -R postgres:postgres "$W"
runuser -u postgres -- "$BIN/initdb" -D "$W/data" -U postgres --pwfile "$W/pw" -A scram-sha-256 -E UTF8 --no-sync >/dev/null
cp "$W/server.crt" "$W/server.key" "$W/data/"
chown postgres:postgres "$W/data/server.crt" "$W/data/server.key"; chmod 600 "$W/data/server.key"
cat >> "$W/data/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$W'
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
shared_buffers = '256MB'
max_wal_size = '4GB'
# Autovacuum would vacuum and analyze the table a run just loaded while the
# next run is timed, on the same 2 cores: off, for either side.
autovacuum = off
CONF
printf 'hostssl all all 127.0.0.1/32 scram-sha-256\nhostnossl all all 0.0.0.0/0 reject\n' > "$W/data/pg_hba.conf"
runuser -u postgres -- "$BIN/pg_ctl" -D "$W/data" -l "$W/log" -w start >/dev/null

CONN="host=localhost port=$PORT user=postgres dbname=postgres sslmode=verify-full sslrootcert=$W/ca.pem"
q() { psql "$CONN" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }

echo "creating a $ROWS-row table…"
q "create table t (id bigint primary key, n int, amount numeric(18,4), x double precision, s text, sn text,
      at timestamptz, ok bool, u uuid);
   insert into t select g, g % 1000, (g::bigint * 7919 % 100000000) / 10000.0, g / 3.0, md5(g::text),
      case when g % 3 = 0 then null else 'note ' || g end, '2024-01-01'::timestamptz + g * interval '1 second',
      g % 2 = 0, md5(g::text)::uuid from generate_series(1, $ROWS) g;"
q "vacuum analyze t"
# Booleans as true/false: convoy's CSV reader does not read PostgreSQL's t/f.
q "copy (select id, n, amount, x, s, sn, at, case when ok then 'true' when not ok then 'false' end as ok, u from t)
   to stdout (format csv, header)" > "$W/t.csv"

cat > "$W/spec.toml" <<SPEC
[connections.pg]
kind = "postgres"
host = "localhost"
port = $PORT
database = "postgres"
user = "postgres"
password = "\${env:PGPASSWORD}"
tls = { ca_file = "$W/ca.pem" }

[[copy]]
name = "to_parquet"
from = { connection = "pg", table = "t" }
to = { path = "$W/t.parquet" }

[[copy]]
name = "pg_to_pg"
from = { connection = "pg", table = "t" }
to = { connection = "pg", table = "t_copy" }
mode = "append"

[[copy]]
name = "pg_to_pg_replace"
from = { connection = "pg", table = "t" }
to = { connection = "pg", table = "t_copy" }
mode = "replace"

[[copy]]
name = "stage_dir"
from = { connection = "pg", table = "t" }
to = { connection = "pg", table = "t_copy" }
mode = "replace"
stage = { path = "$W/stage" }

[[copy]]
name = "stage_dir_encrypted"
from = { connection = "pg", table = "t" }
to = { connection = "pg", table = "t_copy" }
mode = "replace"
stage = { path = "$W/stage", encrypt = true }

[[copy]]
name = "stage_s3"
from = { connection = "pg", table = "t" }
to = { connection = "pg", table = "t_copy" }
mode = "replace"
stage = { connection = "s3", path = "stage" }

[[copy]]
name = "stage_s3_encrypted"
from = { connection = "pg", table = "t" }
to = { connection = "pg", table = "t_copy" }
mode = "replace"
stage = { connection = "s3", path = "stage", encrypt = true }

[connections.s3]
kind = "s3"
bucket = "bench"
region = "us-east-1"
endpoint = "https://127.0.0.1:\${MOTO_PORT}"
access_key_id = "bench"
secret_access_key = "\${env:BENCH_S3_SECRET}"
tls = { ca_file = "$W/ca.pem" }

[[copy]]
name = "pq_to_pg"
from = { path = "$W/t.parquet" }
to = { connection = "pg", table = "t_pq" }
mode = "replace"

[[copy]]
name = "csv_to_pg"
from = { path = "$W/t.csv", schema = "id:int64,n:int32,amount:decimal(18,4),x:float64,s:string,sn:string,at:timestamptz,ok:bool,u:uuid" }
to = { connection = "pg", table = "t_csv" }
mode = "replace"
SPEC

# row NAME SECONDS KIB CPU SERVER_CPU: one line of the table (peak RSS is the
# max over runs; CPU seconds are the client's and the server's, medians).
row() {
  awk -v n="$1" -v s="$2" -v k="$3" -v c="$4" -v sc="$5" -v r="$ROWS" \
    'BEGIN { printf "%-34s %8.2f s %12.0f rows/s %8.1f MiB   cpu %5.2f s + server %5.2f s\n", n, s, r / s, k / 1024, c, sc }'
}
# The servers' CPU seconds so far: every live postgres process's own time,
# plus what the postmaster has collected from the backends that exited, and
# the S3 emulator's (moto, a Python process on the same cores) once started.
TICKS=$(getconf CLK_TCK)
server_cpu() {
  local pid total=0 f
  for pid in $(pgrep -u postgres) ${MOTO_PID:-}; do
    f=$(cut -d' ' -f14-17 "/proc/$pid/stat" 2>/dev/null) || continue
    set -- $f
    total=$((total + $1 + $2 + $3 + $4))
  done
  awk -v t="$total" -v hz="$TICKS" 'BEGIN { printf "%.2f", t / hz }'
}
# once CMD…: runs it, leaves "wall KiB client-cpu server-cpu" in $W/time.
once() {
  local before; before=$(server_cpu)
  /usr/bin/time -f "%e %M %U %S" -o "$W/time" "$@" >/dev/null
  local after; after=$(server_cpu)
  awk -v b="$before" -v a="$after" '{ printf "%s %s %.2f %.2f\n", $1, $2, $3 + $4, a - b }' \
    "$W/time" > "$W/time.n" && mv "$W/time.n" "$W/time"
}
# compare TARGET NAME_1 "SETUP_1" "CMD_1" NAME_2 "SETUP_2" "CMD_2" [NAME_3 …]:
# RUNS rounds, each running every command once in turn (SETUP, then a
# CHECKPOINT, before every run, untimed); then each command's median, and
# its ratio to the first one's. TARGET applies to the second (convoy). The
# checkpoint makes every run start with no dirty buffers or WAL of an
# earlier run left to flush.
# median_of COLUMN FILE: the median of one column of the per-run lines.
median_of() { cut -d' ' -f"$1" "$2" | sort -n | awk '{ s[NR] = $1 } END { print s[int((NR + 1) / 2)] }'; }
# On a machine whose cores the client and the server share, no client can
# beat the CPU bound: all CPU time, client's and server's, spread over every
# core. (A copy that uses one server session is also bounded by that
# session's backend alone: about the server's CPU time.) compare prints it
# for convoy's line from convoy's own runs.
cpu_bound() {
  awk -v c="$1" -v sc="$2" -v n="$(nproc)" 'BEGIN { printf "%.2f", (c + sc) / n }'
}
compare() {
  local target=$1; shift
  local -a names setups cmds
  while [ $# -gt 0 ]; do names+=("$1"); setups+=("$2"); cmds+=("$3"); shift 3; done
  local n=${#names[@]} i
  for i in $(seq 0 $((n - 1))); do : > "$W/r$i"; done
  for _ in $(seq "$RUNS"); do
    local line="  run:"
    for i in $(seq 0 $((n - 1))); do
      eval "${setups[$i]}"; q checkpoint; once sh -c "${cmds[$i]}"; cat "$W/time" >> "$W/r$i"
      line="$line $(tail -1 "$W/r$i" | cut -d' ' -f1) s"
    done
    echo "$line" >&2
  done
  local base m
  for i in $(seq 0 $((n - 1))); do
    m=$(sort -n "$W/r$i" | awk '{ s[NR] = $1 } END { print s[int((NR + 1) / 2)] }')
    [ "$i" = 0 ] && base=$m
    row "${names[$i]}" "$m" "$(sort -k2 -n "$W/r$i" | tail -1 | cut -d' ' -f2)" \
      "$(median_of 3 "$W/r$i")" "$(median_of 4 "$W/r$i")"
    if [ "$i" = 1 ]; then
      awk -v a="$m" -v b="$base" -v lim="$target" -v n="$RUNS" \
        'BEGIN { printf "  ratio %.2f× (target ≤ %s×; medians of %d runs)\n", a / b, lim, n }'
      echo "  CPU bound: all CPU over $(nproc) cores $(cpu_bound "$(median_of 3 "$W/r$i")" "$(median_of 4 "$W/r$i")") s; server CPU $(median_of 4 "$W/r$i") s"
    elif [ "$i" -gt 1 ]; then
      awk -v a="$m" -v b="$base" -v c="$second" \
        'BEGIN { printf "  ratio %.2f×; convoy / this: %.2f×\n", a / b, c / a }'
    fi
    if [ "$i" = 1 ]; then second=$m; fi
  done
  echo
}

# DuckDB with its PostgreSQL extension (libpq, TLS verified like every
# client here), loaded from the wheel: the extension cannot be downloaded.
# duck SQL…: attach the cluster as "pg" and run each statement.
python3 -c 'import duckdb, duckdb_extension_postgres_scanner' 2>/dev/null ||
  python3 -m pip install --quiet duckdb==1.5.5 duckdb-extension-postgres-scanner==1.5.5
cat > "$W/duck.py" <<'PY'
import os, sys
import duckdb, duckdb_extension_postgres_scanner as ext
path = os.path.join(os.path.dirname(ext.__file__), "extensions", "v" + duckdb.__version__,
                    "postgres_scanner.duckdb_extension")
c = duckdb.connect()
c.sql(f"LOAD '{path}'")
c.sql(f"ATTACH '{sys.argv[1]}' AS pg (TYPE postgres)")
for q in sys.argv[2:]:
    c.sql(q)
PY
duck() { printf "python3 '%s' '%s'" "$W/duck.py" "$CONN"; for a in "$@"; do printf ' "%s"' "$a"; done; }

# ONLY=parquet|pq|pg|csv|stage|shards runs one section (stage and shards run
# only when asked).
ONLY=${ONLY:-}
want() { { [ -z "$ONLY" ] && [ "$1" != stage ] && [ "$1" != shards ]; } || [ "$ONLY" = "$1" ]; }

echo
if want parquet; then
echo "PG → Parquet"
compare 1.05 "psql COPY binary > /dev/null" ":" "psql '$CONN' -X -c 'copy t to stdout (format binary)' > /dev/null" \
     "convoy → parquet" ":" "'$CONVOY' run '$W/spec.toml' --copy to_parquet --progress never -q" \
     "duckdb postgres_scanner → parquet" ":" \
     "$(duck "COPY (SELECT * FROM pg.public.t) TO '$W/duck.parquet' (FORMAT parquet)")" \
     "python + duckdb start, attach" ":" "$(duck "SELECT 1")"
fi

if want pq; then
echo "Parquet → PG (new table)"
[ -f "$W/t.parquet" ] || "$CONVOY" run "$W/spec.toml" --copy to_parquet --progress never -q
[ -f "$W/t.bin" ] || { q "copy t to stdout (format binary)" > "$W/t.bin"; chmod 644 "$W/t.bin"; }
drop() { echo "q 'set client_min_messages = warning; drop table if exists $1'"; }
compare 1.1 "psql binary COPY of a file, over TLS" "$(drop t_bin)" \
     "psql '$CONN' -X -q -c 'begin' -c 'create table t_bin (like t)' -c \"\\\\copy t_bin from '$W/t.bin' (format binary)\" -c 'commit'" \
     "convoy parquet → pg" "$(drop t_pq)" "'$CONVOY' run '$W/spec.toml' --copy pq_to_pg --progress never -q" \
     "duckdb read_parquet → pg" "$(drop t_duck)" \
     "$(duck "CREATE TABLE pg.public.t_duck AS SELECT * FROM read_parquet('$W/t.parquet')")"
echo "  rows: t_pq=$(q 'select count(*) from t_pq') t_duck=$(q 'select count(*) from t_duck')"
fi

if want pg; then
echo "PG → PG (same server)"
q "create table t_psql (like t)"
q "create table t_copy (like t)"
# Both load into an empty table emptied before the timed run; the third line
# is convoy's replace mode, which empties the table inside its own
# transaction (the previous run's rows are dropped at commit).
compare 1.1 "psql COPY | psql COPY" "q 'truncate t_psql'" \
     "psql '$CONN' -X -c 'copy t to stdout (format binary)' | psql '$CONN' -X -c 'copy t_psql from stdin (format binary)'" \
     "convoy pg → pg (append)" "q 'truncate t_copy'" \
     "'$CONVOY' run '$W/spec.toml' --copy pg_to_pg --progress never -q" \
     "convoy pg → pg (replace)" ":" \
     "'$CONVOY' run '$W/spec.toml' --copy pg_to_pg_replace --progress never -q"
fi

if want csv; then
echo "CSV → PG (new table, exact types)"
q "create table t_psql_csv (like t)"
# Two floors for binary COPY loading, from the same rows as binary COPY
# data, into a table created in the same transaction as convoy does: the
# server reading the file itself (no client, no network, no TLS), and psql
# sending the file over TLS, which is what the best possible client would
# do. The second is the bound for convoy's ratio.
q "copy t to stdout (format binary)" > "$W/t.bin"
chmod 644 "$W/t.bin"
new_bin="q 'set client_min_messages = warning; drop table if exists t_bin'"
compare 0.45 "psql copy-from-csv (client side)" "q 'truncate t_psql_csv'" \
     "psql '$CONN' -X -c \"\\\\copy t_psql_csv from '$W/t.csv' (format csv, header)\"" \
     "convoy csv → pg" "q 'set client_min_messages = warning; drop table if exists t_csv'" \
     "'$CONVOY' run '$W/spec.toml' --copy csv_to_pg --progress never -q" \
     "psql binary COPY of a file, over TLS" "$new_bin" \
     "psql '$CONN' -X -q -c 'begin' -c 'create table t_bin (like t)' -c \"\\\\copy t_bin from '$W/t.bin' (format binary)\" -c 'commit'" \
     "server-side binary COPY FROM file" "$new_bin" \
     "psql '$CONN' -X -q -c 'begin' -c 'create table t_bin (like t)' -c \"copy t_bin from '$W/t.bin' (format binary)\" -c 'commit'"
fi

if want stage; then
echo "PG → PG through a stage (2 × the data moved, Parquet parts, SHA-256 both ways)"
# moto over HTTPS with a certificate from the bench CA, for the S3 stage.
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
  -keyout "$W/moto.key" -out "$W/moto.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$W/moto.ext"
openssl x509 -req -in "$W/moto.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial \
  -days 2 -extfile "$W/moto.ext" -out "$W/moto.crt" 2>/dev/null
MOTO_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$MOTO_PORT" -c "$W/moto.crt" -k "$W/moto.key" >"$W/moto.log" 2>&1 &
MOTO_PID=$!
trap 'kill $MOTO_PID 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $MOTO_PORT))" 2>/dev/null && break; sleep 0.2; done
export BENCH_S3_SECRET=bench-secret AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret
python3 -c "import boto3; boto3.client('s3', endpoint_url='https://127.0.0.1:$MOTO_PORT', region_name='us-east-1', verify='$W/ca.pem').create_bucket(Bucket='bench')"
sed -i "s/\\\${MOTO_PORT}/$MOTO_PORT/" "$W/spec.toml"
export CONVOY_VAULT=$W/vault/vault
"$CONVOY" secrets identity >/dev/null
q "create table if not exists t_copy (like t)"
run_copy() { echo "'$CONVOY' run '$W/spec.toml' --copy $1 --progress never -q"; }
compare 1.5 "convoy pg → pg, direct" ":" "$(run_copy pg_to_pg_replace)" \
     "through a local directory" ":" "$(run_copy stage_dir)" \
     "through a local directory, encrypted" ":" "$(run_copy stage_dir_encrypted)" \
     "through S3 (moto, HTTPS)" ":" "$(run_copy stage_s3)" \
     "through S3 (moto, HTTPS), encrypted" ":" "$(run_copy stage_s3_encrypted)"
fi

if want shards; then
echo "PG → stage in N shards (parallel processes), then one load"
SRC_URL="postgres://postgres@localhost:$PORT/postgres?table=public.t&sslrootcert=$W/ca.pem"
q "create table if not exists t_shards (like t)"
printf '%-10s %10s %14s %12s %10s %14s\n' shards extract rows/s slowest load rows/s
for N in 1 2 3; do
  rm -rf "$W/shards"; q checkpoint
  start=$(date +%s.%N)
  for i in $(seq "$N"); do
    /usr/bin/time -f "%e" -o "$W/time-shard$i" "$CONVOY" extract "$SRC_URL" "$W/shards/" \
      --shard "$i/$N" --run-id "n$N" --progress never -q &
  done
  wait
  end=$(date +%s.%N)
  slowest=$(cat "$W"/time-shard* | sort -n | tail -1); rm -f "$W"/time-shard*
  q checkpoint
  /usr/bin/time -f "%e %M" -o "$W/time" "$CONVOY" load "$W/shards/n$N/" \
    "postgres://postgres@localhost:$PORT/postgres?table=public.t_shards&sslrootcert=$W/ca.pem" \
    --mode replace --progress never -q
  load=$(cut -d' ' -f1 "$W/time")
  awk -v n="$N" -v s="$start" -v e="$end" -v sl="$slowest" -v l="$load" -v r="$ROWS" \
    'BEGIN { printf "%-10s %9.2fs %14.0f %11.2fs %9.2fs %14.0f\n", n, e - s, r / (e - s), sl, l, r / l }'
done
echo
fi

echo "checks: rows in t_copy=$(want pg && q 'select count(*) from t_copy'), t_csv=$(want csv && q 'select count(*) from t_csv')"
