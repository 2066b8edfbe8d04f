#!/usr/bin/env python3
"""Regenerate convoy's real-world fixtures (issue 12 / issue 15) in tests/data/.

Every fixture is written by the tool that writes such files in the wild
(pyarrow, pandas, DuckDB, PostgreSQL's COPY through psql) or, for CSV edge
cases that no tool writes on purpose, by hand from fixed bytes. Nothing is
random: the same tool versions give the same bytes.

For each fixture the values *as the writing tool reads them back* go to
tests/data/expected/<fixture>.json (see README.md for the convention), and
every fixture's metadata (writer, what it exercises, what convoy should do)
goes to tests/data/fixtures.json, which check_with_pyarrow.py reads.

Usage:
    pip install pyarrow pandas duckdb==1.5.5 zstandard
    python3 tests/data/make_fixtures.py            # all fixtures
    python3 tests/data/make_fixtures.py --table    # print the README table

The PostgreSQL fixtures need a server (default 127.0.0.1:5432, user postgres,
database test, trust auth; override with PGHOST/PGPORT/PGUSER/PGDATABASE).
Without one they are skipped with a message and the committed files stay.
"""

from __future__ import annotations

import bz2
import datetime as dt
import decimal
import gzip
import io
import json
import lzma
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import uuid
import zoneinfo
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.feather as feather
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

try:
    import zstandard
except ImportError:  # pragma: no cover - optional
    zstandard = None

HERE = Path(__file__).resolve().parent
EXPECTED = HERE / "expected"

#: Metadata of every fixture, in the order written (see register()).
FIXTURES: list[dict] = []


# --------------------------------------------------------------------------
# Canonical JSON values (the convention is described in README.md)
# --------------------------------------------------------------------------

UNIT_PER_SEC = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
UNIT_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def fmt_offset(off: dt.timedelta) -> str:
    secs = int(off.total_seconds())
    sign = "+" if secs >= 0 else "-"
    secs = abs(secs)
    h, rem = divmod(secs, 3600)
    m, s = divmod(rem, 60)
    text = f"{sign}{h:02d}:{m:02d}"
    if s:
        text += f":{s:02d}"
    return text


def tzinfo_of(tz: str):
    if tz.upper() in ("UTC", "Z", "ETC/UTC"):
        return dt.timezone.utc
    if tz[0] in "+-":
        sign = -1 if tz[0] == "-" else 1
        hh, mm = tz[1:].split(":")
        return dt.timezone(sign * dt.timedelta(hours=int(hh), minutes=int(mm)))
    return zoneinfo.ZoneInfo(tz)


def fmt_timestamp(value: int, unit: str, tz: str | None) -> str:
    """An integer timestamp as ISO 8601 with the unit's full precision; with
    the zone's offset at that instant (seconds included when it has them)."""
    per = UNIT_PER_SEC[unit]
    secs, frac = divmod(value, per)
    moment = EPOCH + dt.timedelta(seconds=secs)
    text_frac = f".{frac:0{UNIT_DIGITS[unit]}d}" if UNIT_DIGITS[unit] else ""
    if tz is None:
        wall = moment.replace(tzinfo=None)
        return wall.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0") + text_frac
    local = moment.astimezone(tzinfo_of(tz))
    return (
        f"{local.year:04d}-{local.month:02d}-{local.day:02d}T"
        f"{local.hour:02d}:{local.minute:02d}:{local.second:02d}{text_frac}"
        f"{fmt_offset(local.utcoffset())}"
    )


def fmt_time(value: int, unit: str) -> str:
    per = UNIT_PER_SEC[unit]
    secs, frac = divmod(value, per)
    h, rem = divmod(secs, 3600)
    m, s = divmod(rem, 60)
    text = f"{h:02d}:{m:02d}:{s:02d}"
    if UNIT_DIGITS[unit]:
        text += f".{frac:0{UNIT_DIGITS[unit]}d}"
    return text


def canon_float(x: float, bits: int):
    if x is None:
        return None
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if bits == 16:
        return float(repr(np.float16(x)).replace("np.float16(", "").rstrip(")"))
    if bits == 32:
        return float(repr(np.float32(x)).replace("np.float32(", "").rstrip(")"))
    return float(x)


def ints(arr: pa.Array) -> list:
    """The integers behind a temporal array (with its NULLs)."""
    return arr.view(pa.int32() if arr.type.bit_width == 32 else pa.int64()).to_pylist()


def canon_array(arr: pa.Array) -> list:
    """Canonical JSON values of an Arrow array (see README.md)."""
    if isinstance(arr, pa.ChunkedArray):
        out = []
        for c in arr.chunks:
            out.extend(canon_array(c))
        return out
    t = arr.type
    if isinstance(t, pa.BaseExtensionType):
        if t.extension_name == "arrow.uuid":
            return [
                None if v is None else str(uuid.UUID(bytes=v))
                for v in arr.storage.to_pylist()
            ]
        return canon_array(arr.storage)
    if pa.types.is_dictionary(t):
        return canon_array(arr.dictionary_decode())
    if pa.types.is_null(t):
        return [None] * len(arr)
    if pa.types.is_boolean(t) or pa.types.is_integer(t):
        return arr.to_pylist()
    if pa.types.is_floating(t):
        bits = t.bit_width
        return [canon_float(v, bits) for v in arr.to_pylist()]
    if pa.types.is_decimal(t):
        return [None if v is None else format(v, "f") for v in arr.to_pylist()]
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return arr.to_pylist()
    if (
        pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_fixed_size_binary(t)
        or pa.types.is_binary_view(t)
    ):
        return [None if v is None else v.hex() for v in arr.to_pylist()]
    if pa.types.is_date32(t):
        return [None if v is None else v.isoformat() for v in arr.to_pylist()]
    if pa.types.is_date64(t):
        ms = ints(arr)
        return [
            None if v is None else (EPOCH + dt.timedelta(milliseconds=v)).date().isoformat()
            for v in ms
        ]
    if pa.types.is_time(t):
        return [None if v is None else fmt_time(v, t.unit) for v in ints(arr)]
    if pa.types.is_timestamp(t):
        return [None if v is None else fmt_timestamp(v, t.unit, t.tz) for v in ints(arr)]
    if pa.types.is_duration(t):
        return ints(arr)
    if t == pa.month_day_nano_interval():
        return [
            None if v is None else [v.months, v.days, v.nanoseconds]
            for v in arr.to_pylist()
        ]
    if pa.types.is_map(t):
        out = []
        for i in range(len(arr)):
            if not arr[i].is_valid:
                out.append(None)
                continue
            entries = arr[i].values  # struct array of key/value
            keys = canon_array(entries.field(0))
            vals = canon_array(entries.field(1))
            out.append([[k, v] for k, v in zip(keys, vals)])
        return out
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        out = []
        for i in range(len(arr)):
            if not arr[i].is_valid:
                out.append(None)
            else:
                out.append(canon_array(arr[i].values))
        return out
    if pa.types.is_struct(t):
        children = {t.field(j).name: canon_array(arr.field(j)) for j in range(t.num_fields)}
        out = []
        for i in range(len(arr)):
            if not arr[i].is_valid:
                out.append(None)
            else:
                out.append({name: vals[i] for name, vals in children.items()})
        return out
    if pa.types.is_union(t):
        # The value of the member each row selects.
        out = []
        for i in range(len(arr)):
            s = arr[i]
            v = s.value
            if v is None:
                out.append(None)
            else:
                out.append(canon_array(pa.array([v.as_py()], v.type))[0])
        return out
    raise TypeError(f"no canonical form for {t}")


def canon_table(table: pa.Table) -> dict:
    return {
        "columns": [f.name for f in table.schema],
        "types": [str(f.type) for f in table.schema],
        "rows": [list(r) for r in zip(*[canon_array(c) for c in table.columns])]
        if table.num_columns
        else [],
    }


# --------------------------------------------------------------------------
# Registration and output
# --------------------------------------------------------------------------


