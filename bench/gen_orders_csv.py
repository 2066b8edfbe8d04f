#!/usr/bin/env python3
"""Deterministic generator of an `orders` CSV for convoy's benchmarks.

Usage: gen_orders_csv.py ROWS OUT.csv [--seed N]

Columns (header row first):
  id          bigint          1..ROWS
  qty         int             signed 32-bit range
  amount      decimal(18,4)   always 4 fractional digits, |amount| < 10^10
  ratio       double          Python repr (shortest round-trip); some values
                              use exponent notation (e.g. 1.5e-07)
  note        text            10-40 chars, ASCII plus non-ASCII; some values
                              hold commas and double quotes (CSV-quoted)
  comment     text, nullable  ~20% empty (= null)
  created_at  timestamptz     RFC3339, microseconds, `Z` or `+02:00`
  active      bool            true / false
  uid         uuid            lowercase hyphenated (version 4)

The same ROWS and seed always give the same bytes. Only a one-line summary
is printed, on stderr.
"""

import argparse
import datetime
import os
import random
import sys
import time

HEADER = "id,qty,amount,ratio,note,comment,created_at,active,uid\n"
CHUNK_ROWS = 50_000
POOL_BITS = 16  # text and timestamp pools hold 2**16 entries each
POOL_SIZE = 1 << POOL_BITS

ASCII_WORD_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
NON_ASCII_WORDS = ["café", "straße", "日本", "naïve", "Zürich", "señor", "Ørsted", "déjà"]
PUNCT_WORDS = ["a,b", "x, y", '"quoted"', 'say "hi"', "1,5", 'he said "no, thanks"']


def csv_field(s):
    """Quote a text field the way RFC 4180 wants it."""
    if any(c in s for c in ',"\n\r'):
        return '"' + s.replace('"', '""') + '"'
    return s


def make_text(rng, min_len, max_len, punct_share):
    """A text value of min_len..max_len characters built from words."""
    target = rng.randint(min_len, max_len)
    words = []
    length = -1
    while length < target:
        roll = rng.random()
        if roll < punct_share:
            w = rng.choice(PUNCT_WORDS)
        elif roll < punct_share + 0.12:
            w = rng.choice(NON_ASCII_WORDS)
        else:
            w = "".join(rng.choice(ASCII_WORD_CHARS) for _ in range(rng.randint(2, 9)))
        words.append(w)
        length += len(w) + 1
    s = " ".join(words)[:target].strip()
    while len(s) < min_len:
        s += rng.choice(ASCII_WORD_CHARS)
    return s


def build_pools(rng):
    notes = [csv_field(make_text(rng, 10, 40, 0.04)) for _ in range(POOL_SIZE)]
    comments = [
        "" if rng.random() < 0.20 else csv_field(make_text(rng, 6, 30, 0.02))
        for _ in range(POOL_SIZE)
    ]
    # Second-resolution timestamps between 2020-01-01 and 2025-12-31;
    # microseconds and the offset are drawn per row.
    start = datetime.datetime(2020, 1, 1)
    span = 6 * 365 * 86400
    stamps = [
        (start + datetime.timedelta(seconds=rng.randrange(span))).strftime("%Y-%m-%dT%H:%M:%S")
        for _ in range(POOL_SIZE)
    ]
    # Doubles: mostly plain decimals of varied magnitude, ~6% tiny or huge so
    # that repr() switches to exponent notation.
    ratios = []
    for _ in range(POOL_SIZE):
        roll = rng.random()
        if roll < 0.03:
            v = rng.uniform(1.0, 9.9) * 10.0 ** rng.randint(-12, -5)
        elif roll < 0.06:
            v = rng.uniform(1.0, 9.9) * 10.0 ** rng.randint(16, 22)
        else:
            v = rng.uniform(-1.0, 1.0) * 10.0 ** rng.randint(0, 6)
        if rng.random() < 0.3:
            v = -v
        ratios.append(repr(v))
    return notes, comments, stamps, ratios


def generate(rows, out_path, seed):
    rng = random.Random(seed)
    notes, comments, stamps, ratios = build_pools(rng)
    getrandbits = rng.getrandbits
    # Same ratio value for a given pool slot is fine; pick slots per row.
    offsets = ("Z", "+02:00")
    bools = ("false", "true")
    uuid_mask = ~(0xF << 76) & ~(0x3 << 62) & ((1 << 128) - 1)
    uuid_set = (0x4 << 76) | (0x2 << 62)
    half32 = 1 << 31
    mask = POOL_SIZE - 1

    with open(out_path, "w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        row_id = 1
        while row_id <= rows:
            end = min(rows, row_id + CHUNK_ROWS - 1)
            lines = []
            append = lines.append
            for i in range(row_id, end + 1):
                bits = getrandbits(64)
                # amount: magnitude drawn from a varied bit width (1..46 bits
                # of ten-thousandths, i.e. below 7.04e9), sign from `bits`.
                a = getrandbits((bits & 31) + 15)
                u = "%032x" % ((getrandbits(128) & uuid_mask) | uuid_set)
                append(
                    "%d,%d,%s%d.%04d,%s,%s,%s,%s.%06d%s,%s,%s-%s-%s-%s-%s"
                    % (
                        i,
                        getrandbits(32) - half32,
                        "-" if bits & 32 else "",
                        a // 10000,
                        a % 10000,
                        ratios[(bits >> 6) & mask],
                        notes[(bits >> 22) & mask],
                        comments[(bits >> 38) & mask],
                        stamps[getrandbits(POOL_BITS)],
                        getrandbits(20) % 1000000,
                        offsets[(bits >> 54) & 1],
                        bools[(bits >> 55) & 1],
                        u[:8],
                        u[8:12],
                        u[12:16],
                        u[16:20],
                        u[20:],
                    )
                )
            append("")
            out.write("\n".join(lines))
            row_id = end + 1


def main():
    p = argparse.ArgumentParser(description="Generate a deterministic orders CSV.")
    p.add_argument("rows", type=int, help="number of data rows")
    p.add_argument("out", help="output CSV path")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    args = p.parse_args()
    if args.rows < 0:
        p.error("ROWS must be >= 0")
    t0 = time.perf_counter()
    generate(args.rows, args.out, args.seed)
    secs = time.perf_counter() - t0
    size = os.path.getsize(args.out)
    print(
        "gen_orders_csv: %d rows, %d bytes (%.1f MB) -> %s in %.1fs (seed %d)"
        % (args.rows, size, size / 1e6, args.out, secs, args.seed),
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
