"""Geofence benchmark: GridIndex.locate_many / locate against PostGIS ST_Covers (GiST) and a naive loop.

    python bench/geofence.py [--grids 10000] [--points 1000000] [--pg-url postgresql://postgres@127.0.0.1:5432/postgres]

Grids come from geo.synthetic (irregular, 20-60 vertices, some with holes, tiling their villages);
points are uniform over the county. Every figure printed is measured in this run. PostGIS runs in
a scratch database `gridgov_bench_geo` that the bench creates and drops, with parallel query off so
that both sides use one core; without PostGIS (bench/install_postgis.sh) that part is skipped.
"""
from __future__ import annotations

import argparse
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo.index import GridIndex  # noqa: E402
from geo.synthetic import make_county  # noqa: E402
from bench.table import table_row  # noqa: E402

BENCH_DB = "gridgov_bench_geo"
VILLAGES_PER_TOWNSHIP = (12, 18)
GRIDS_PER_VILLAGE = (8, 14)


def rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MB, from /proc/self/status."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, value = line.split(":")
            fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def rss_child(path: str) -> None:
    """Run in a fresh process: load the grids' WKB, build the index, report what the process holds."""
    before, _ = rss_mb()
    with open(path, "rb") as f:
        codes, villages, townships, wkb = pickle.load(f)
    geometries = shapely.from_wkb(np.array(wkb, dtype=object))
    del wkb
    index = GridIndex(codes, villages, townships, geometries)
    del geometries, codes, villages, townships
    index.locate(float(index._lattice.x0), float(index._lattice.y0))
    now, peak = rss_mb()
    print(f"{before:.1f} {now:.1f} {peak:.1f} {len(index)}")


def make_grids(target: int, seed: int):
    townships = max(1, round(target / (np.mean(VILLAGES_PER_TOWNSHIP) * np.mean(GRIDS_PER_VILLAGE))))
    size_km = 30.0 * max(1.0, (target / 10_000) ** 0.5)
    start = time.perf_counter()
    records = make_county(seed=seed, townships=townships, villages_per_township=VILLAGES_PER_TOWNSHIP,
                          grids_per_village=GRIDS_PER_VILLAGE, size_km=size_km)
    return records, time.perf_counter() - start


def random_points(county, n: int, seed: int):
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = county.bounds
    lons, lats = np.empty(0), np.empty(0)
    while len(lons) < n:
        x, y = rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)
        keep = shapely.contains_xy(county, x, y)
        lons, lats = np.concatenate([lons, x[keep]]), np.concatenate([lats, y[keep]])
    return lons[:n], lats[:n]


def naive_bbox_loop(geoms, codes, lons, lats):
    """Python loop per point: numpy box pre-check over all grids, then prepared covers, smallest code."""
    bounds = shapely.bounds(geoms)
    out = []
    for lon, lat in zip(lons, lats):
        cand = np.flatnonzero((bounds[:, 0] <= lon) & (lon <= bounds[:, 2]) & (bounds[:, 1] <= lat) & (lat <= bounds[:, 3]))
        point = shapely.Point(lon, lat)
        hits = [codes[i] for i in cand if geoms[i].covers(point)]
        out.append(min(hits) if hits else None)
    return out


def naive_all_loop(geoms, codes, lons, lats):
    """Python loop per point testing every prepared grid (no spatial index at all)."""
    out = []
    for lon, lat in zip(lons, lats):
        hits = codes[shapely.intersects_xy(geoms, lon, lat)]
        out.append(min(hits) if len(hits) else None)
    return out