def register(
    name: str,
    writer: str,
    exercises: str,
    should: str,
    expected: dict,
    *,
    expect: str = "read",
    issue: str = "",
    args: list[str] | None = None,
    source_format: str | None = None,
    stdin: bool = False,
    message: list[str] | None = None,
    names_may_differ: bool = False,
    unsupported: list[str] | None = None,
    blank_lines: int = 0,
):
    """Record a fixture already written to HERE/name and its expected values.

    expect: "read" (every value, exactly), "refuse" (exit 1 with a message
    containing every string of `message`), or "read-or-refuse" (read
    exactly while reporting what the `should` text says, or refuse).
    unsupported: output formats that cannot hold a column of this file; a
    refusal naming the column is then the right result for them.
    """
    assert (HERE / name).exists(), name
    doc = dict(expected)
    doc["expect"] = expect
    if blank_lines:
        doc["blank_lines"] = blank_lines
    (EXPECTED / f"{name}.json").write_text(
        json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    )
    FIXTURES.append(
        {
            "file": name,
            "writer": writer,
            "exercises": exercises,
            "should": should,
            "expect": expect,
            "issue": issue,
            "args": args or [],
            "source_format": source_format,
            "stdin": stdin,
            "message": message or [],
            "names_may_differ": names_may_differ,
            "unsupported": unsupported or [],
        }
    )


def write_bytes(name: str, data: bytes) -> Path:
    path = HERE / name
    path.write_bytes(data)
    return path


def table_expected(columns, types, rows) -> dict:
    return {"columns": list(columns), "types": list(types), "rows": [list(r) for r in rows]}


# --------------------------------------------------------------------------
# Thrift compact protocol: just enough to find FileMetaData.num_rows
# --------------------------------------------------------------------------


class Compact:
    """A reader of the Thrift compact protocol that can skip any value."""

    def __init__(self, buf: bytes, pos: int = 0):
        self.buf = buf
        self.pos = pos

    def byte(self) -> int:
        b = self.buf[self.pos]
        self.pos += 1
        return b

    def varint(self) -> int:
        shift = result = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    def skip(self, ttype: int):
        if ttype in (1, 2):  # bool true/false, value in the type nibble
            return
        if ttype == 3:  # byte
            self.pos += 1
        elif ttype in (4, 5, 6):  # i16, i32, i64: zigzag varints
            self.varint()
        elif ttype == 7:  # double
            self.pos += 8
        elif ttype == 8:  # binary
            n = self.varint()
            self.pos += n
        elif ttype in (9, 10):  # list, set
            head = self.byte()
            size = head >> 4
            etype = head & 0x0F
            if size == 15:
                size = self.varint()
            for _ in range(size):
                if etype in (1, 2):
                    self.pos += 1  # bools in lists take a byte each
                else:
                    self.skip(etype)
        elif ttype == 11:  # map
            size = self.varint()
            if size:
                kv = self.byte()
                for _ in range(size):
                    self.skip(kv >> 4)
                    self.skip(kv & 0x0F)
        elif ttype == 12:  # struct
            self.skip_struct()
        else:
            raise ValueError(f"unknown thrift compact type {ttype} at {self.pos}")

    def fields(self):
        """Yield (field id, type, position of the value) of a struct, leaving
        the reader after each value when the caller resumes."""
        last = 0
        while True:
            head = self.byte()
            if head == 0:
                return
            ttype = head & 0x0F
            delta = head >> 4
            if delta:
                fid = last + delta
            else:
                raw = self.varint()
                fid = (raw >> 1) ^ -(raw & 1)
            last = fid
            yield fid, ttype, self.pos
            self.skip(ttype)

    def skip_struct(self):
        for _ in self.fields():
            pass


def zigzag_varint(n: int) -> bytes:
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        b = z & 0x7F
        z >>= 7
        if z:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def patch_footer_num_rows(data: bytes, new_rows: int) -> bytes:
    """Rewrite FileMetaData.num_rows (field 3, i64) of a Parquet file.

    The footer is `<FileMetaData, thrift compact> <u32 length> PAR1`. We walk
    the struct's fields to field 3, replace its zigzag varint and fix the
    length word when the varint's size changes. Nothing else is touched, so
    row groups (and their own num_rows) still say what the pages hold.
    """
    assert data[-4:] == b"PAR1"
    meta_len = struct.unpack("<I", data[-8:-4])[0]
    start = len(data) - 8 - meta_len
    meta = data[start : len(data) - 8]
    reader = Compact(meta)
    for fid, ttype, pos in reader.fields():
        if fid == 3:
            assert ttype == 6, "num_rows is an i64"
            probe = Compact(meta, pos)
            probe.varint()
            old = meta[pos : probe.pos]
            new = zigzag_varint(new_rows)
            patched = meta[:pos] + new + meta[pos + len(old) :]
            return data[:start] + patched + struct.pack("<I", len(patched)) + b"PAR1"
    raise ValueError("FileMetaData has no num_rows")


# --------------------------------------------------------------------------
# Hand-written CSV and JSON Lines edge cases
# --------------------------------------------------------------------------


