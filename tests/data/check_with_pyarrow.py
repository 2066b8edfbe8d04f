#!/usr/bin/env python3
"""Run a convoy binary over every fixture of tests/data/ and compare what it
writes, value by value, with what the writing tool reads back
(tests/data/expected/<fixture>.json).

    python3 tests/data/check_with_pyarrow.py path/to/convoy [--only SUBSTR] [--keep DIR] [--json OUT]

For each fixture convoy copies it to CSV, Parquet and JSON Lines (a Parquet
source also with `--compression zstd`, column parquet-rw, because without a
writing option Parquet is copied byte for byte), runs
`--dry-run`, reads the CSV output back with the schema string the dry run
printed (the documented round trip), and, for binary formats, reads the
fixture from standard input. Parquet output is read with pyarrow, CSV with
Python's csv module, JSON Lines with Python's json module (duplicate keys
and numbers kept exactly).

Verdicts per cell:
  PASS          every row, column and value as expected
  PASS~         no value lost, but a type or representation differs from
                the writer's (e.g. t/f kept as text, a number stored as text)
  SILENT-LOSS   exit 0, but a row, a column name or a value differs (or a
                file that must be refused was accepted)
  SILENT-SKIP   exit 0 with the right values, but something that must be
                reported (blank lines, a footer disagreement) was not
  REFUSED       exit 1-4; `REFUSED ok` when refusing is right for this
                fixture/output and the message says what it should
  PANIC         exit 101 or a Rust panic message
  TIMEOUT       no answer within the time limit

Exit status: 0 always when the run itself worked (this is a report, not a
gate); 2 on usage errors.
"""

from __future__ import annotations

import argparse
import csv
import decimal
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.dont_write_bytecode = True  # keep tests/data free of __pycache__
sys.path.insert(0, str(HERE))
from make_fixtures import canon_table  # noqa: E402  (shared canonical form)

D = decimal.Decimal
OUTPUTS = {"csv": "csv", "parquet": "parquet", "jsonl": "jsonl"}
STDIN_FORMAT = {".parquet": "parquet", ".arrow": "ipc", ".feather": "ipc", ".arrows": "ipc",
                ".csv": "csv", ".jsonl": "json"}


# --------------------------------------------------------------------------
# Running convoy
# --------------------------------------------------------------------------


class Run:
    def __init__(self, argv, proc=None, timeout=False):
        self.argv = argv
        self.timeout = timeout
        self.code = None if proc is None else proc.returncode
        self.stdout = "" if proc is None else proc.stdout.decode("utf-8", "replace")
        self.stderr = "" if proc is None else proc.stderr.decode("utf-8", "replace")
        self.doc = None
        try:
            self.doc = json.loads(self.stdout)
        except ValueError:
            pass

    @property
    def copy(self):
        if self.doc and self.doc.get("copies"):
            return self.doc["copies"][0]
        return {}

    @property
    def panicked(self):
        return self.code == 101 or "panicked at" in self.stderr

    @property
    def message(self):
        err = (self.copy or {}).get("error") or (self.doc or {}).get("error")
        if err:
            text = err.get("message", "")
            for cause in err.get("causes") or []:
                text += f": {cause}"
            if err.get("hint"):
                text += f" [hint: {err['hint']}]"
            return text
        lines = [l for l in self.stderr.splitlines() if l.strip()]
        return " / ".join(lines[:3])

    @property
    def warnings(self):
        return (self.copy or {}).get("warnings") or []

    @property
    def schema(self):
        return (self.copy or {}).get("schema")

    def cmd(self):
        def q(a):
            return a if re.fullmatch(r"[\w@%+=:,./-]+", a) else "'" + a.replace("'", "'\\''") + "'"
        return " ".join(q(a) for a in self.argv)


def convoy(binary, args, cwd, stdin_path=None, timeout=60):
    argv = [binary, "copy", *args, "--json", "--progress", "never"]
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    try:
        proc = subprocess.run(argv, cwd=cwd, stdin=stdin, capture_output=True, timeout=timeout)
        return Run(argv, proc)
    except subprocess.TimeoutExpired:
        return Run(argv, timeout=True)
    finally:
        if stdin_path:
            stdin.close()


