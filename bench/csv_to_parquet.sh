#!/usr/bin/env bash
# CSV -> Parquet throughput of `convoy copy` next to DuckDB's COPY.
#
# Usage: bench/csv_to_parquet.sh [ROWS] [RUNS]      (defaults: 2000000 3)
#
# Environment:
#   CONVOY_BIN   convoy binary to time; when unset, `cargo build --release`
#                runs and target/release/convoy is used
#   CONVOY_ARGS  extra arguments appended to the convoy command; shell quoting
#                is honoured, e.g. CONVOY_ARGS='--schema "id bigint, ..."'
#   BENCH_DIR    work directory for the CSV and outputs (default /tmp/convoy-bench)
#   BENCH_TOOLS  tools to time, in order (default "convoy convoy-gz zcat duckdb"):
#                convoy-gz reads the same CSV gzip-compressed (gzip -6), and
#                zcat decompresses it to /dev/null: the decompressor's bound
#   SEED         generator seed (default 42)
#
# Each run starts one fresh process per tool, so process start-up counts for
# both. Runs alternate which tool goes first so that drift (thermal, page
# cache, neighbours) hits both alike. Wall time is taken with bash's clock
# around /usr/bin/time, which gives peak RSS. Per-run lines go to stderr, the
# summary table to stdout.
set -euo pipefail

ROWS=${1:-2000000}
RUNS=${2:-3}
BENCH_DIR=${BENCH_DIR:-/tmp/convoy-bench}
BENCH_TOOLS=${BENCH_TOOLS:-convoy convoy-gz zcat duckdb}
SEED=${SEED:-42}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $ROWS =~ ^[0-9]+$ && $ROWS -gt 0 ]] || die "ROWS must be a positive integer, got '$ROWS'"
[[ $RUNS =~ ^[0-9]+$ && $RUNS -gt 0 ]] || die "RUNS must be a positive integer, got '$RUNS'"
case $BENCH_DIR in *\'* | *\"* | *\\*) die "BENCH_DIR must not contain quotes or backslashes" ;; esac
for tool in $BENCH_TOOLS; do
    case $tool in convoy | convoy-gz | zcat | duckdb) ;; *) die "unknown tool '$tool' in BENCH_TOOLS" ;; esac
done
want() { [[ " $BENCH_TOOLS " == *" $1 "* ]]; }

# --- prerequisites ---------------------------------------------------------
if [[ ! -x /usr/bin/time ]]; then
    log "installing GNU time (/usr/bin/time)"
    apt-get install -y time >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y time >/dev/null; }
fi

if want duckdb && ! python3 -c 'import duckdb' 2>/dev/null; then
    log "installing the duckdb Python package"
    python3 -m pip install --quiet duckdb
fi

CONVOY_ARGV=()
if want convoy || want convoy-gz; then
    if [[ -z ${CONVOY_BIN:-} ]]; then
        log "building convoy (cargo build --release)"
        cargo build --release >&2
        CONVOY_BIN=${CARGO_TARGET_DIR:-$repo/target}/release/convoy
    fi
    [[ -x $CONVOY_BIN ]] || die "convoy binary not found or not executable: $CONVOY_BIN"
    eval "CONVOY_ARGV=(${CONVOY_ARGS:-})"
fi

# --- input -----------------------------------------------------------------
mkdir -p "$BENCH_DIR"
csv=$BENCH_DIR/orders_${ROWS}_s${SEED}.csv
out=$BENCH_DIR/out
mkdir -p "$out"

# ~165 bytes per CSV row; Parquet outputs are well under the CSV size.
est_csv=$((ROWS * 165))
need=$((est_csv / 2))
[[ -f $csv ]] || need=$((need + est_csv))
avail=$(($(df -Pk "$BENCH_DIR" | awk 'NR==2 {print $4}') * 1024))
if ((est_csv > 1000000000)); then
    log "warning: the CSV for $ROWS rows is ~$((est_csv / 1000000)) MB in $BENCH_DIR;" \
        "about $((need / 1000000)) MB more disk is needed, $((avail / 1000000)) MB is free"
fi
((avail > need)) || die "not enough disk in $BENCH_DIR: need ~$((need / 1000000)) MB, have $((avail / 1000000)) MB"

if [[ ! -f $csv ]]; then
    log "generating $csv"
    python3 "$repo/bench/gen_orders_csv.py" "$ROWS" "$csv.tmp" --seed "$SEED"
    mv "$csv.tmp" "$csv"
fi
csv_bytes=$(stat -c %s "$csv")
if { want convoy-gz || want zcat; } && [[ ! -f $csv.gz ]]; then
    log "compressing $csv (gzip -6)"
    gzip -6 -c "$csv" >"$csv.gz.tmp"
    mv "$csv.gz.tmp" "$csv.gz"
fi
# Read the input once so that every run starts from a warm page cache.
cat "$csv" >/dev/null
[[ ! -f $csv.gz ]] || cat "$csv.gz" >/dev/null

# --- runs ------------------------------------------------------------------
results=$BENCH_DIR/results.tsv
: >"$results"
tfile=$BENCH_DIR/time.out
runlog=$BENCH_DIR/run.log