def hand_written():
    w = "hand (fixed bytes in make_fixtures.py)"

    write_bytes(
        "csv_stray_quote.csv",
        b'id,name,note\n1,a,"ok"\n2,b,"unterminated\n3,c,"ok 3"\n4,d,"ok"\n',
    )
    register(
        "csv_stray_quote.csv", w,
        "a quote opened on line 3 is never closed, so lines 4-5 would merge into one value",
        'refuse: error naming line 3 (where the quoted field starts) - PostgreSQL says "unterminated CSV quoted field"',
        {"refuse": "unterminated quoted field starting on line 3"},
        expect="refuse", issue="12.1", message=["line 3"],
    )

    write_bytes("csv_blank_lines.csv", b"id,name\n1,a\n\n2,b\n\n\n3,c\n")
    register(
        "csv_blank_lines.csv", w,
        "blank lines between rows of a two-column file",
        "read the 3 rows and report the 3 skipped blank lines in the summary (warning), or refuse naming line 3",
        table_expected(["id", "name"], ["int64", "string"], [[1, "a"], [2, "b"], [3, "c"]]),
        expect="read-or-refuse", issue="12.2", blank_lines=3,
    )

    write_bytes("csv_semicolon.csv", b'id;name;amount\n1;a b;2.50\n2;"x;y";-1.25\n')
    register(
        "csv_semicolon.csv", w, "`;` delimiter (European spreadsheet export)",
        "detect `;` from the sample and read 3 columns without flags",
        table_expected(["id", "name", "amount"], ["int64", "string", "decimal128(3, 2)"],
                       [[1, "a b", "2.50"], [2, "x;y", "-1.25"]]),
        issue="12.12",
    )

    write_bytes("csv_tab.tsv", b"id\tname\tamount\n1\ta,b\t2.50\n2\tc\t-1.25\n")
    register(
        "csv_tab.tsv", w, "tab-separated file with a .tsv extension",
        "read 3 columns without --delimiter tab",
        table_expected(["id", "name", "amount"], ["int64", "string", "decimal128(3, 2)"],
                       [[1, "a,b", "2.50"], [2, "c", "-1.25"]]),
        issue="12.12",
    )

    write_bytes("csv_pipe.csv", b"id|name|amount\n1|a,b|2.50\n2|c|-1.25\n")
    register(
        "csv_pipe.csv", w, "`|`-separated file with a .csv extension",
        "detect `|` and read 3 columns without flags",
        table_expected(["id", "name", "amount"], ["int64", "string", "decimal128(3, 2)"],
                       [[1, "a,b", "2.50"], [2, "c", "-1.25"]]),
        issue="12.12",
    )

    write_bytes("csv_no_header.csv", b"1,alice,2024-01-02\n2,bob,2024-02-03\n3,carol,2024-03-04\n")
    register(
        "csv_no_header.csv", w, "no header line: the first line is data",
        "detect that line 1 is data (its fields parse as the column types) and read 3 rows "
        "named column_1..3; today the first row silently becomes the header",
        table_expected(["column_1", "column_2", "column_3"], ["int64", "string", "date32[day]"],
                       [[1, "alice", "2024-01-02"], [2, "bob", "2024-02-03"], [3, "carol", "2024-03-04"]]),
        issue="12.12", names_may_differ=True,
    )

    write_bytes("csv_trailing_comma_header.csv", b"id,name,\n1,a,\n2,b,\n")
    names = duckdb.sql(f"select * from read_csv('{HERE / 'csv_trailing_comma_header.csv'}')").columns
    register(
        "csv_trailing_comma_header.csv", w,
        "header ending in a comma: the third column has an empty name (DuckDB calls it "
        + repr(names[2]) + ")",
        "name the column (e.g. column3) with a warning, or refuse naming position 3 - never an "
        "empty name that PostgreSQL rejects as a zero-length identifier",
        table_expected(names, ["int64", "string", "string"], [[1, "a", None], [2, "b", None]]),
        issue="12.15", names_may_differ=True,
    )

    write_bytes("csv_dup_header.csv", b"id,id,name\n1,2,a\n3,4,b\n")
    names = duckdb.sql(f"select * from read_csv('{HERE / 'csv_dup_header.csv'}')").columns
    register(
        "csv_dup_header.csv", w, "duplicate header names `id,id,name`",
        f"rename as DuckDB does ({', '.join(names)}) with a warning, or refuse naming column 2; "
        "never two Parquet fields or JSON keys with one name",
        table_expected(names, ["int64", "int64", "string"], [[1, 2, "a"], [3, 4, "b"]]),
        issue="12.15 / 15.6", names_may_differ=True,
    )

    write_bytes("csv_bom_crlf.csv", b'\xef\xbb\xbfid,name\r\n1,a\r\n2,"b\r\nc"\r\n')
    register(
        "csv_bom_crlf.csv", w, "UTF-8 BOM and CRLF line ends, a CRLF inside a quoted field",
        "strip the BOM from the first column name; keep the CRLF inside the value",
        table_expected(["id", "name"], ["int64", "string"], [[1, "a"], [2, "b\r\nc"]]),
        issue="15",
    )

    write_bytes(
        "csv_leading_plus_zeros.csv",
        b"phone,zip,code\n+4915112345678,01234,007\n+12025550123,98000,010\n",
    )
    register(
        "csv_leading_plus_zeros.csv", w, "phone numbers with a leading `+`, zip codes and codes with leading zeros",
        "keep all three columns as text (DuckDB does); a leading + is not a number",
        table_expected(["phone", "zip", "code"], ["string", "string", "string"],
                       [["+4915112345678", "01234", "007"], ["+12025550123", "98000", "010"]]),
        issue="12.10",
    )

    write_bytes("csv_quoted_newline_error.csv", b'id,note\n1,"a\nb"\n2,ok\nx,bad\n')
    register(
        "csv_quoted_newline_error.csv", w,
        "a bad value on file line 5 after a quoted field spanning lines 2-3 (declared id:int64)",
        'refuse naming row 3, line 5, column "id"',
        {"refuse": "row 3 (line 5): \"x\" is not an int64"},
        expect="refuse", issue="12.18", args=["--schema", "id:int64,note:string"],
        message=["line 5", "id"],
    )

    write_bytes("csv_header_only.csv", b"id,name\n")
    register(
        "csv_header_only.csv", w, "a header and no rows",
        "0 rows with the two columns (string)",
        table_expected(["id", "name"], ["string", "string"], []),
        issue="15.5",
    )

    write_bytes("empty.csv", b"")
    register(
        "empty.csv", w, "an empty file (a failed upstream export)",
        "refuse (exit 1): no header, no columns - never replace a destination with a file without columns",
        {"refuse": "empty file"}, expect="refuse", issue="15.5", message=["empty.csv"],
    )

    write_bytes("empty.jsonl", b"")
    register(
        "empty.jsonl", w, "an empty JSON Lines file",
        "refuse (exit 1) naming the file", {"refuse": "empty file"},
        expect="refuse", issue="15.5", message=["empty.jsonl"],
    )

    bools = b"pg,word,digit,yn\nt,true,1,yes\nf,FALSE,0,no\n,,,\nt,True,1,Yes\n"
    write_bytes("csv_bool_inferred.csv", bools)
    register(
        "csv_bool_inferred.csv", w, "PostgreSQL t/f, true/false, 1/0 and yes/no columns, inferred",
        "infer t/f and true/false as bool; 1/0 may stay int64 and yes/no text (as DuckDB)",
        table_expected(["pg", "word", "digit", "yn"], ["bool", "bool", "int64", "string"],
                       [[True, True, 1, "yes"], [False, False, 0, "no"], [None, None, None, None],
                        [True, True, 1, "Yes"]]),
        issue="12.11",
    )
    write_bytes("csv_bool_declared.csv", bools)
    register(
        "csv_bool_declared.csv", w, "the same booleans with every column declared bool",
        "read t/f, true/false, 1/0, yes/no as bool",
        table_expected(["pg", "word", "digit", "yn"], ["bool"] * 4,
                       [[True, True, True, True], [False, False, False, False],
                        [None, None, None, None], [True, True, True, True]]),
        issue="12.11", args=["--schema", "pg:bool,word:bool,digit:bool,yn:bool"],
    )

    lines = [
        b'{"id": 1, "name": "a"}',
        b'{"id": 2, "name": "b"}',
        b'{"id": 3, "name": "c"}',
        b'{"id": 4, "name": "d"}',
        b'{"id": 5, "name": }',
        b'{"id": 6, "name": "f"}',
    ]
    write_bytes("jsonl_bad_line.jsonl", b"\n".join(lines) + b"\n")
    register(
        "jsonl_bad_line.jsonl", w, "malformed JSON on line 5",
        "refuse naming line 5 (not `after row 0`)", {"refuse": "line 5 is not JSON"},
        expect="refuse", issue="15.6", message=["line 5"],
    )

    write_bytes("jsonl_bad_line_declared.jsonl", b"\n".join(lines) + b"\n")
    register(
        "jsonl_bad_line_declared.jsonl", w, "the same malformed line 5, with the schema declared (no inference)",
        "refuse naming line 5 (today: `after row 0`)", {"refuse": "line 5 is not JSON"},
        expect="refuse", issue="15.6", message=["line 5"], args=["--schema", "id:int64,name:string"],
    )

    write_bytes("csv_float_extremes.csv", b"id,x\n1,1e3\n2,3.14159265358979323846\n3,1e400\n4,-1e-400\n")
    register(
        "csv_float_extremes.csv", w,
        "numbers with an exponent (so the column is inferred float64), one with 21 significant digits, "
        "one beyond the float64 range (1e400) and one below it (-1e-400)",
        "refuse naming row 2/3 and column x (or keep them exactly as decimals/text); never store 3.141592653589793, "
        "+inf or -0.0 for them",
        table_expected(["id", "x"], ["int64", "decimal128(38, 20)"],
                       [[1, "1000"], [2, "3.14159265358979323846"], [3, "1e400"], [4, "-1e-400"]]),
        expect="read-or-refuse", issue="12.10",
    )

    write_bytes(
        "csv_ts_outside_ns.csv",
        b"id,at\n1,2024-01-01 10:00:00\n2,2262-04-12 00:00:00\n3,1600-01-01 00:00:00.5\n4,\n",
    )
    register(
        "csv_ts_outside_ns.csv", w,
        "naive timestamps after 2262-04-11 and before 1677-09-21 (outside the nanosecond range)",
        "infer timestamp(us) - the unit it would use - and read exactly",
        table_expected(["id", "at"], ["int64", "timestamp[us]"],
                       [[1, "2024-01-01T10:00:00.000000"], [2, "2262-04-12T00:00:00.000000"],
                        [3, "1600-01-01T00:00:00.500000"], [4, None]]),
        issue="12.10",
    )

    big = (
        b'{"id": 1, "n": 1}\n'
        b'{"id": 2, "n": 9223372036854775807}\n'
        b'{"id": 3, "n": 18446744073709551615}\n'
        b'{"id": 4, "n": 123456789012345678901234567890}\n'
    )
    write_bytes("jsonl_big_ints.jsonl", big)
    register(
        "jsonl_big_ints.jsonl", w, "integers beyond int64 after an int64 sample",
        "read exactly with a wider exact type (decimal), or refuse naming line 3 and column n; never round to a float",
        # What an exact reader gives (Python's json module keeps big integers).
        table_expected(["id", "n"], ["int64", "decimal128(38, 0)"],
                       [[1, "1"], [2, "9223372036854775807"], [3, "18446744073709551615"],
                        [4, "123456789012345678901234567890"]]),
        expect="read-or-refuse", issue="12.10",
    )

    # Compressed copies of one small CSV and one JSON Lines file.
    plain_csv = (
        b"id,name,amount,at\n"
        b"1,alpha,10.50,2024-01-01T10:00:00\n"
        b'2,"be,ta",-0.25,2024-06-30T23:59:59.123456\n'
        b"3,,,\n"
    )
    rows = [[1, "alpha", "10.50", "2024-01-01T10:00:00.000000"],
            [2, "be,ta", "-0.25", "2024-06-30T23:59:59.123456"],
            [3, None, None, None]]
    exp = table_expected(["id", "name", "amount", "at"],
                         ["int64", "string", "decimal128(4, 2)", "timestamp[us]"], rows)
    compressors = {
        "gz": lambda b: gzip.compress(b, mtime=0),
        "bz2": lambda b: bz2.compress(b),
        "xz": lambda b: lzma.compress(b),
    }
    if zstandard is not None:
        compressors["zst"] = lambda b: zstandard.ZstdCompressor(level=3).compress(b)
    for ext, comp in compressors.items():
        name = f"compressed.csv.{ext}"
        write_bytes(name, comp(plain_csv))
        register(
            name, f"python {ext} module", f"CSV compressed with {ext}",
            "decompress by extension (streaming) and read exactly",
            exp, issue="12.13",
        )
    plain_jsonl = (
        b'{"id": 1, "name": "alpha", "x": 1.5}\n'
        b'{"id": 2, "name": null, "x": -2.25}\n'
    )
    write_bytes("compressed.jsonl.gz", gzip.compress(plain_jsonl, mtime=0))
    register(
        "compressed.jsonl.gz", "python gzip module", "JSON Lines compressed with gzip",
        "decompress by extension and read exactly",
        table_expected(["id", "name", "x"], ["int64", "string", "double"],
                       [[1, "alpha", 1.5], [2, None, -2.25]]),
        issue="12.13",
    )