# --------------------------------------------------------------------------
# Reading convoy's outputs
# --------------------------------------------------------------------------


class Output:
    def __init__(self, columns, rows, typed, notes=None, types=None):
        self.columns = columns
        self.rows = rows
        self.typed = typed
        self.notes = notes or []
        self.types = types


def read_parquet(path):
    # INT96 read at microseconds, as Spark does (pyarrow's default, ns, wraps).
    table = pq.ParquetFile(path, coerce_int96_timestamp_unit="us").read()
    c = canon_table(table)
    return Output(c["columns"], c["rows"], True, types=c["types"])


def csv_records(text):
    """Comma-separated records as PostgreSQL reads them: an unquoted empty
    field is NULL (None), a quoted one ("") an empty string, a blank line one
    NULL field; quotes inside quoted fields are doubled."""
    records, record, field = [], [], []
    quoted = in_quotes = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if in_quotes:
            if c == '"':
                if i + 1 < n and text[i + 1] == '"':
                    field.append('"')
                    i += 1
                else:
                    in_quotes = False
            else:
                field.append(c)
        elif c == '"':
            quoted = in_quotes = True
        elif c == ",":
            record.append("".join(field) if quoted or field else None)
            field, quoted = [], False
        elif c == "\r" and i + 1 < n and text[i + 1] == "\n":
            pass
        elif c == "\n":
            record.append("".join(field) if quoted or field else None)
            records.append(record)
            record, field, quoted = [], [], False
        else:
            field.append(c)
        i += 1
    if field or quoted or record:
        record.append("".join(field) if quoted or field else None)
        records.append(record)
    return records


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = csv_records(f.read())
    if not rows:
        return Output([], [], False, ["the CSV output is empty (no header line)"])
    header, body = [h or "" for h in rows[0]], rows[1:]
    return Output(header, body, False)


def read_jsonl(path, expected_columns):
    notes = []
    rows_pairs = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                notes.append(f"blank line {n} in JSON Lines output")
                continue
            pairs = json.loads(line, object_pairs_hook=Pairs,
                               parse_float=D, parse_constant=lambda c: c)
            rows_pairs.append(pairs)
    seen = []
    for pairs in rows_pairs:
        keys = [k for k, _ in pairs]
        dups = sorted({k for k in keys if keys.count(k) > 1})
        if dups:
            notes.append(f"duplicate key(s) {dups} in one JSON object: readers keep only one")
        for k in keys:
            if k not in seen:
                seen.append(k)
    # Keys absent from a line are NULLs (convoy omits NULL fields).
    columns = list(expected_columns) if set(seen) <= set(expected_columns) else seen
    if set(seen) <= set(expected_columns):
        missing = [c for c in expected_columns if c not in seen]
        if missing and rows_pairs:
            notes.append(f"soft: column(s) {missing} absent from every line (all NULL): "
                         "a reader infers no such column")
    rows = []
    for pairs in rows_pairs:
        if len({k for k, _ in pairs}) != len(pairs) and len(pairs) == len(columns):
            rows.append([unjson(v) for _, v in pairs])  # duplicate names: by position
        else:
            d = dict(pairs)
            rows.append([unjson(d.get(c)) for c in columns])
    return Output(columns, rows, True, notes)


class Pairs(list):
    """A JSON object as the list of its (key, value) pairs, in order."""


def unjson(v):
    """JSON values as parsed with object_pairs_hook: objects are Pairs."""
    if isinstance(v, Pairs):
        return {"__pairs__": [[k, unjson(x)] for k, x in v]}
    if isinstance(v, list):
        return [unjson(x) for x in v]
    return v


# --------------------------------------------------------------------------
# Comparing values
# --------------------------------------------------------------------------

TS_RE = re.compile(
    r"^(-?\d{4,})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(Z|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?)?$"
)
TIME_RE = re.compile(r"^(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$")


