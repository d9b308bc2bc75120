"""pg_upgrade from PostgreSQL 15 to 18 (scripts/test_pg_upgrade.sh sets OLD_BIN and
NEW_BIN, with hnsw_pg installed in both): a 15 cluster with an index of every kind on
real data (GloVe rows: hnsw on vector under each distance, on halfvec, sparsevec and bit,
and ivfflat) is upgraded in place; on 18 every index answers exactly as it did on 15,
takes inserts, a DELETE and VACUUM, finds every row and passes hnsw_pg_check."""

import os
import pathlib
import shutil
import subprocess

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

import datasets
from tables import create_and_load

OLD_BIN = os.environ["OLD_BIN"]
NEW_BIN = os.environ["NEW_BIN"]
RUNAS = os.environ.get("RUNAS", "postgres")
ROOT = pathlib.Path("/tmp/hnsw_pg-pg-upgrade")
REPO = pathlib.Path(__file__).resolve().parents[2]
OLD_PORT, NEW_PORT = 55515, 55518

ROWS = 4000
# name: (column, index, operator, query cast)
INDEXES = {
    "vec_l2": ("embedding", "hnsw (embedding vector_l2_ops)", "<->", "vector"),
    "vec_ip": ("embedding", "hnsw (embedding vector_ip_ops)", "<#>", "vector"),
    "vec_cos": ("embedding", "hnsw (embedding vector_cosine_ops)", "<=>", "vector"),
    "vec_l1": ("embedding", "hnsw (embedding vector_l1_ops)", "<+>", "vector"),
    "vec_ivf": ("copy", "ivfflat (copy vector_l2_ops) WITH (lists = 20)", "<->", "vector"),
    "half_cos": ("half", "hnsw (half halfvec_cosine_ops)", "<=>", "halfvec"),
    "sparse_l2": ("sparse", "hnsw (sparse sparsevec_l2_ops)", "<->", "sparsevec"),
    "bits": ("bits", "hnsw (bits bit_hamming_ops)", "<~>", "bit"),
}


def as_user(*command, cwd=None):
    done = subprocess.run(["sudo", "-u", RUNAS, *command], cwd=cwd, text=True, capture_output=True)
    assert done.returncode == 0, f"{command[0]} failed:\n{done.stdout}\n{done.stderr}"


def start(bin_dir, data, port):
    as_user(f"{bin_dir}/pg_ctl", "-D", str(data), "-l", f"{data}.log", "-w", "start",
            "-o", f"-p {port} -k {ROOT} -c listen_addresses=127.0.0.1")


def stop(bin_dir, data):
    as_user(f"{bin_dir}/pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")


def connect(port):
    c = psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="items", autocommit=True)
    register_vector(c)
    return c


def answers(c, queries):
    """Every index's 10 nearest ids for each query, and the table's rows (a digest)."""
    c.execute("SET enable_seqscan = off")
    c.execute("SET ivfflat.probes = 5")
    out = {"rows": c.execute("SELECT md5(string_agg(id || embedding::text || copy::text || half::text || "
                             "sparse::text || bits::text, ',' ORDER BY id)) FROM items").fetchone()}
    for name, (column, _, op, cast) in INDEXES.items():
        sql = (f"SELECT id FROM items ORDER BY {column} {op} (%s::vector)::{cast} LIMIT 10"
               if cast != "bit" else
               f"SELECT id FROM items ORDER BY {column} {op} binary_quantize(%s::vector)::bit(50) LIMIT 10")
        plan = " ".join(r[0] for r in c.execute(f"EXPLAIN {sql}", (queries[0],)).fetchall())
        assert f"items_{name}" in plan, plan
        out[name] = [[r[0] for r in c.execute(sql, (q,)).fetchall()] for q in queries]
    return out