# --------------------------------------------------------------------------
# pyarrow
# --------------------------------------------------------------------------


def pyarrow_fixtures():
    w = f"pyarrow {pa.__version__}"

    # INT96 as Spark writes it: no Arrow schema in the file, so readers see
    # only the INT96 physical type.
    ts = pa.array(
        [dt.datetime(9999, 12, 31, 23, 59, 59, 999999), dt.datetime(1970, 1, 1),
         dt.datetime(2024, 2, 29, 12, 34, 56, 123456), None, dt.datetime(1, 1, 1),
         dt.datetime(1600, 6, 15, 8, 0, 0)],
        pa.timestamp("us"),
    )
    t = pa.table({"id": pa.array(range(1, 7), pa.int64()), "ts": ts})
    pq.write_table(t, HERE / "pa_int96.parquet", use_deprecated_int96_timestamps=True,
                   store_schema=False, compression="snappy")
    back = pq.read_table(HERE / "pa_int96.parquet", coerce_int96_timestamp_unit="us")
    register(
        "pa_int96.parquet", w + " (use_deprecated_int96_timestamps, no Arrow schema: as Spark)",
        "INT96 timestamps 9999-12-31 (Spark's end of time), 0001-01-01 and 1600 - outside the nanosecond range",
        "read INT96 at microseconds as Spark does (all values exact), or refuse naming column ts; never wrap to 1816",
        canon_table(back), issue="12.4", stdin=True,
    )

    # Page checksums.
    vals = pa.array([1, 2, 0x1122334455667788, 4, 5, 6], pa.int64())
    t = pa.table({"id": vals, "name": pa.array(["a", "b", "c", "d", "e", None])})
    pq.write_table(t, HERE / "pa_page_crc_ok.parquet", write_page_checksum=True,
                   compression="none", use_dictionary=False)
    register(
        "pa_page_crc_ok.parquet", w + " (write_page_checksum=True, uncompressed)",
        "data pages with CRC-32 checksums that match",
        "read exactly (checking the CRCs)",
        canon_table(pq.read_table(HERE / "pa_page_crc_ok.parquet", page_checksum_verification=True)),
        issue="12.5", stdin=True,
    )
    data = bytearray((HERE / "pa_page_crc_ok.parquet").read_bytes())
    marker = struct.pack("<q", 0x1122334455667788)
    # The value also appears in the page header's statistics: skip the
    # header (a thrift struct at the column's first data page) and flip a
    # byte of the value in the page body itself.
    chunk = pq.ParquetFile(HERE / "pa_page_crc_ok.parquet").metadata.row_group(0).column(0)
    header = Compact(bytes(data), chunk.data_page_offset)
    header.skip_struct()
    at = data.index(marker, header.pos)
    assert at < chunk.data_page_offset + chunk.total_compressed_size
    data[at] ^= 0x01  # 0x...88 -> 0x...89: still a valid int64, a different value
    write_bytes("pa_page_crc_bad.parquet", bytes(data))
    try:
        pq.read_table(HERE / "pa_page_crc_bad.parquet", page_checksum_verification=True)
        raise AssertionError("pyarrow read a page whose CRC does not match")
    except OSError:
        pass
    register(
        "pa_page_crc_bad.parquet", w + " + one byte flipped in a data page (offset %d)" % at,
        "a data page whose CRC-32 does not match its bytes: the int64 0x1122334455667788 reads as ...89",
        "refuse naming the file and column id (page checksum mismatch); never copy the changed value",
        {"refuse": "page CRC mismatch in column id",
         "unverified_rows": canon_table(pq.read_table(HERE / "pa_page_crc_bad.parquet"))["rows"]},
        expect="refuse", issue="12.5", message=["pa_page_crc_bad.parquet"],
    )

    # Footer num_rows disagreeing with the row groups.
    t = pa.table({"id": pa.array(range(1, 7), pa.int64()),
                  "name": pa.array(["a", "b", "c", "d", "e", "f"])})
    buf = io.BytesIO()
    pq.write_table(t, buf, row_group_size=3)
    patched = patch_footer_num_rows(buf.getvalue(), 0)
    write_bytes("pa_footer_num_rows_0.parquet", patched)
    meta = pq.ParquetFile(HERE / "pa_footer_num_rows_0.parquet").metadata
    assert meta.num_rows == 0 and sum(meta.row_group(i).num_rows for i in range(meta.num_row_groups)) == 6
    register(
        "pa_footer_num_rows_0.parquet",
        w + " (2 row groups of 3) + FileMetaData.num_rows rewritten to 0 (thrift compact, see patch_footer_num_rows)",
        "footer num_rows (0) disagrees with the row groups (3 + 3 rows)",
        "refuse naming the disagreement, or read the 6 rows the row groups hold and warn; never succeed with 0 rows",
        canon_table(t), expect="read-or-refuse", issue="12.3", stdin=True,
    )

    # Damaged magic at the start; footer intact.
    good = io.BytesIO()
    pq.write_table(pa.table({"id": pa.array([1, 2, 3], pa.int64())}), good)
    write_bytes("pa_bad_magic.parquet", b"XXXX" + good.getvalue()[4:])
    register(
        "pa_bad_magic.parquet", w + " + first 4 bytes overwritten with XXXX",
        "a Parquet file whose leading PAR1 is damaged (footer intact)",
        "refuse (exit 1) naming the file, to every output (the byte-for-byte Parquet path included)",
        {"refuse": "does not start with PAR1"}, expect="refuse", issue="15.6",
        message=["pa_bad_magic.parquet"],
    )

    whole = good.getvalue()
    write_bytes("pa_truncated.parquet", whole[: len(whole) // 2])
    register(
        "pa_truncated.parquet", w + " + cut in half", "a truncated Parquet file",
        "refuse naming the file", {"refuse": "truncated"}, expect="refuse", issue="15.6",
        message=["pa_truncated.parquet"],
    )

    write_bytes("empty.parquet", b"")
    register(
        "empty.parquet", w.split()[0] + " (none: 0 bytes)", "an empty file with a .parquet extension",
        "refuse naming the file", {"refuse": "empty"}, expect="refuse", issue="15.5",
        message=["empty.parquet"],
    )

    # Brotli.
    t = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "s": pa.array(["x", "yy", None])})
    pq.write_table(t, HERE / "pa_brotli.parquet", compression="brotli")
    register(
        "pa_brotli.parquet", w + " (compression='brotli')", "Brotli-compressed column chunks",
        "read exactly (parquet crate feature `brotli`); if not built in, say the codec is missing, not 'corrupt'",
        canon_table(pq.read_table(HERE / "pa_brotli.parquet")), issue="12.14",
    )

    # NaN, infinities, negative zero.
    t = pa.table({
        "d": pa.array([float("nan"), float("inf"), float("-inf"), -0.0, 1.5, None], pa.float64()),
        "f": pa.array([float("nan"), 0.1, None, 3.4028234663852886e38, -1e-45, 2.0], pa.float32()),
    })
    pq.write_table(t, HERE / "pa_nan.parquet")
    register(
        "pa_nan.parquet", w, "float64/float32 NaN, +-Infinity, -0.0, NULL",
        'JSON Lines: NaN and infinities must not become null (write "NaN" strings or refuse naming the column)',
        canon_table(pq.read_table(HERE / "pa_nan.parquet")), issue="12.6",
    )

    # Maps with NULL values.
    m = pa.array([[("a", 1), ("b", None)], None, [], [("c", None)]], pa.map_(pa.string(), pa.int64()))
    t = pa.table({"id": pa.array([1, 2, 3, 4], pa.int64()), "m": m})
    pq.write_table(t, HERE / "pa_map_nulls.parquet")
    register(
        "pa_map_nulls.parquet", w, "map<string, int64> whose entries have NULL values",
        "keep every entry: JSON `{\"a\":1,\"b\":null}`; CSV refuses naming column m",
        canon_table(pq.read_table(HERE / "pa_map_nulls.parquet")), issue="12.6",
        unsupported=["csv"],
    )

    # Dictionary columns with NULLs, in Parquet and in an IPC file.
    t = pa.table({
        "id": pa.array([1, 2, 3, 4], pa.int64()),
        "ds": pa.array(["x", None, "y", "x"]).dictionary_encode(),
        "di": pa.array([10, None, 20, 10], pa.int64()).dictionary_encode(),
    })
    pq.write_table(t, HERE / "pa_dict_nulls.parquet")
    register(
        "pa_dict_nulls.parquet", w, "dictionary<string> and dictionary<int64> columns with NULLs (Arrow schema stored)",
        "NULL stays NULL in every output (today JSON writes \"\" and 0)",
        canon_table(pq.read_table(HERE / "pa_dict_nulls.parquet")), issue="12.6",
    )
    # In IPC a NULL may also be an entry of the dictionary itself (Arrow C++
    # `dictionary_encode(null_encoding="encode")`); Parquet cannot store that.
    t = t.append_column("ds_enc", pa.array(["x", None, "y", "x"]).dictionary_encode(null_encoding="encode"))
    t = t.append_column("di_enc", pa.DictionaryArray.from_arrays(
        pa.array([0, 1, 2, 0], pa.int32()), pa.array([10, None, 20], pa.int64())))
    feather.write_feather(t, HERE / "pa_dict_nulls.arrow", compression="uncompressed")
    register(
        "pa_dict_nulls.arrow", w + " (Feather v2 / IPC file, uncompressed)",
        "the same dictionary columns with NULLs in an Arrow IPC file, plus ds_enc/di_enc whose NULL "
        "is an entry of the dictionary (null_encoding='encode')",
        "NULL stays NULL in every output", canon_table(feather.read_table(HERE / "pa_dict_nulls.arrow")),
        issue="12.6", stdin=True,
    )

    # Duplicate column names.
    t = pa.table([pa.array([1, 2], pa.int64()), pa.array([3, 4], pa.int64()), pa.array(["x", "y"])],
                 names=["a", "a", "b"])
    pq.write_table(t, HERE / "pa_dup_names.parquet")
    register(
        "pa_dup_names.parquet", w, "two columns named `a`",
        "rename (a, a_1) with a warning or refuse naming column 2; never two JSON keys `a` in one object",
        canon_table(pq.ParquetFile(HERE / "pa_dup_names.parquet").read()), issue="12.6",
        names_may_differ=True,
    )

    # Float16, fixed_size_binary(4), names with ':' and ','.
    t = pa.table({
        "h": pa.array([np.float16(1.5), np.float16(-0.0), None, np.float16(65504)], pa.float16()),
        "fsb": pa.array([b"abcd", None, b"\x00\x01\x02\xff", b"\xff\xfe\xfd\xfc"], pa.binary(4)),
        "a:b": pa.array(["x", "y", None, "z"]),
        "x,y": pa.array([1, 2, 3, None], pa.int32()),
        "bin": pa.array([b"\x00\xff", b"", None, b"hi"], pa.binary()),
    })
    pq.write_table(t, HERE / "pa_float16_fsb.parquet")
    register(
        "pa_float16_fsb.parquet", w, "float16, fixed_size_binary(4), binary, column names `a:b` and `x,y`",
        "the --dry-run schema string parses with --schema; CSV hex of binary reads back with --schema",
        canon_table(pq.read_table(HERE / "pa_float16_fsb.parquet")), issue="12.17",
    )

    # Durations, in range and out of chrono's range.
    t = pa.table({
        "id": pa.array([1, 2, 3], pa.int64()),
        "d_s": pa.array([1, 86_400, 10**16], pa.duration("s")),
        "d_ms": pa.array([-1, None, 2**62], pa.duration("ms")),
        "d_ns": pa.array([1, 1_500_000_000, -(2**63) + 1], pa.duration("ns")),
    })
    feather.write_feather(t, HERE / "pa_durations.arrow", compression="uncompressed")
    register(
        "pa_durations.arrow", w + " (IPC file)", "durations in s/ms/ns, some beyond +-2^53 ms",
        "exact in every output (JSON: a number or ISO 8601 text, never `<invalid>`); or refuse naming the column",
        canon_table(feather.read_table(HERE / "pa_durations.arrow")), issue="12.6",
    )

    # Second-precision timestamps, date64, time32[s].
    t = pa.table({
        "ts_s": pa.array([1_700_000_000, None, -1], pa.timestamp("s")),
        "ts_ms_utc": pa.array([1_700_000_000_123, 0, None], pa.timestamp("ms", tz="UTC")),
        "d64": pa.array([1_704_067_200_000, None, -86_400_000], pa.date64()),
        "t32s": pa.array([0, 86_399, None], pa.time32("s")),
        "t32ms": pa.array([1, None, 86_399_999], pa.time32("ms")),
    })
    feather.write_feather(t, HERE / "pa_time_units.arrow", compression="uncompressed")
    register(
        "pa_time_units.arrow", w + " (IPC file)", "timestamp[s], timestamp[ms, UTC], date64, time32[s], time32[ms]",
        "Parquet output carries TIMESTAMP / DATE / TIME logical types that pyarrow and DuckDB read as such",
        canon_table(feather.read_table(HERE / "pa_time_units.arrow")), issue="12.16", stdin=True,
    )
    pq.write_table(t, HERE / "pa_time_units.parquet")
    register(
        "pa_time_units.parquet", w, "the same columns written by pyarrow to Parquet (timestamp[s] stored as ms + Arrow schema)",
        "as pa_time_units.arrow",
        canon_table(pq.read_table(HERE / "pa_time_units.parquet")), issue="12.16",
    )

    # Historical instants in a named zone (LMT / PMT offsets with seconds).
    instants = [
        dt.datetime(1800, 6, 1, 12, 0, 0, tzinfo=dt.timezone.utc),
        dt.datetime(1911, 3, 10, 0, 0, 0, tzinfo=dt.timezone.utc),
        dt.datetime(2024, 7, 1, 8, 30, 0, 250000, tzinfo=dt.timezone.utc),
        None,
    ]
    t = pa.table({
        "paris": pa.array(instants, pa.timestamp("us", tz="Europe/Paris")),
        "kolkata": pa.array(
            [dt.datetime(1900, 1, 1, tzinfo=dt.timezone.utc), None,
             dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc), dt.datetime(1945, 6, 1, tzinfo=dt.timezone.utc)],
            pa.timestamp("s", tz="Asia/Kolkata")),
    })
    pq.write_table(t, HERE / "pa_paris_1800.parquet")
    register(
        "pa_paris_1800.parquet", w, "timestamp[us, Europe/Paris] in 1800 (+00:09:21) and 1911; Asia/Kolkata 1900 (+05:53:28)",
        "text outputs write the exact offset (+00:09:21) or UTC; the instant never moves",
        canon_table(pq.read_table(HERE / "pa_paris_1800.parquet")), issue="12.8",
    )

    # Zero rows.
    t = pa.table({"id": pa.array([], pa.int64()), "name": pa.array([], pa.string())})
    pq.write_table(t, HERE / "pa_zero_rows.parquet")
    register(
        "pa_zero_rows.parquet", w, "a table with columns and no rows",
        "CSV output has the header line `id,name`; JSON Lines output is empty; Parquet keeps the schema",
        canon_table(t), issue="12.7",
    )

    # Union columns (Parquet cannot hold them; IPC can).
    sparse = pa.UnionArray.from_sparse(
        pa.array([0, 1, 0], pa.int8()), [pa.array([1, 2, 3], pa.int64()), pa.array(["a", "b", "c"])], ["i", "s"])
    dense = pa.UnionArray.from_dense(
        pa.array([1, 0, 1], pa.int8()), pa.array([0, 0, 1], pa.int32()),
        [pa.array([1.5], pa.float64()), pa.array(["p", "q"])], ["f", "s"])
    t = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "su": sparse, "du": dense})
    feather.write_feather(t, HERE / "pa_union.arrow", compression="uncompressed")
    register(
        "pa_union.arrow", w + " (IPC file)", "sparse and dense union columns",
        "IPC output copies exactly; Parquet/CSV/JSON refuse at open (also in --dry-run) naming column su - never a panic",
        canon_table(feather.read_table(HERE / "pa_union.arrow")), issue="12.9",
        unsupported=["parquet", "csv", "jsonl"],
    )

    # Feather / IPC variants.
    t = pa.table({
        "id": pa.array([1, 2, 3], pa.int64()),
        "name": pa.array(["x", None, "zz"]),
        "v": pa.array([0.5, None, -1.25], pa.float64()),
    })
    feather.write_feather(t, HERE / "pa_feather_zstd.feather", compression="zstd")
    register(
        "pa_feather_zstd.feather", w + " (write_feather compression='zstd')",
        "ZSTD-compressed Arrow IPC file",
        "read exactly (arrow feature ipc_compression); a missing codec is not 'corrupt'",
        canon_table(feather.read_table(HERE / "pa_feather_zstd.feather")), issue="12.14", stdin=True,
    )
    feather.write_feather(t, HERE / "pa_uncompressed.arrow", compression="uncompressed")
    register(
        "pa_uncompressed.arrow", w + " (write_feather uncompressed)", "plain Arrow IPC file (control)",
        "read exactly", canon_table(feather.read_table(HERE / "pa_uncompressed.arrow")),
        issue="12.14", stdin=True,
    )
    with ipc.new_stream(HERE / "pa_stream.arrows", t.schema) as s:
        s.write_table(t)
    register(
        "pa_stream.arrows", w + " (ipc.new_stream)", "the Arrow IPC stream format (.arrows)",
        "recognise .arrows and read exactly; the stream format from stdin too",
        canon_table(ipc.open_stream(HERE / "pa_stream.arrows").read_all()), issue="12.14", stdin=True,
    )

    # Nested values for the JSON writer.
    t = pa.table({
        "id": pa.array([1, 2], pa.int64()),
        "l": pa.array([[1, None, 3], None], pa.list_(pa.int64())),
        "s": pa.array([{"a": 1, "b": None}, None], pa.struct([("a", pa.int64()), ("b", pa.string())])),
        "dec": pa.array([decimal.Decimal("12345678901234567890.123456789"), None], pa.decimal128(38, 9)),
        "big": pa.array([2**63 - 1, -(2**63)], pa.int64()),
    })
    pq.write_table(t, HERE / "pa_nested.parquet")
    register(
        "pa_nested.parquet", w, "list with NULL items, struct with a NULL field, decimal(38,9), int64 extremes",
        "read exactly in every output that can hold them (CSV refuses naming column l)",
        canon_table(pq.read_table(HERE / "pa_nested.parquet")), issue="12.6", unsupported=["csv"],
    )

    # A one-column CSV whose NULL is an empty line, as pyarrow writes it.
    pacsv.write_csv(pa.table({"c": pa.array([1, None, 3], pa.int64())}), HERE / "pa_one_col_nulls.csv")
    back = pacsv.read_csv(HERE / "pa_one_col_nulls.csv",
                          parse_options=pacsv.ParseOptions(ignore_empty_lines=False))
    register(
        "pa_one_col_nulls.csv", w + " (pyarrow.csv.write_csv)",
        "one column; the NULL in row 2 is an empty line",
        "read 3 rows: 1, NULL, 3 (the empty line is a record in a one-column file)",
        canon_table(back), issue="12.2",
    )