def days_from_civil(y, m, d):
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def parse_ts(text):
    """ISO-ish timestamp -> (nanoseconds since epoch, has offset)."""
    m = TS_RE.match(text.strip())
    if not m:
        return None
    y, mo, d, h, mi, s, frac, off = m.groups()
    ns = (days_from_civil(int(y), int(mo), int(d)) * 86400 + int(h) * 3600 + int(mi) * 60 + int(s)) * 10**9
    if frac:
        ns += int(frac.ljust(9, "0"))
    if off and off != "Z":
        sign = -1 if off[0] == "-" else 1
        digits = off[1:].replace(":", "")
        secs = int(digits[:2]) * 3600 + (int(digits[2:4]) * 60 if len(digits) >= 4 else 0) + (
            int(digits[4:6]) if len(digits) >= 6 else 0)
        ns -= sign * secs * 10**9
    return ns, off is not None


def parse_time(text):
    m = TIME_RE.match(text.strip())
    if not m:
        return None
    h, mi, s, frac = m.groups()
    return (int(h) * 3600 + int(mi) * 60 + int(s)) * 10**9 + (int(frac.ljust(9, "0")) if frac else 0)


ISO_DUR = re.compile(r"^(-)?P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def parse_duration(text, unit):
    m = ISO_DUR.match(text.strip())
    if not m:
        return None
    neg, d, h, mi, s = m.groups()
    secs = D(d or 0) * 86400 + D(h or 0) * 3600 + D(mi or 0) * 60 + D(s or 0)
    per = {"s": 1, "ms": 1000, "us": 10**6, "ns": 10**9}[unit]
    v = secs * per
    return -v if neg else v


SPECIAL = {"nan": "NaN", "+nan": "NaN", "-nan": "NaN", "inf": "Infinity", "+inf": "Infinity",
           "infinity": "Infinity", "+infinity": "Infinity", "-inf": "-Infinity", "-infinity": "-Infinity"}


def as_number(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, D)):
        return D(v)
    if isinstance(v, float):
        if v != v:
            return "NaN"
        if v in (float("inf"), float("-inf")):
            return "Infinity" if v > 0 else "-Infinity"
        return D(repr(v))
    if isinstance(v, str):
        s = v.strip()
        if s.lower() in SPECIAL:
            return SPECIAL[s.lower()]
        if s in ("NaN", "Infinity", "-Infinity"):
            return s
        try:
            return D(s)
        except decimal.InvalidOperation:
            return None
    return None


def kind_of(t):
    if t.startswith("dictionary<values="):
        t = t[len("dictionary<values="):].split(",")[0]
    if t.startswith("extension<arrow.uuid"):
        return "uuid"
    if t == "halffloat":
        return "f16"
    if t == "float":
        return "f32"
    for prefix, k in [("decimal", "num"), ("int", "num"), ("uint", "num"), ("double", "num"),
                      ("float", "num"), ("halffloat", "num"), ("bool", "bool"),
                      ("string", "str"), ("large_string", "str"), ("utf8", "str"),
                      ("binary", "bin"), ("large_binary", "bin"), ("fixed_size_binary", "bin"),
                      ("date", "date"), ("time", "time"), ("timestamp", "ts"), ("duration", "dur")]:
        if t.startswith(prefix):
            if k == "ts":
                return "tstz" if "tz=" in t else "ts"
            if k == "dur":
                return "dur:" + t[len("duration["):-1]
            if prefix == "time" and t.startswith("timestamp"):
                continue
            return k
    return "any"


EQ, SOFT, NE = "eq", "soft", "ne"