def postgis(pg_url: str, grids, lons, lats):
    """Load grids and points with COPY, GiST-index the grids, answer all points with one ST_Covers join."""
    try:
        import psycopg
    except ImportError:
        return None, "psycopg is not installed"
    try:
        admin = psycopg.connect(pg_url, autocommit=True, connect_timeout=5)
    except Exception as exc:  # noqa: BLE001 - any connection failure means: skip, and say why
        return None, f"cannot connect to {pg_url}: {exc}"
    with admin:
        admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
        admin.execute(f"CREATE DATABASE {BENCH_DB}")
    url = psycopg.conninfo.make_conninfo(pg_url, dbname=BENCH_DB)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            try:
                conn.execute("CREATE EXTENSION postgis")
            except psycopg.Error as exc:
                return None, f"PostGIS is not available ({exc.diag.message_primary}); run bench/install_postgis.sh"
            version = conn.execute("SELECT postgis_lib_version()").fetchone()[0]
            conn.execute("SET max_parallel_workers_per_gather = 0")  # one core, like numpy/shapely
            conn.execute("SET work_mem = '256MB'")
            conn.execute("CREATE TEMP TABLE grids (code text PRIMARY KEY, geom geometry(Geometry, 4326))")
            conn.execute("CREATE TEMP TABLE pts (id int, geom geometry(Point, 4326))")
            t0 = time.perf_counter()
            with conn.cursor().copy("COPY grids (code, geom) FROM STDIN") as copy:
                ewkb = shapely.to_wkb(shapely.set_srid(np.array([g.geometry for g in grids], dtype=object), 4326),
                                      hex=True, include_srid=True)
                for g, hexwkb in zip(grids, ewkb):
                    copy.write_row((g.code, hexwkb))
            conn.execute("CREATE INDEX ON grids USING gist (geom)")
            conn.execute("ANALYZE grids")
            t1 = time.perf_counter()
            with conn.cursor().copy("COPY pts (id, geom) FROM STDIN") as copy:
                hexes = shapely.to_wkb(shapely.set_srid(shapely.points(lons, lats), 4326), hex=True, include_srid=True)
                copy.write(("".join(f"{i}\t{h}\n" for i, h in enumerate(hexes))).encode())
            conn.execute("ANALYZE pts")
            t2 = time.perf_counter()
            rows = conn.execute("SELECT p.id, min(g.code) FROM pts p JOIN grids g ON ST_Covers(g.geom, p.geom) "
                                "GROUP BY p.id").fetchall()
            t3 = time.perf_counter()
    finally:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
    answer = np.full(len(lons), None, dtype=object)
    for i, code in rows:
        answer[i] = code
    return {"version": version, "load_grids_s": t1 - t0, "load_points_s": t2 - t1, "query_s": t3 - t2,
            "answer": answer}, None


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grids", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--pg-url", default=os.environ.get("GRIDGOV_BENCH_PG_URL",
                                                           "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-postgis", action="store_true")
    parser.add_argument("--rss-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.rss_child)
        return 0

    records, gen_s = make_grids(args.grids, args.seed)
    grids = [r for r in records if r.level == "grid"]
    county = next(r for r in records if r.level == "county").geometry
    vertices = shapely.get_num_coordinates([g.geometry for g in grids])
    holes = int(np.sum(shapely.get_num_interior_rings([g.geometry for g in grids]) > 0))
    print(f"setup: {len(grids)} grids in {sum(r.level == 'village' for r in records)} villages "
          f"(vertices per grid p5/p50/p95 {np.percentile(vertices, 5):.0f}/{np.percentile(vertices, 50):.0f}/"
          f"{np.percentile(vertices, 95):.0f}, {holes} with holes), generated in {gen_s:.2f} s")

    builds = []
    for _ in range(3):
        start = time.perf_counter()
        index = GridIndex.from_areas(records)
        builds.append(time.perf_counter() - start)
    build_s = builds[0]
    print(f"index build: first {builds[0]:.3f} s, median of 3 {statistics.median(builds):.3f} s "
          f"(lattice {index._lattice.nx}x{index._lattice.ny} cells)")

    lons, lats = random_points(county, args.points, args.seed + 1)
    print(f"points: {len(lons):,} uniform over the county")
    index.locate_many(lons[:10_000], lats[:10_000])
    runs = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        result = index.locate_many(lons, lats)
        runs.append(time.perf_counter() - start)
    best, median = min(runs), statistics.median(runs)
    rate = len(lons) / median
    print(f"(a) locate_many: {len(lons) / best:,.0f} pts/s best, {rate:,.0f} pts/s median of {args.repeat} "
          f"({median * 1e3:.0f} ms per {len(lons):,}; {np.mean(result.index >= 0):.2%} mapped)")

    calls = min(10_000, len(lons))
    latencies = np.empty(calls)
    for i in range(calls):
        start = time.perf_counter()
        index.locate(lons[i], lats[i])
        latencies[i] = time.perf_counter() - start
    p50, p99 = np.percentile(latencies, 50) * 1e6, np.percentile(latencies, 99) * 1e6
    print(f"(b) locate: p50 {p50:.1f} µs, p99 {p99:.1f} µs over {calls:,} calls")

    pg, why = (None, "--no-postgis given") if args.no_postgis else postgis(args.pg_url, grids, lons, lats)
    if pg is None:
        print(f"(c) PostGIS: skipped: {why}")
    else:
        pg_rate = len(lons) / pg["query_s"]
        total = pg["load_grids_s"] + pg["load_points_s"] + pg["query_s"]
        exact = index.locate_many(lons, lats)  # tolerance does not matter: every point is inside the county
        agree = np.mean(pg["answer"] == exact.grid_codes())
        print(f"(c) PostGIS {pg['version']} ST_Covers + GiST, one JOIN, parallel query off: "
              f"query {pg['query_s']:.2f} s = {pg_rate:,.0f} pts/s; including load "
              f"(grids {pg['load_grids_s']:.2f} s, points {pg['load_points_s']:.2f} s) {total:.2f} s = "
              f"{len(lons) / total:,.0f} pts/s; answers agree with locate_many on {agree:.4%} of points")

    geoms = np.array([g.geometry for g in grids], dtype=object)
    shapely.prepare(geoms)
    codes = np.array([g.code for g in grids])
    n_naive = min(10_000, len(lons))
    start = time.perf_counter()
    naive = naive_bbox_loop(geoms, codes, lons[:n_naive], lats[:n_naive])
    naive_rate = n_naive / (time.perf_counter() - start)
    n_all = min(500, len(lons))
    start = time.perf_counter()
    naive_all_loop(geoms, codes, lons[:n_all], lats[:n_all])
    all_rate = n_all / (time.perf_counter() - start)
    agree = np.mean(np.array(naive, dtype=object) == result.grid_codes()[:n_naive])
    print(f"(d) naive Python loop over prepared polygons: {naive_rate:,.0f} pts/s with a numpy box pre-check "
          f"({n_naive:,} points, agree {agree:.2%}); {all_rate:,.0f} pts/s testing every grid ({n_all} points)")

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "grids.pickle")
        with open(path, "wb") as f:
            pickle.dump(([g.code for g in grids], [g.parent_code for g in grids], [g.code[:9] for g in grids],
                         list(shapely.to_wkb(geoms))), f)
        out = subprocess.run([sys.executable, __file__, "--rss-child", path], capture_output=True, text=True,
                             check=True).stdout.split()
    base_rss, index_rss, index_peak = float(out[0]), float(out[1]), float(out[2])
    here_rss, here_peak = rss_mb()
    print(f"memory: a process holding only the index: RSS {index_rss:.0f} MB (peak {index_peak:.0f} MB; "
          f"{base_rss:.0f} MB of it is Python + numpy + shapely before loading); this bench process: "
          f"RSS {here_rss:.0f} MB, peak {here_peak:.0f} MB")

    print("\ntargets:")
    checks = [
        (f"locate_many >= 1,000,000 pts/s (median): {rate:,.0f}", rate >= 1_000_000),
        (f"locate p50 <= 30 µs: {p50:.1f} µs", p50 <= 30),
        (f"index build <= 2 s for {len(grids)} grids: {build_s:.2f} s", build_s <= 2),
        (f"RSS of an index-only process < 250 MB: {index_rss:.0f} MB", index_rss < 250),
    ]
    if pg is not None:
        ratio = rate / pg_rate
        checks.append((f"locate_many >= 10x PostGIS query: {ratio:.1f}x "
                       f"(vs PostGIS including load: {rate * total / len(lons):.0f}x)", ratio >= 10))
    print(f"  ratio vs naive loop with box pre-check: {rate / naive_rate:,.0f}x; vs naive testing every grid: "
          f"{rate / all_rate:,.0f}x")
    for text, ok in checks:
        print(f"  {verdict(ok)}  {text}")
    passed = all(ok for _, ok in checks)
    table_row(f"geofence: {len(grids):,} grids, {len(lons):,} points",
              figure=f"locate_many {rate:,.0f} points/s; locate p50 {p50:.1f} µs; build {build_s:.2f} s; "
                     f"index-only RSS {index_rss:.0f} MB",
              target="≥ 1 M points/s and ≥ 10× PostGIS; p50 ≤ 30 µs; build ≤ 2 s; RSS < 250 MB",
              baseline=(f"PostGIS ST_Covers + GiST {pg_rate:,.0f} points/s; " if pg is not None else "PostGIS n/a; ")
              + f"naive prepared loop {naive_rate:,.0f} points/s",
              ratio=(f"{rate / pg_rate:.1f}× PostGIS, " if pg is not None else "") + f"{rate / naive_rate:,.0f}× naive",
              verdict=passed)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