# --------------------------------------------------------------------------
# pandas
# --------------------------------------------------------------------------


def pandas_fixtures():
    w = f"pandas {pd.__version__}"
    df = pd.DataFrame({
        "id": pd.array([1, 2, 3, 4], dtype="int64"),
        "score": [0.1, float("nan"), 2.5e-10, 123456.789],
        "name": ["plain", None, 'say "hi", then\nleave', "ünï"],
        "at": pd.to_datetime(["2024-01-01 00:00:00", None, "2024-02-29 23:59:59.5", "1999-12-31 12:00:00"], format="ISO8601"),
        "ok": [True, False, True, False],
        "cat": pd.Categorical(["x", None, "y", "x"]),
    })
    df.to_feather(HERE / "pd_feather_lz4.feather")  # pandas' default: lz4
    assert ipc.open_file(HERE / "pd_feather_lz4.feather").schema is not None
    register(
        "pd_feather_lz4.feather", w + " (DataFrame.to_feather, default LZ4)",
        "LZ4-compressed Feather v2 with a categorical (dictionary) column and pandas metadata",
        "read exactly (arrow feature ipc_compression); a missing codec is not 'corrupt'",
        canon_table(feather.read_table(HERE / "pd_feather_lz4.feather")), issue="12.14", stdin=True,
    )

    df.drop(columns=["cat"]).to_csv(HERE / "pd_to_csv.csv", index=False)
    back = pd.read_csv(HERE / "pd_to_csv.csv")
    back["at"] = pd.to_datetime(back["at"], format="ISO8601")
    table = pa.Table.from_pandas(back, preserve_index=False)
    # pandas reads timestamps at ns; keep them at the precision written (us).
    table = table.set_column(3, "at", table.column("at").cast(pa.timestamp("us")))
    register(
        "pd_to_csv.csv", w + " (DataFrame.to_csv index=False)",
        "pandas CSV: NaN and None as empty fields, a quoted field with quotes and a newline, fractional seconds",
        "read exactly (NaN/None as NULL)", canon_table(table), issue="12.10",
    )

    (HERE / "pd_records.jsonl").write_text(
        df.drop(columns=["cat", "at"]).to_json(orient="records", lines=True, double_precision=15)
    )
    # pandas' own JSON reader rounds some doubles (2.5e-10 comes back as
    # 2.4999999999999996e-10), so the text is read back with pyarrow.json,
    # which parses numbers exactly.
    import pyarrow.json as pajson
    back = pajson.read_json(HERE / "pd_records.jsonl")
    register(
        "pd_records.jsonl", w + " (DataFrame.to_json orient=records lines=True double_precision=15); read back with pyarrow.json",
        "pandas JSON Lines: NaN written as null, escaped quotes/newlines, non-ASCII as \\u escapes",
        "read exactly", canon_table(back), issue="15.6",
    )