def same(exp, act, kind, typed, act_kind=None):
    """Compare one expected canonical value with one output value. `typed`:
    the output has types (Parquet, JSON); `act_kind`: the kind of the output
    column where the output says it (Parquet)."""
    if exp is None:
        return EQ if act is None else NE
    if act is None:
        return NE
    if isinstance(act, dict) and "__pairs__" in act and kind != "any":
        return NE
    if kind in ("num", "f16", "f32"):
        e, a = as_number(exp), as_number(act)
        if a is None:
            return NE
        if isinstance(e, str) or isinstance(a, str):
            ok = e == a
        elif kind in ("f16", "f32"):
            cast = np.float16 if kind == "f16" else np.float32
            ok = cast(float(e)) == cast(float(a))
        else:
            ok = e == a
        if not ok:
            return NE
        if act_kind is not None:
            return EQ if act_kind in ("num", "f16", "f32") else SOFT
        return SOFT if typed and isinstance(act, str) and not isinstance(a, str) else EQ
    if kind == "bool":
        if isinstance(act, bool):
            return EQ if act == exp else NE
        if isinstance(act, str):
            low = act.strip().lower()
            if low in ("true", "false"):
                return (SOFT if typed else EQ) if (low == "true") == exp else NE
            truthy = {"t": True, "f": False, "1": True, "0": False, "yes": True, "no": False, "y": True, "n": False}
            if low in truthy and truthy[low] == exp:
                return SOFT
        if isinstance(act, int) and act in (0, 1) and bool(act) == exp:
            return SOFT
        return NE
    if kind in ("str", "uuid"):
        if isinstance(act, str):
            if act == exp:
                return EQ
            if kind == "uuid" and act.replace("-", "").lower() == exp.replace("-", "").lower():
                return SOFT
            return NE
        return SOFT if str(act) == exp else NE
    if kind == "bin":
        if isinstance(act, str):
            a = act.lower()
            if a == exp:
                return EQ
            if a.startswith("\\x") and a[2:] == exp:
                return SOFT
        return NE
    if kind == "date":
        if isinstance(act, str):
            if act == exp:
                return EQ
            if act[:10] == exp and re.fullmatch(r"T?[ T]00:00:00(\.0+)?", "T" + act[10:]) is not None:
                return SOFT
        return NE
    if kind == "time":
        if isinstance(act, str):
            a, e = parse_time(act), parse_time(exp)
            return EQ if a is not None and a == e else NE
        return NE
    if kind in ("ts", "tstz"):
        if not isinstance(act, str):
            return NE  # e.g. a plain integer: the type is lost
        e, a = parse_ts(exp), parse_ts(act)
        if a is None:
            return NE
        if kind == "tstz":
            if not a[1]:
                return SOFT if a[0] == e[0] else NE
            return EQ if a[0] == e[0] else NE
        if a[1]:
            return SOFT if a[0] == e[0] else NE
        return EQ if a[0] == e[0] else NE
    if kind.startswith("dur:"):
        unit = kind[4:]
        if isinstance(act, (int, D)) and not isinstance(act, bool):
            return EQ if D(act) == D(exp) else NE
        if isinstance(act, str):
            v = parse_duration(act, unit)
            if v is not None and v == D(exp):
                return SOFT if typed else EQ
        return NE
    return same_any(exp, act, typed)


def same_any(exp, act, typed):
    if exp is None:
        return EQ if act is None else NE
    if act is None:
        return NE
    if isinstance(exp, dict):
        if isinstance(act, dict) and "__pairs__" in act:
            act = dict(act["__pairs__"])
        if not isinstance(act, dict) or not set(act) <= set(exp):
            return NE
        # A struct field left out of a JSON object is NULL to a reader that
        # knows the field: soft, not lost.
        omitted = [k for k in exp if k not in act]
        if any(exp[k] is not None for k in omitted):
            return NE
        return worst([SOFT] * bool(omitted) + [same_any(exp[k], act[k], typed) for k in act])
    if isinstance(exp, list):
        if isinstance(act, dict) and "__pairs__" in act:
            act = act["__pairs__"]  # a map written as a JSON object
        if isinstance(act, str):
            try:
                act = json.loads(act, parse_float=D)
            except ValueError:
                return NE
            if isinstance(act, dict):
                act = [[k, v] for k, v in act.items()]
            return worst([SOFT, same_any(exp, act, typed)])
        if not isinstance(act, list) or len(act) != len(exp):
            return NE
        return worst(same_any(e, a, typed) for e, a in zip(exp, act))
    if isinstance(exp, bool):
        return same(exp, act, "bool", typed)
    if isinstance(exp, (int, float)) or (isinstance(exp, str) and exp in ("NaN", "Infinity", "-Infinity")):
        return same(exp, act, "num", typed)
    if isinstance(exp, str):
        if act == exp:
            return EQ
        n_e, n_a = as_number(exp), as_number(act)
        if n_e is not None and n_a is not None and not isinstance(n_e, str) and n_e == n_a:
            return SOFT
        return NE
    return EQ if exp == act else NE