run_tool() { # tool run_no
    local tool=$1 n=$2 target
    case $tool in
    convoy)
        target=$out/convoy.parquet
        cmd=("$CONVOY_BIN" copy "$csv" "$target" --progress never "${CONVOY_ARGV[@]}")
        ;;
    convoy-gz)
        target=$out/convoy-gz.parquet
        cmd=("$CONVOY_BIN" copy "$csv.gz" "$target" --progress never "${CONVOY_ARGV[@]}")
        ;;
    zcat)
        target=
        cmd=(sh -c 'zcat "$1" >/dev/null' zcat "$csv.gz")
        ;;
    duckdb)
        target=$out/duckdb.parquet
        cmd=(python3 -c "import duckdb; duckdb.sql(\"COPY (SELECT * FROM read_csv('$csv')) TO '$target' (FORMAT parquet)\")")
        ;;
    esac
    [[ -z $target ]] || rm -f "$target"
    local t0 t1 wall _ rss_kib out_bytes=0
    t0=$EPOCHREALTIME
    if ! /usr/bin/time -f '%e %M %U %S' -o "$tfile" "${cmd[@]}" >"$runlog" 2>&1; then
        log "$tool failed on run $n:"
        cat "$runlog" >&2
        exit 1
    fi
    t1=$EPOCHREALTIME
    # Wall time from bash's microsecond clock (time's %e has 10 ms steps);
    # peak RSS (KiB) and CPU time (user + system) from GNU time.
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    local user sys cpu
    read -r _ rss_kib user sys <"$tfile"
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
    if [[ -z $target ]]; then
        :
    elif [[ -f $target ]]; then
        out_bytes=$(stat -c %s "$target")
        # Sanity check outside the timed part, once: the output holds every row.
        if ((n == 1)) && python3 -c 'import duckdb' 2>/dev/null; then
            local got
            got=$(python3 -c "import duckdb; print(duckdb.sql(\"SELECT count(*) FROM read_parquet('$target')\").fetchall()[0][0])")
            ((got == ROWS)) || log "warning: $tool wrote $got rows, expected $ROWS"
        fi
    else
        log "warning: $tool exited 0 but wrote no $target"
    fi
    [[ -z $target ]] || rm -f "$target"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$n" "$wall" "$rss_kib" "$out_bytes" "$cpu" >>"$results"
    log "run $n  $tool  wall ${wall}s  CPU ${cpu}s  peak RSS $((rss_kib / 1024)) MiB  output $((out_bytes / 1000000)) MB"
}

read -r -a tools <<<"$BENCH_TOOLS"
for ((n = 1; n <= RUNS; n++)); do
    if ((n % 2 == 1)); then
        order=("${tools[@]}")
    else
        order=()
        for ((i = ${#tools[@]} - 1; i >= 0; i--)); do order+=("${tools[i]}"); done
    fi
    for tool in "${order[@]}"; do run_tool "$tool" "$n"; done
done

# --- summary ---------------------------------------------------------------
duckdb_version=$(want duckdb && python3 -c 'import duckdb; print(duckdb.__version__)' || echo -)
python3 - "$results" "$ROWS" "$RUNS" "$csv_bytes" "$(nproc)" "$duckdb_version" <<'PY'
import statistics, sys

path, rows, runs, csv_bytes, cpus, duckdb_version = sys.argv[1:]
rows, runs, csv_bytes = int(rows), int(runs), int(csv_bytes)
by_tool = {}
for line in open(path):
    tool, _, wall, rss_kib, out_bytes, cpu = line.split("\t")
    by_tool.setdefault(tool, []).append((float(wall), int(rss_kib), int(out_bytes), float(cpu)))

print(f"CSV -> Parquet: {rows:,} rows, input {csv_bytes / 1e6:.1f} MB, "
      f"{runs} run(s) per tool, {cpus} CPUs, duckdb {duckdb_version}")
head = (f"{'tool':<10} {'wall s':>8} {'CPU s':>7} {'rows/s':>12} {'MB/s':>8} "
        f"{'peak RSS MiB':>13} {'out MB':>8}")
print(head)
print("-" * len(head))
med_wall, med_cpu = {}, {}
for tool, rs in by_tool.items():
    walls = [w for w, _, _, _ in rs]
    med_wall[tool] = statistics.median(walls)
    med_cpu[tool] = statistics.median(c for _, _, _, c in rs)
    rps = statistics.median(rows / max(w, 1e-9) for w in walls)
    mbs = statistics.median(csv_bytes / 1e6 / max(w, 1e-9) for w in walls)
    rss = max(r for _, r, _, _ in rs) / 1024
    outmb = max(o for _, _, o, _ in rs) / 1e6
    print(f"{tool:<10} {med_wall[tool]:>8.2f} {med_cpu[tool]:>7.2f} {rps:>12,.0f} {mbs:>8.1f} "
          f"{rss:>13.0f} {outmb:>8.1f}")
if "convoy" in med_wall and "duckdb" in med_wall and med_wall["duckdb"] > 0:
    print(f"wall time convoy/duckdb: {med_wall['convoy'] / med_wall['duckdb']:.2f}x")
    bound = med_cpu["convoy"] / int(cpus)
    print(f"convoy's CPU bound: {med_cpu['convoy']:.2f} CPU-s over {cpus} CPUs = {bound:.2f} s "
          f"({bound / med_wall['duckdb']:.2f}x duckdb's wall time)")
if "convoy-gz" in med_wall and "zcat" in med_wall and med_wall["zcat"] > 0:
    print(f"wall time convoy-gz/zcat: {med_wall['convoy-gz'] / med_wall['zcat']:.2f}x "
          "(zcat: the gzip input decompressed to /dev/null)")
print("(wall s, CPU s (user + system), rows/s, MB/s: medians over runs, MB/s of the uncompressed CSV; "
      "peak RSS: max over runs)")
PY