# --------------------------------------------------------------------------
# DuckDB
# --------------------------------------------------------------------------


def duckdb_fixtures():
    w = f"DuckDB {duckdb.__version__}"
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("""
        CREATE TABLE t AS SELECT * FROM (VALUES
          (1, 'x', 1.50::DECIMAL(10,2), TIMESTAMP '2024-01-01 10:00:00.123456', TRUE, DATE '2024-02-29'),
          (2, NULL, NULL, NULL, NULL, NULL),
          (3, '', -0.01::DECIMAL(10,2), TIMESTAMP '1900-01-01 00:00:00', FALSE, DATE '0001-01-01'),
          (4, 'a "b"
c', 99999999.99::DECIMAL(10,2), TIMESTAMP '2262-04-12 00:00:00', TRUE, DATE '9999-12-31')
        ) v(id, name, amount, "at", flag, "day")""")
    path = HERE / "duck_nulls.csv"
    con.execute(f"COPY t TO '{path}' (HEADER, DELIMITER ',')")
    # allow_quoted_nulls=false: DuckDB reads back the '' it wrote as "".
    back = con.execute(f"SELECT * FROM read_csv('{path}', header=true, allow_quoted_nulls=false, columns={{'id':'BIGINT','name':'VARCHAR','amount':'DECIMAL(10,2)','at':'TIMESTAMP','flag':'BOOLEAN','day':'DATE'}})").arrow()
    if isinstance(back, pa.RecordBatchReader):
        back = back.read_all()
    register(
        "duck_nulls.csv", w + " (COPY TO csv, HEADER)",
        "NULLs as empty fields, an empty string as \"\", a quoted newline, decimals, timestamps, year 0001 and 9999",
        "read exactly: NULL is an empty field, the empty string \"\" (row 3's name) stays an empty string, as DuckDB wrote it (convoy reads them apart unless --quoted-empty-is-null)",
        canon_table(back), issue="12.2",
    )

    path = HERE / "duck_one_col_nulls.csv"
    con.execute(f"COPY (SELECT * FROM (VALUES (1), (NULL), (3)) v(c)) TO '{path}' (HEADER)")
    back = con.execute(f"SELECT * FROM read_csv('{path}', header=true, columns={{'c':'BIGINT'}})").arrow()
    if isinstance(back, pa.RecordBatchReader):
        back = back.read_all()
    register(
        "duck_one_col_nulls.csv", w + " (COPY TO csv)", "one column; the NULL is an empty line",
        "read 3 rows: 1, NULL, 3", canon_table(back), issue="12.2",
    )

    path = HERE / "duck_types.parquet"
    con.execute(f"""
        COPY (SELECT * FROM (VALUES
          (1, 1234.5678::DECIMAL(18,4), 12345678901234567890.1234567890::DECIMAL(38,10),
           '6f9619ff-8b86-d011-b42d-00c04fc964ff'::UUID, [1, NULL, 3], {{'a': 1, 'b': 'x'}},
           '\\x00\\xFF'::BLOB, TIME '23:59:59.999999', TIMESTAMPTZ '2024-03-31 01:30:00+00', 'NaN'::DOUBLE),
          (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
          (3, -0.0001::DECIMAL(18,4), -1::DECIMAL(38,10),
           '00000000-0000-0000-0000-000000000000'::UUID, [], {{'a': NULL, 'b': NULL}},
           ''::BLOB, TIME '00:00:00', TIMESTAMPTZ '1800-01-01 00:00:00+00', '-Infinity'::DOUBLE)
        ) v(id, d18, d38, u, l, s, b, tm, tstz, dbl)) TO '{path}' (FORMAT parquet)""")
    back = con.execute(f"SELECT * FROM read_parquet('{path}')").arrow()
    if isinstance(back, pa.RecordBatchReader):
        back = back.read_all()
    register(
        "duck_types.parquet", w + " (COPY TO parquet)",
        "DuckDB Parquet: decimal(18,4), decimal(38,10), UUID, list, struct, blob, time, timestamptz, NaN/-Infinity",
        "read exactly (CSV refuses naming list column l)", canon_table(back), issue="12.6",
        unsupported=["csv"],
    )
    con.close()