NUMERIC = {"num", "f16", "f32"}


def compatible(kind, act_kind):
    if kind == act_kind or kind == "any":
        return True
    if kind in NUMERIC and act_kind in NUMERIC:
        return True
    return {kind, act_kind} in ({"str", "uuid"}, {"ts", "tstz"})


def worst(results):
    results = list(results)
    if NE in results:
        return NE
    if SOFT in results:
        return SOFT
    return EQ


def show(v):
    if isinstance(v, D):
        return str(v)
    text = json.dumps(v, ensure_ascii=False, default=str)
    return text if len(text) < 60 else text[:57] + "..."


def compare(expected, out, names_may_differ, fmt):
    """-> (verdict class EQ/SOFT/NE, list of notes)."""
    notes = list(out.notes)
    soft = any(n.startswith("soft:") for n in notes)
    hard = [n for n in notes if not n.startswith("soft:")]
    exp_cols = expected["columns"]
    rows = out.rows
    act_types = out.types
    if len(out.columns) != len(exp_cols):
        return NE, hard + [f"{len(out.columns)} columns {out.columns} instead of {len(exp_cols)} {exp_cols}"]
    if "" in out.columns:
        notes.append(f"soft: empty column name at position {out.columns.index('') + 1}")
        soft = True
    if out.columns != exp_cols:
        if len(set(out.columns)) != len(out.columns):
            hard.append(f"duplicate column names {out.columns}")
        elif (sorted(out.columns) == sorted(exp_cols) and len(set(exp_cols)) == len(exp_cols)):
            order = [out.columns.index(c) for c in exp_cols]
            rows = [[r[i] for i in order] for r in rows]
            if act_types:
                act_types = [act_types[i] for i in order]
            notes.append(f"soft: column order changed to {out.columns}")
            soft = True
        elif names_may_differ:
            notes.append(f"soft: columns named {out.columns} (writer: {exp_cols})")
            soft = True
        else:
            return NE, hard + [f"column names {out.columns!r} instead of {exp_cols!r}"]
    if len(rows) != len(expected["rows"]):
        return NE, hard + [f"{len(rows)} rows instead of {len(expected['rows'])}"]
    kinds = [kind_of(t) for t in expected["types"]]
    act_kinds = [kind_of(t) for t in act_types] if act_types else [None] * len(kinds)
    diffs = []
    for r, (er, ar) in enumerate(zip(expected["rows"], rows), 1):
        for c, (e, a, k, ak) in enumerate(zip(er, ar, kinds, act_kinds)):
            res = same(e, a, k, out.typed, ak)
            if res == EQ and ak is not None and not compatible(k, ak):
                res = SOFT  # the value survived, as another type (e.g. text)
            if res == NE:
                why = ""
                if e == "" and a is None and fmt == "csv":
                    why = " (CSV writes '' and NULL alike; README documents it)"
                elif ak is not None and ak != k and k != "any":
                    why = f" (written as {act_types[c]})"
                diffs.append(f"row {r} column {exp_cols[c]!r}: {show(e)} became {show(a)}{why}")
            elif res == SOFT:
                soft = True
                note = f"soft: column {exp_cols[c]!r} as {show(a)} (writer: {show(e)})"
                if act_types and ak != k:
                    note += f" [{act_types[c]}]"
                if not any(n.startswith(f"soft: column {exp_cols[c]!r}") for n in notes):
                    notes.append(note)
    if diffs or hard:
        extra = f" (+{len(diffs) - 3} more)" if len(diffs) > 3 else ""
        return NE, hard + diffs[:3] + ([extra] if extra else [])
    return (SOFT if soft else EQ), notes


# --------------------------------------------------------------------------
# One fixture
# --------------------------------------------------------------------------