def test_pg_upgrade_15_to_18():
    base, queries = datasets.base("glove-6b-50-10k")[:ROWS], datasets.queries("glove-6b-50-10k")[:50]
    shutil.rmtree(ROOT, ignore_errors=True)
    ROOT.mkdir()
    shutil.chown(ROOT, RUNAS, RUNAS)
    old, new = ROOT / "old", ROOT / "new"
    as_user(f"{OLD_BIN}/initdb", "-D", str(old), "--auth=trust", "--encoding=UTF8", "--locale=C", "-U", "postgres")
    start(OLD_BIN, old, OLD_PORT)
    try:
        with psycopg.connect(host="127.0.0.1", port=OLD_PORT, user="postgres", dbname="postgres",
                             autocommit=True) as admin:
            admin.execute("CREATE DATABASE items")
            checksums = admin.execute("SHOW data_checksums").fetchone()[0]
            old_version = admin.execute("SHOW server_version_num").fetchone()[0]
        assert old_version.startswith("15")
        with psycopg.connect(host="127.0.0.1", port=OLD_PORT, user="postgres", dbname="items",
                             autocommit=True) as c:
            c.execute("CREATE EXTENSION hnsw_pg")
        with connect(OLD_PORT) as c:
            create_and_load(c, "items", base.shape[1], enumerate(base))
            # A copy of the vectors for ivfflat (the planner would pick one index of two on a column).
            c.execute("ALTER TABLE items ADD copy vector(50), ADD half halfvec(50), ADD sparse sparsevec(50), "
                      "ADD bits bit(50)")
            # Sparse rows: the coordinates above 0.3 kept.
            c.execute("UPDATE items SET copy = embedding, half = embedding::halfvec, bits = binary_quantize(embedding)::bit(50), "
                      "sparse = (SELECT array_agg(CASE WHEN x > 0.3 THEN x ELSE 0 END ORDER BY n) "
                      "FROM unnest(embedding::real[]) WITH ORDINALITY u(x, n))::vector::sparsevec")
            for name, (_, index, _, _) in INDEXES.items():
                c.execute(f"CREATE INDEX items_{name} ON items USING {index}")
            before = answers(c, queries)
        # Debian's 15.20 puts an attribute option on every column that later servers
        # reject (scripts/pg_upgrade_prepare.sql says more): removed in every database.
        prepare = (REPO / "scripts" / "pg_upgrade_prepare.sql").read_text()
        for database in ("postgres", "template1", "items"):
            with psycopg.connect(host="127.0.0.1", port=OLD_PORT, user="postgres", dbname=database,
                                 autocommit=True) as c:
                c.execute(prepare)
        stop(OLD_BIN, old)

        # The new cluster matches the old one: locale, encoding, owner and checksums (18's
        # initdb turns checksums on unless told otherwise).
        as_user(f"{NEW_BIN}/initdb", "-D", str(new), "--auth=trust", "--encoding=UTF8", "--locale=C",
                "-U", "postgres", "--data-checksums" if checksums == "on" else "--no-data-checksums")
        as_user(f"{NEW_BIN}/pg_upgrade", "-b", OLD_BIN, "-B", NEW_BIN, "-d", str(old), "-D", str(new),
                "-p", str(OLD_PORT), "-P", str(NEW_PORT), "-U", "postgres", "-s", str(ROOT), cwd=ROOT)
        start(NEW_BIN, new, NEW_PORT)
        try:
            with connect(NEW_PORT) as c:
                assert c.execute("SHOW server_version_num").fetchone()[0].startswith("18")
                assert answers(c, queries) == before
                for name in INDEXES:
                    if name != "vec_ivf":
                        assert c.execute(f"SELECT count(*) FROM hnsw_pg_check('items_{name}')").fetchone() == (0,)
                # Inserts (the queries as rows), a DELETE, VACUUM; then every row is found.
                c.execute("RESET ALL")
                with c.cursor() as cur:
                    cur.executemany("INSERT INTO items (id, embedding, copy, half, sparse, bits) VALUES "
                                    "(%s, %s, %s, %s::vector::halfvec, %s::vector::sparsevec, "
                                    "binary_quantize(%s::vector)::bit(50))",
                                    [(ROWS + i, q, q, q, q, q) for i, q in enumerate(queries)])
                c.execute("DELETE FROM items WHERE id % 9 = 0")
                c.execute("VACUUM items")
                expected = {r[0] for r in c.execute("SELECT id FROM items").fetchall()}
                c.execute("SET enable_seqscan = off")
                c.execute("SET hnsw.ef_search = 1000")
                c.execute("SET hnsw.max_scan_tuples = 1000000")
                for name in ("vec_l2", "vec_cos", "half_cos", "sparse_l2"):
                    column, _, op, cast = INDEXES[name]
                    found = {r[0] for r in c.execute(
                        f"SELECT id FROM items ORDER BY {column} {op} (%s::vector)::{cast} LIMIT 100000",
                        (np.ones(base.shape[1], np.float32),)).fetchall()}
                    assert found == expected, name
                    assert c.execute(f"SELECT count(*) FROM hnsw_pg_check('items_{name}')").fetchone() == (0,)
                nearest = c.execute("SELECT id FROM items ORDER BY embedding <-> %s LIMIT 1",
                                    (queries[1],)).fetchone()[0]
                assert nearest == ROWS + 1
        finally:
            stop(NEW_BIN, new)
    finally:
        for data, bin_dir in ((old, OLD_BIN), (new, NEW_BIN)):
            if (data / "postmaster.pid").exists():
                stop(bin_dir, data)
    shutil.rmtree(ROOT, ignore_errors=True)