# --------------------------------------------------------------------------
# PostgreSQL COPY … TO STDOUT (FORMAT csv, HEADER) through psql
# --------------------------------------------------------------------------


def psql_env():
    env = dict(os.environ)
    env.setdefault("PGHOST", "127.0.0.1")
    env.setdefault("PGPORT", "5432")
    env.setdefault("PGUSER", "postgres")
    env.setdefault("PGDATABASE", "test")
    env.setdefault("PGCONNECT_TIMEOUT", "5")
    env["PGTZ"] = "Europe/Paris"
    env["PGOPTIONS"] = "-c extra_float_digits=1 -c DateStyle=ISO"
    return env


def psql(sql: str, env, stdin: bytes | None = None) -> bytes:
    out = subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-c", sql],
        input=stdin, env=env, capture_output=True, check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr.decode())
    return out.stdout


PG_ARROW = {
    "int8": "int64", "int4": "int32", "float8": "double", "bool": "bool", "text": "string",
    "date": "date32[day]", "bytea": "binary", "numeric": "string",
    "timestamptz": "timestamp[us, tz=Europe/Paris]", "timestamp": "timestamp[us]",
}


def pg_value(v, typ):
    if v is None:
        return None
    if typ in ("int8", "int4"):
        return int(v)
    if typ == "float8":
        if v in ("NaN", "Infinity", "-Infinity"):
            return v
        return float(v)
    if typ == "bool":
        return {"t": True, "true": True, "f": False, "false": False}[v]
    if typ.startswith("numeric"):
        return v
    if typ == "bytea":
        assert v.startswith("\\x")
        return v[2:]
    if typ in ("timestamptz", "timestamp"):
        # PostgreSQL prints `YYYY-MM-DD HH:MM:SS[.ffffff][+HH[:MM[:SS]]]`.
        date, rest = v.split(" ")
        clock, off = rest, ""
        for sign in "+-":
            if sign in rest:
                clock, off = rest.split(sign, 1)
                off = sign + off
        if "." in clock:
            base, frac = clock.split(".")
        else:
            base, frac = clock, ""
        frac = (frac + "000000")[:6]
        text = f"{date}T{base}.{frac}"
        if off:
            parts = off[1:].split(":")
            while len(parts) < 2:
                parts.append("00")
            text += off[0] + ":".join(p.zfill(2) for p in parts)
        return text
    return v


