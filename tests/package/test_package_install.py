"""Run by scripts/test_package.sh on a cluster whose server got hnsw_pg from a binary
package (install.sh) and nowhere else: the package's version is the one CREATE EXTENSION
installed, its library is the one loaded, and the index builds, finds every row by its
own vector, takes inserts, and checks clean."""

import os
import pathlib

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from server import reachable
from tables import copy_rows, create_and_load

ROWS, DIM = 2000, 24


def test_installed_package_works():
    rng = np.random.default_rng(20261203)
    vectors = rng.standard_normal((ROWS + 200, DIM)).astype(np.float32)
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        assert c.execute("SELECT extversion FROM pg_extension WHERE extname = 'hnsw_pg'").fetchone()[0] \
            == os.environ["HNSW_PG_PACKAGE_VERSION"]
        libdir = c.execute("SELECT setting FROM pg_config WHERE name = 'PKGLIBDIR'").fetchone()[0]
        assert pathlib.Path(libdir) == pathlib.Path(os.environ["HNSW_PG_PACKAGE_LIBDIR"])
        assert (pathlib.Path(libdir) / "hnsw_pg.so").is_file()

        create_and_load(c, "packaged", DIM, enumerate(vectors[:ROWS]))
        c.execute("CREATE INDEX packaged_embedding ON packaged USING hnsw (embedding vector_l2_ops)")
        copy_rows(c, "packaged", [(i, vectors[i]) for i in range(ROWS, len(vectors))])
        c.execute("SET hnsw.ef_search = 40")
        plan = " ".join(r[0] for r in c.execute(
            "EXPLAIN SELECT id FROM packaged ORDER BY embedding <-> %s LIMIT 1", (vectors[0],)).fetchall())
        assert "Index Scan using packaged_embedding" in plan
        for i in range(0, len(vectors), 7):
            found = c.execute("SELECT id FROM packaged ORDER BY embedding <-> %s LIMIT 1",
                              (vectors[i],), prepare=True).fetchone()[0]
            assert found == i
        assert reachable(c, "packaged", DIM, "embedding") == set(range(len(vectors)))
        assert c.execute("SELECT * FROM hnsw_pg_check('packaged_embedding')").fetchall() == []