def cell_for(fx, expected, run, out_path, fmt):
    """Verdict text and details for one convoy run that writes `fmt`."""
    if run.timeout:
        return "TIMEOUT", []
    if run.panicked:
        first = next((l for l in run.stderr.splitlines() if "panicked" in l), run.stderr[:200])
        return "PANIC", [first.strip()]
    expect = fx["expect"]
    if run.code != 0:
        msg = run.message
        if run.argv[2] == "-" and "cannot open -" in msg:
            return f"REFUSED (no stdin for this format, exit {run.code})", [msg]
        if expect == "refuse":
            wanted = fx["message"]
            missing = [w for w in wanted if w not in msg]
            if missing:
                return (f"REFUSED (exit {run.code}; message lacks "
                        + ", ".join(repr(m) for m in missing) + ")"), [msg]
            return f"REFUSED ok (exit {run.code})", [msg]
        if fmt in fx["unsupported"]:
            return f"REFUSED ok (unsupported, exit {run.code})", [msg]
        if expect == "read-or-refuse":
            return f"REFUSED ok (exit {run.code})", [msg]
        return f"REFUSED (exit {run.code})", [msg]
    rows = (run.copy or {}).get("rows_written")
    if expect == "refuse":
        return "SILENT-LOSS (accepted)", [f"exit 0, {rows} rows written; this file must be refused"]
    try:
        if fmt == "parquet":
            out = read_parquet(out_path)
        elif fmt == "csv":
            out = read_csv(out_path)
        else:
            out = read_jsonl(out_path, expected["columns"])
    except Exception as e:  # noqa: BLE001
        return "SILENT-LOSS (unreadable output)", [f"exit 0 but the output cannot be read back: {e}"]
    verdict, notes = compare(expected, out, fx["names_may_differ"], fmt)
    if verdict == NE:
        return "SILENT-LOSS", notes
    # Things that must be reported even when the values are right.
    must_report = []
    if expected.get("blank_lines"):
        if not any("blank" in w.lower() for w in run.warnings):
            must_report.append(f"{expected['blank_lines']} blank lines skipped without a warning")
    if fx["file"].startswith("pa_footer_num_rows"):
        if not any("footer" in w.lower() or "row" in w.lower() for w in run.warnings):
            must_report.append("footer num_rows disagreement not reported")
    if must_report:
        return "SILENT-SKIP", must_report + notes
    if "" in out.columns:
        return "PASS~ (empty column name)", notes
    if fx["names_may_differ"] and out.columns != expected["columns"] and not run.warnings:
        return "PASS~ (renamed without a warning)", notes
    return ("PASS" if verdict == EQ else "PASS~"), [n for n in notes if n.startswith("soft:")]