def pg_export(name, table, cols, env, rows_sql, writer, exercises, should, issue, args=None,
              expect="read"):
    """Create table `table` with `cols` (name, type) filled by `rows_sql`,
    export it with COPY … TO STDOUT (FORMAT csv, HEADER), load the export
    into a copy of the table with COPY … FROM STDIN (FORMAT csv, HEADER) and
    read that back as the expected values."""
    coldefs = ", ".join(f'"{c}" {t}' for c, t in cols)
    psql(f"DROP TABLE IF EXISTS cf.{table}, cf.{table}_back; "
         f"CREATE TABLE cf.{table} (ord serial, {coldefs}); "
         f"INSERT INTO cf.{table} ({', '.join(chr(34) + c + chr(34) for c, _ in cols)}) {rows_sql}", env)
    names = ", ".join(f'"{c}"' for c, _ in cols)
    data = psql(f"COPY (SELECT {names} FROM cf.{table} ORDER BY ord) TO STDOUT WITH (FORMAT csv, HEADER)", env)
    write_bytes(name, data)
    psql(f"CREATE TABLE cf.{table}_back (ord serial, {coldefs})", env)
    psql(f"COPY cf.{table}_back ({names}) FROM STDIN WITH (FORMAT csv, HEADER)", env, stdin=data)
    select = ", ".join(f'"{c}"::text' for c, _ in cols)
    out = psql(f"SELECT json_build_array({select}) FROM cf.{table}_back ORDER BY ord", env)
    base_types = [t.split("(")[0].strip() for _, t in cols]
    rows = []
    for line in out.decode().splitlines():
        vals = json.loads(line)
        rows.append([pg_value(v, t) for v, t in zip(vals, base_types)])
    types = []
    for _, t in cols:
        base = t.split("(")[0].strip()
        if base == "numeric" and "(" in t:
            p, s = t[t.index("(") + 1 : -1].split(",")
            types.append(f"decimal128({p.strip()}, {s.strip()})")
        else:
            types.append(PG_ARROW[base])
    register(name, writer, exercises, should,
             table_expected([c for c, _ in cols], types, rows), issue=issue, args=args, expect=expect)


def postgres_fixtures():
    env = psql_env()
    try:
        version = psql("SHOW server_version", env).decode().strip()
    except Exception as e:  # noqa: BLE001 - any failure means: no server
        print(f"SKIP PostgreSQL fixtures: no server reachable ({str(e).strip()[:160]}); "
              "the committed pg_*.csv files and their expected values are kept", file=sys.stderr)
        previous = HERE / "fixtures.json"
        if previous.exists():
            FIXTURES.extend(f for f in json.loads(previous.read_text()) if f["file"].startswith("pg_"))
        return
    w = f"PostgreSQL {version.split()[0]} COPY … TO STDOUT (FORMAT csv, HEADER) via psql"
    psql("CREATE SCHEMA IF NOT EXISTS cf", env)

    pg_export("pg_one_col_nulls.csv", "one_col", [("c", "int8")], env,
              "VALUES (1), (NULL), (3)", w,
              "one column; PostgreSQL writes its NULL as an empty line",
              "read 3 rows: 1, NULL, 3", "12.2")

    pg_export("pg_empty_vs_null.csv", "empty_null", [("id", "int8"), ("s", "text")], env,
              "VALUES (1, 'x'), (2, NULL), (3, ''), (4, ' ')", w,
              "NULL written as an empty field, the empty string as \"\"",
              "read '' and NULL apart: a quoted empty field is '' in a text column, an unquoted one NULL "
              "(PostgreSQL reads it so); `--null` cannot tell them apart for COPY csv",
              "12.2")

    pg_export(
        "pg_types.csv", "types",
        [("id", "int8"), ("price", "float8"), ("flag", "bool"), ("amount", "numeric(12,4)"),
         ("big", "numeric"), ("at", "timestamptz"), ("local_ts", "timestamp"), ("day", "date"),
         ("note", "text"), ("raw", "bytea")],
        env,
        """VALUES
        (1, 0.007150221951635061, true, 1234.5, 123456789012345678901234567890.123456789,
         '2024-03-31 01:59:59.999999+01', '2024-03-31 02:30:00', '2024-02-29', 'plain', '\\x00ff'::bytea),
        (2, 1.234e-19, false, -0.0001, 0, '2024-10-27 02:30:00+01', '1999-12-31 23:59:59.5', '0001-01-01',
         E'line1\\nline2 "quoted", comma', '\\x'::bytea),
        (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
        (4, 'NaN', true, 99999999.9999, -0.000000000000000000000000000001, '1969-12-31 23:59:59+00',
         '2262-04-12 00:00:00', '9999-12-31', E'tab\\there', NULL),
        (5, '-Infinity', false, 0, 1e30, '2024-06-15 12:00:00+02', '1800-01-01 00:00:00', '1970-01-01', 'x', '\\xdeadbeef'::bytea)""",
        w,
        "double precision (shortest round-trip text, NaN, -Infinity), boolean t/f, numeric(12,4), unconstrained numeric, "
        "timestamptz at +01/+02, timestamp, date 0001/9999, text with newline/quotes/comma/tab, bytea hex",
        "infer price as float64 and flag as bool; read every value exactly (bytea text `\\x…` may stay text)",
        "12.10 / 12.11",
    )

    pg_export(
        "pg_double_precision.csv", "doubles", [("id", "int8"), ("price", "float8")], env,
        "SELECT i, i::float8 / 139 FROM generate_series(1, 20) i "
        "UNION ALL VALUES (21, 1.234e-19), (22, 6.02214076e23), (23, 1e300), (24, 0.1)",
        w,
        "double precision as psql exports it; the first 20 values look like decimals with 16-18 "
        "fraction digits, row 21 is 1.234e-19 (run with --infer-rows 20 so the sample ends before it, "
        "as 10,000 rows do in the issue)",
        "infer float64 for shortest round-trip floats (or re-read with a wider type) and read all 24 rows exactly; "
        "never fail a well-formed file",
        "12.10", args=["--infer-rows", "20"],
    )

    pg_export(
        "pg_timestamptz_lmt.csv", "lmt", [("id", "int8"), ("at", "timestamptz")], env,
        "VALUES (1, '1800-06-01 12:00:00+00'), (2, '1911-03-10 00:00:00+00'), (3, '2024-07-01 08:30:00+00')",
        w,
        "timestamptz exported in session zone Europe/Paris: 1800 prints `+00:09:21`, 1911 `+00:09:21`",
        "parse seconds in UTC offsets (±HH:MM:SS) and keep the instant; today the column becomes text",
        "12.8",
    )

    pg_export(
        "pg_bool_declared.csv", "bools", [("id", "int8"), ("flag", "bool")], env,
        "VALUES (1, true), (2, false), (3, NULL)", w,
        "PostgreSQL booleans t/f with the column declared bool",
        "read t/f as true/false", "12.11", args=["--schema", "id:int64,flag:bool"],
    )
    psql("DROP SCHEMA cf CASCADE", env)


# --------------------------------------------------------------------------


def readme_table() -> str:
    lines = [
        "| fixture | written by | exercises | issue | convoy should |",
        "| --- | --- | --- | --- | --- |",
    ]
    for f in FIXTURES:
        def esc(s):
            return s.replace("|", "\\|").replace("\n", " ")
        args = f" (args: `{' '.join(f['args'])}`)" if f["args"] else ""
        lines.append(
            f"| `{f['file']}` | {esc(f['writer'])} | {esc(f['exercises'])}{esc(args)} | {f['issue']} | "
            f"**{f['expect']}**: {esc(f['should'])} |"
        )
    return "\n".join(lines)


def main():
    EXPECTED.mkdir(exist_ok=True)
    hand_written()
    pyarrow_fixtures()
    pandas_fixtures()
    duckdb_fixtures()
    postgres_fixtures()
    # Drop expected files of fixtures that no longer exist.
    names = {f["file"] for f in FIXTURES}
    for e in EXPECTED.glob("*.json"):
        if e.name[: -len(".json")] not in names:
            e.unlink()
    (HERE / "fixtures.json").write_text(json.dumps(FIXTURES, indent=1, ensure_ascii=False) + "\n")
    total = sum((HERE / f["file"]).stat().st_size for f in FIXTURES)
    print(f"{len(FIXTURES)} fixtures, {total} bytes, in {HERE}")
    if "--table" in sys.argv:
        print(readme_table())


if __name__ == "__main__":
    main()
