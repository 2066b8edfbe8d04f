#!/usr/bin/env bash
# Benchmark convoy's PostgreSQL connector against psql's own COPY, measured in
# the same run on the same throwaway cluster (TLS on, verified).
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
mode = "replace"

[[copy]]
name = "csv_to_pg"
from = { path = "$W/t.csv", schema = "id:int64,n:int32,amount:decimal(18,4),x:float64,s:string,sn:string,at:timestamptz,ok:bool,u:uuid" }
to = { connection = "pg", table = "t_csv" }
mode = "replace"
SPEC

# row NAME SECONDS KIB: one line of the table (peak RSS is the max over runs).
row() {
  awk -v n="$1" -v s="$2" -v k="$3" -v r="$ROWS" \
    'BEGIN { printf "%-34s %8.2f s %12.0f rows/s %8.1f MiB\n", n, s, r / s, k / 1024 }'
}
# once CMD…: runs it, leaves wall seconds and peak RSS (KiB) in $W/time.
once() { /usr/bin/time -f "%e %M" -o "$W/time" "$@" >/dev/null; }
# pair NAME_A "SETUP_A" "CMD_A" NAME_B "SETUP_B" "CMD_B" TARGET: RUNS alternating
# runs of each (SETUP, then a CHECKPOINT, before every run, untimed), medians
# and the ratio B/A. The checkpoint makes every run start with no dirty
# buffers or WAL of an earlier run left to flush.
pair() {
  local na=$1 sa=$2 ca=$3 nb=$4 sb=$5 cb=$6 target=$7
  : > "$W/a"; : > "$W/b"
  for _ in $(seq "$RUNS"); do
    eval "$sa"; q checkpoint; once sh -c "$ca"; cat "$W/time" >> "$W/a"
    eval "$sb"; q checkpoint; once sh -c "$cb"; cat "$W/time" >> "$W/b"
    echo "  run: $(tail -1 "$W/a" | cut -d' ' -f1) s / $(tail -1 "$W/b" | cut -d' ' -f1) s" >&2
  done
  local ma mb
  ma=$(sort -n "$W/a" | awk '{ s[NR] = $1 } END { print s[int((NR + 1) / 2)] }')
  mb=$(sort -n "$W/b" | awk '{ s[NR] = $1 } END { print s[int((NR + 1) / 2)] }')
  row "$na" "$ma" "$(sort -k2 -n "$W/a" | tail -1 | cut -d' ' -f2)"
  row "$nb" "$mb" "$(sort -k2 -n "$W/b" | tail -1 | cut -d' ' -f2)"
  awk -v a="$mb" -v b="$ma" -v lim="$target" -v n="$RUNS" \
    'BEGIN { printf "  ratio %.2f× (target ≤ %s×; medians of %d runs)\n\n", a / b, lim, n }'
}

# ONLY=parquet|pg|csv runs one section.
ONLY=${ONLY:-}
want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }

echo
if want parquet; then
echo "PG → Parquet"
pair "psql COPY binary > /dev/null" ":" "psql '$CONN' -X -c 'copy t to stdout (format binary)' > /dev/null" \
     "convoy → parquet" ":" "'$CONVOY' run '$W/spec.toml' --copy to_parquet --progress never -q" 1.15
fi

if want pg; then
echo "PG → PG (same server)"
q "create table t_psql (like t)"
q "create table t_copy (like t)"
pair "psql COPY | psql COPY" "q 'truncate t_psql'" \
     "psql '$CONN' -X -c 'copy t to stdout (format binary)' | psql '$CONN' -X -c 'copy t_psql from stdin (format binary)'" \
     "convoy pg → pg (replace)" ":" "'$CONVOY' run '$W/spec.toml' --copy pg_to_pg --progress never -q" 1.1
fi

if want csv; then
echo "CSV → PG (new table, exact types)"
q "create table t_psql_csv (like t)"
pair "psql copy-from-csv (client side)" "q 'truncate t_psql_csv'" \
     "psql '$CONN' -X -c \"\\\\copy t_psql_csv from '$W/t.csv' (format csv, header)\"" \
     "convoy csv → pg" "q 'set client_min_messages = warning; drop table if exists t_csv'" \
     "'$CONVOY' run '$W/spec.toml' --copy csv_to_pg --progress never -q" 0.45

# The server's share: the same rows as binary COPY data that the server
# reads from a file itself (no client, no network, no TLS), into a table
# created in the same transaction, as convoy loads them. No client loads
# faster over binary COPY: this is the bound for the CSV ratio.
q "copy t to stdout (format binary)" > "$W/t.bin"
chmod 644 "$W/t.bin"
pair "psql copy-from-csv (client side)" "q 'truncate t_psql_csv'" \
     "psql '$CONN' -X -c \"\\\\copy t_psql_csv from '$W/t.csv' (format csv, header)\"" \
     "server-side binary COPY FROM file" "q 'set client_min_messages = warning; drop table if exists t_bin'" \
     "psql '$CONN' -X -q -c 'begin' -c 'create table t_bin (like t)' -c \"copy t_bin from '$W/t.bin' (format binary)\" -c 'commit'" 0.45
fi

echo "checks: rows in t_copy=$(want pg && q 'select count(*) from t_copy'), t_csv=$(want csv && q 'select count(*) from t_csv')"