def check_fixture(binary, fx, work, keep):
    name = fx["file"]
    src = str(HERE / name)
    expected = json.loads((HERE / "expected" / f"{name}.json").read_text())
    base = re.sub(r"[^\w.-]", "_", name)
    cells = {}
    runs = {}
    for fmt, ext in OUTPUTS.items():
        out = work / f"{base}.out.{ext}"
        if out.exists():
            out.unlink()
        run = convoy(binary, [src, str(out), *fx["args"]], work)
        runs[fmt] = run
        cells[fmt] = cell_for(fx, expected, run, out, fmt) + (run.cmd(),)
    # A Parquet source copied to Parquet is copied byte for byte; a writing
    # option makes convoy decode and encode it instead.
    if name.endswith(".parquet"):
        out = work / f"{base}.out.rw.parquet"
        if out.exists():
            out.unlink()
        run = convoy(binary, [src, str(out), "--compression", "zstd", *fx["args"]], work)
        cells["parquet-rw"] = cell_for(fx, expected, run, out, "parquet") + (run.cmd(),)
    else:
        cells["parquet-rw"] = ("-", [], "")
    # Dry run.
    run = convoy(binary, [src, str(work / f"{base}.dry.parquet"), *fx["args"], "--dry-run"], work)
    runs["dry-run"] = run
    if run.panicked:
        cells["dry-run"] = ("PANIC", [run.stderr[:200]], run.cmd())
    elif run.timeout:
        cells["dry-run"] = ("TIMEOUT", [], run.cmd())
    elif run.code == 0:
        problem = []
        if "parquet" in fx["unsupported"]:
            problem.append("dry run accepts a copy to Parquet that cannot be written")
        cells["dry-run"] = ("OK" if not problem else "OK (but should refuse)",
                            [f"schema: {run.schema}"] + problem, run.cmd())
    else:
        cells["dry-run"] = ("REFUSED", [run.message], run.cmd())
    # CSV round trip with the schema string the dry run printed.
    schema = run.schema if run.code == 0 else None
    csv_out = work / f"{base}.out.csv"
    if fx["expect"] != "refuse" and schema and runs["csv"].code == 0 and csv_out.exists():
        rt = work / f"{base}.rt.parquet"
        if rt.exists():
            rt.unlink()
        r = convoy(binary, [str(csv_out), str(rt), "--schema", schema], work)
        # convoy's own CSV has no blank lines to report.
        verdict, notes = cell_for(dict(fx, args=[], expect="read"),
                                  dict(expected, blank_lines=0), r, rt, "parquet")[:2]
        cells["roundtrip"] = (verdict, notes, r.cmd())
    else:
        cells["roundtrip"] = ("-", [], "")
    # Standard input.
    if fx["stdin"]:
        ext = Path(name).suffix
        fmt = STDIN_FORMAT.get(ext)
        out = work / f"{base}.stdin.parquet"
        if out.exists():
            out.unlink()
        r = convoy(binary, ["-", str(out), "--source-format", fmt, *fx["args"]], work, stdin_path=src)
        cells["stdin"] = cell_for(fx, expected, r, out, "parquet") + (r.cmd() + f" < {name}",)
    else:
        cells["stdin"] = ("-", [], "")
    return cells


COLUMNS = ["csv", "parquet", "parquet-rw", "jsonl", "dry-run", "roundtrip", "stdin"]


def short(verdict):
    return verdict


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("convoy", help="the convoy binary to check")
    ap.add_argument("--only", help="only fixtures whose name contains this")
    ap.add_argument("--keep", help="write outputs into this directory and keep them")
    ap.add_argument("--json", help="also write all results as JSON to this file")
    ap.add_argument("--details", action="store_true", help="print every cell's command and notes")
    a = ap.parse_args()
    binary = os.path.abspath(a.convoy)
    if not os.access(binary, os.X_OK):
        print(f"{binary} is not executable", file=sys.stderr)
        return 2
    fixtures = json.loads((HERE / "fixtures.json").read_text())
    if a.only:
        fixtures = [f for f in fixtures if a.only in f["file"]]
    work = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="convoy-fixtures-"))
    work.mkdir(parents=True, exist_ok=True)
    results = {}
    try:
        for fx in fixtures:
            results[fx["file"]] = check_fixture(binary, fx, work, a.keep)
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    # Table.
    print("| fixture | expect | " + " | ".join(COLUMNS) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in COLUMNS) + " |")
    for fx in fixtures:
        cells = results[fx["file"]]
        print(f"| {fx['file']} | {fx['expect']} | " + " | ".join(short(cells[c][0]) for c in COLUMNS) + " |")
    # Counts.
    counts = {}
    for cells in results.values():
        for c in COLUMNS:
            key = cells[c][0].split(" ")[0]
            counts[key] = counts.get(key, 0) + 1
    print()
    print("totals: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if k != "-"))
    # Details: every cell that is not a plain PASS.
    print()
    print("## details")
    for fx in fixtures:
        cells = results[fx["file"]]
        lines = []
        for c in COLUMNS:
            verdict, notes, cmd = cells[c]
            if verdict in ("-",) or (verdict in ("PASS", "OK") and not a.details):
                continue
            lines.append(f"- {c}: **{verdict}**" + (f" — `{cmd}`" if a.details and cmd else ""))
            for n in notes:
                lines.append(f"    - {n}")
        if lines:
            print(f"\n### {fx['file']}")
            print("\n".join(lines))
    if a.json:
        Path(a.json).write_text(json.dumps(
            {f: {c: {"verdict": v[0], "notes": v[1], "command": v[2]} for c, v in cells.items()}
             for f, cells in results.items()}, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
