#!/usr/bin/env python3
"""Benchmark peers for recon: what a user would pick instead, on the same files.

    python peers.py --left L.parquet --right R.parquet --key id [--key k2 ...] \
        --peer polars|datacompy [--columns c1,c2,...] \
        [--rename-left old=new,...] [--rename-right old=new,...] [--runs N]
    python peers.py --spec large.toml --peer polars|datacompy [--entity NAME] [--runs N]

One peer runs in this process and prints one JSON line on stdout:

    {"peer", "wall_s", "rows_left", "rows_right", "left_only", "right_only",
     "matched_rows", "mismatched_rows", "mismatched_cells", "per_column",
     "columns", "peak_rss_kb", "versions"}

- ``wall_s`` is timed inside the script, from the first file read to the
  result (imports excluded); ``peak_rss_kb`` is ``getrusage(RUSAGE_SELF)
  .ru_maxrss`` (VmHWM, as the harness reads it for recon) at the end.
- ``per_column``: for each compared column, the rows present on both sides
  whose values differ (null-safe: null against a value differs, null
  against null does not); ``mismatched_rows``: rows on both sides with at
  least one such column; ``mismatched_cells``: the sum of ``per_column``.
- polars: ``scan_parquet`` both, full outer join on the key(s), counts with
  ``ne_missing``, all in one lazy query collected once.
- datacompy: ``read_parquet`` both (``PolarsCompare`` takes eager frames),
  ``datacompy.PolarsCompare(df1, df2, join_columns=keys)``, whose
  constructor does the whole comparison eagerly (outer join, then every
  column's ``_match`` column and its stats); the counts are then read from
  ``column_stats`` (``unequal_cnt``), ``count_matching_rows()``,
  ``df1_unq_rows`` / ``df2_unq_rows`` and ``matches()``. ``--report`` also
  renders ``report()`` (the text a user would print) inside the timing.

Column names: both peers compare columns by name, so when the two sides
name a column differently, rename them to one name: ``--rename-left`` /
``--rename-right old=new,...`` (keys and ``--columns`` use the new names).
datacompy left alone would treat such a pair as one column only in df1 and
another only in df2, and compare neither. ``--spec`` reads a recon spec
instead: the entity's paths (relative to the spec), its key, and each
declared field's ``left`` / ``right`` column names, renamed to the field's
name; the compared columns are every declared field but the key (the
columns recon reads), unless ``--columns`` says otherwise. Without a spec
and without ``--columns``, every column the two sides share (after
renaming) but the key is compared.

``--runs N`` starts this script N times, one child process per run (so
each peak RSS is its own), prints each child's line and then one line
``{"peer", "runs", "median_wall_s", "median_peak_rss_kb", "wall_s": [...],
"peak_rss_kb": [...]}``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path


def parse_renames(text: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    if not text:
        return out
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        old, sep, new = part.partition("=")
        if not sep or not old or not new:
            sys.exit(f"peers.py: bad rename {part!r}: expected old=new")
        out[old] = new
    return out


def from_spec(spec: Path, entity: str | None) -> dict:
    """Paths, key, renames and columns of one entity of a recon spec."""
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib  # type: ignore[no-redef]
    with open(spec, "rb") as f:
        doc = tomllib.load(f)
    entities = doc.get("entity", [])
    if entity is not None:
        entities = [e for e in entities if e.get("name") == entity]
    if not entities:
        sys.exit(f"peers.py: no entity {entity or ''} in {spec}")
    e = entities[0]
    base = spec.parent

    def path_of(side: str) -> Path:
        src = e[side]
        p = src["path"] if isinstance(src, dict) else src
        return (base / p).resolve()

    rename_left: dict[str, str] = {}
    rename_right: dict[str, str] = {}
    fields: list[str] = []
    for fld in e.get("field", []):
        name = fld["name"]
        fields.append(name)
        for side, renames in (("left", rename_left), ("right", rename_right)):
            col = fld.get(side)
            if isinstance(col, str) and col != name:
                renames[col] = name
    keys = e["key"] if isinstance(e["key"], list) else [e["key"]]
    return {
        "left": path_of("left"),
        "right": path_of("right"),
        "keys": keys,
        "rename_left": rename_left,
        "rename_right": rename_right,
        "columns": [f for f in fields if f not in keys],
    }


def peak_rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_polars(left, right, keys, columns, rename_left, rename_right) -> dict:
    import polars as pl

    t0 = time.perf_counter()
    lf = scan(left)
    rf = scan(right)
    if rename_left:
        lf = lf.rename(rename_left)
    if rename_right:
        rf = rf.rename(rename_right)
    if columns is None:
        lnames = lf.collect_schema().names()
        rnames = set(rf.collect_schema().names())
        columns = [c for c in lnames if c in rnames and c not in keys]
    lf = lf.select(*keys, *columns).with_columns(pl.lit(True).alias("__in_left"))
    rf = rf.select(*keys, *columns).with_columns(pl.lit(True).alias("__in_right"))
    joined = lf.join(rf, on=keys, how="full", suffix="_r", coalesce=True)
    both = pl.col("__in_left").is_not_null() & pl.col("__in_right").is_not_null()
    differs = [pl.col(c).ne_missing(pl.col(f"{c}_r")) for c in columns]
    counts = joined.select(
        pl.col("__in_left").is_not_null().sum().alias("__rows_left"),
        pl.col("__in_right").is_not_null().sum().alias("__rows_right"),
        both.sum().alias("__matched"),
        (pl.col("__in_left").is_not_null() & pl.col("__in_right").is_null())
        .sum()
        .alias("__left_only"),
        (pl.col("__in_left").is_null() & pl.col("__in_right").is_not_null())
        .sum()
        .alias("__right_only"),
        (both & pl.any_horizontal(differs)).sum().alias("__mismatched_rows")
        if differs
        else pl.lit(0).alias("__mismatched_rows"),
        *[(both & d).sum().alias(c) for c, d in zip(columns, differs)],
    ).collect()
    wall = time.perf_counter() - t0
    row = counts.row(0, named=True)
    per_column = {c: int(row[c]) for c in columns}
    return {
        "peer": "polars",
        "wall_s": round(wall, 4),
        "rows_left": int(row["__rows_left"]),
        "rows_right": int(row["__rows_right"]),
        "matched_rows": int(row["__matched"]),
        "left_only": int(row["__left_only"]),
        "right_only": int(row["__right_only"]),
        "mismatched_rows": int(row["__mismatched_rows"]),
        "mismatched_cells": sum(per_column.values()),
        "per_column": per_column,
        "columns": columns,
        "versions": {"polars": pl.__version__},
    }


def run_datacompy(left, right, keys, columns, rename_left, rename_right, report) -> dict:
    import datacompy
    import polars as pl

    t0 = time.perf_counter()
    df1 = scan(left).collect()
    df2 = scan(right).collect()
    if rename_left:
        df1 = df1.rename(rename_left)
    if rename_right:
        df2 = df2.rename(rename_right)
    if columns is None:
        rnames = set(df2.columns)
        columns = [c for c in df1.columns if c in rnames and c not in keys]
    df1 = df1.select(*keys, *columns)
    df2 = df2.select(*keys, *columns)
    t_read = time.perf_counter() - t0
    # The constructor runs the whole comparison (datacompy.polars
    # PolarsCompare._compare: equals, outer join, per-column compare).
    # cast_column_names_lower=False keeps our names as they are (the
    # default lower-cases every column name, keys included).
    cmp = datacompy.PolarsCompare(
        df1,
        df2,
        join_columns=list(keys),
        df1_name="left",
        df2_name="right",
        cast_column_names_lower=False,
    )
    matching_rows = cmp.count_matching_rows()
    matches = cmp.matches()
    text = cmp.report() if report else None
    wall = time.perf_counter() - t0
    stats = {s["column"]: s for s in cmp.column_stats}
    per_column = {c: int(stats[c]["unequal_cnt"]) for c in columns}
    matched = len(cmp.intersect_rows)
    out = {
        "peer": "datacompy",
        "wall_s": round(wall, 4),
        "read_s": round(t_read, 4),
        "rows_left": df1.height,
        "rows_right": df2.height,
        "matched_rows": matched,
        "left_only": len(cmp.df1_unq_rows),
        "right_only": len(cmp.df2_unq_rows),
        "mismatched_rows": matched - matching_rows,
        "mismatched_cells": sum(per_column.values()),
        "per_column": per_column,
        "columns": columns,
        "matches": matches,
        "versions": {"datacompy": datacompy.__version__, "polars": pl.__version__},
    }
    if text is not None:
        out["report_chars"] = len(text)
    return out


def spawn_runs(argv: list[str], runs: int) -> None:
    """Runs this script `runs` times, one child process each; prints medians."""
    child = [a for a in argv]
    i = child.index("--runs")
    del child[i : i + 2]
    walls, rss, peer = [], [], None
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, os.path.abspath(__file__), *child],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        ).stdout
        line = out.strip().splitlines()[-1]
        print(line, flush=True)
        r = json.loads(line)
        peer = r["peer"]
        walls.append(r["wall_s"])
        rss.append(r["peak_rss_kb"])
    print(
        json.dumps(
            {
                "peer": peer,
                "runs": runs,
                "median_wall_s": statistics.median(walls),
                "median_peak_rss_kb": statistics.median(rss),
                "wall_s": walls,
                "peak_rss_kb": rss,
            }
        ),
        flush=True,
    )


def scan(path: Path) -> "pl.LazyFrame":
    """A Parquet file, or a CSV file read as text (as the harness's Rust
    baseline reads it: no type inference)."""
    import polars as pl

    if str(path).endswith(".csv"):
        return pl.scan_csv(path, infer_schema=False)
    return pl.scan_parquet(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--peer", required=True, choices=["polars", "datacompy"])
    ap.add_argument("--spec", type=Path, help="recon spec: paths, key, column names")
    ap.add_argument("--entity", help="entity of --spec (default: the first)")
    ap.add_argument("--left", type=Path)
    ap.add_argument("--right", type=Path)
    ap.add_argument("--key", action="append", default=[], help="join column (repeat)")
    ap.add_argument("--columns", help="compared columns, comma-separated")
    ap.add_argument("--rename-left", help="old=new,... applied to the left file")
    ap.add_argument("--rename-right", help="old=new,... applied to the right file")
    ap.add_argument("--report", action="store_true", help="datacompy: also render report()")
    ap.add_argument("--runs", type=int, default=1, help="N runs, a child process each")
    a = ap.parse_args()

    if a.runs > 1:
        spawn_runs(sys.argv[1:], a.runs)
        return

    if a.spec is not None:
        s = from_spec(a.spec, a.entity)
    else:
        s = {"left": None, "right": None, "keys": [], "rename_left": {},
             "rename_right": {}, "columns": None}
    left = a.left or s["left"]
    right = a.right or s["right"]
    keys = a.key or s["keys"]
    if left is None or right is None or not keys:
        ap.error("give --left, --right and --key, or --spec")
    rename_left = {**s["rename_left"], **parse_renames(a.rename_left)}
    rename_right = {**s["rename_right"], **parse_renames(a.rename_right)}
    columns = [c for c in a.columns.split(",") if c] if a.columns else s["columns"]

    if a.peer == "polars":
        out = run_polars(str(left), str(right), keys, columns, rename_left, rename_right)
    else:
        out = run_datacompy(
            str(left), str(right), keys, columns, rename_left, rename_right, a.report
        )
    out["keys"] = keys
    out["peak_rss_kb"] = peak_rss_kb()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
