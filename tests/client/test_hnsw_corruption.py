"""A corrupted index page is an ERROR or a reported problem, never a crash: a neighbour id
pointing nowhere (hnsw_pg_check reports it; scans fail cleanly), an index of the previous
format version (ERROR 0A000 that says to REINDEX, and REINDEX mends it), a damaged m and a
wrong magic number on the meta page (ERRORs with SQLSTATE XX002). An index of format
version 2 (before the element type) is read as float32; a halfvec index whose meta page
says float32 is an ERROR (XX002) that says to REINDEX."""

import os
import pathlib
import struct

import numpy as np
import psycopg
import pytest
from pgvector.psycopg import register_vector

from server import pg_ctl

# It stops, crashes and restarts its server: a cluster of its own (conftest.py).
CLUSTER_PORT = 55442
pytestmark = pytest.mark.usefixtures("restartable_cluster")

PAGE = 8192


def restart(edit):
    """Stops the server, lets `edit` change the data directory's files, starts it again."""
    cluster = os.environ["HNSW_PG_CLUSTER_DIR"]
    pg_ctl("-m", "fast", "stop")
    edit(pathlib.Path(cluster) / "data")
    pg_ctl("-l", f"{cluster}/server.log", "start",
           "-o", f"-p {os.environ['PGPORT']} -k {cluster} -c listen_addresses=127.0.0.1")


def patch(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def test_corrupted_pages_give_errors_or_reports():
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        c.execute("DROP TABLE IF EXISTS broken")
        c.execute("CREATE TABLE broken (id int, v vector(4))")
        c.execute("INSERT INTO broken SELECT i, ARRAY[i % 11, i % 13, i % 17, i % 19] FROM generate_series(1, 500) i")
        c.execute("CREATE INDEX broken_v ON broken USING hnsw (v)")
        assert c.execute("SELECT count(*) FROM hnsw_pg_check('broken_v')").fetchone()[0] == 0
        c.execute("CHECKPOINT")
        file = c.execute("SELECT pg_relation_filepath('broken_v')").fetchone()[0]

    # Node 0's first layer-0 neighbour (block 1, record at byte 24, list at +52) -> nowhere.
    restart(lambda data: patch(data / file, PAGE + 24 + 52, struct.pack("<I", 0x7FFFFFF0)))
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        problems = [r[0] for r in c.execute("SELECT * FROM hnsw_pg_check('broken_v')").fetchall()]
        assert any("2147483632" in p and "not a graph node" in p for p in problems), problems
        c.execute("SET enable_seqscan = off")
        c.execute("SET hnsw.ef_search = 1000")
        try:
            c.execute("SELECT id FROM broken ORDER BY v <-> '[0,0,0,0]' LIMIT 500").fetchall()
        except psycopg.Error:
            pass  # reading the missing node is an ERROR; the point is that nothing crashed
        assert c.execute("SELECT 1").fetchone()[0] == 1

    # An index of the previous format version (the meta page's version field, at +4): the
    # ERROR names REINDEX, and REINDEX mends it.
    restart(lambda data: patch(data / file, 24 + 4, struct.pack("<I", 1)))
    with psycopg.connect(autocommit=True) as c:
        c.execute("SET enable_seqscan = off")
        for statement in ("SELECT id FROM broken ORDER BY v <-> '[0,0,0,0]' LIMIT 5",
                          "INSERT INTO broken VALUES (501, '[1,2,3,4]')",
                          "SELECT * FROM hnsw_pg_check('broken_v')"):
            with pytest.raises(psycopg.errors.FeatureNotSupported, match="version 1.*REINDEX"):
                c.execute(statement).fetchall()
        c.execute("REINDEX INDEX broken_v")
        assert c.execute("SELECT count(*) FROM hnsw_pg_check('broken_v')").fetchone()[0] == 0
        assert c.execute("SELECT id FROM broken ORDER BY v <-> '[1,1,1,1]' LIMIT 1").fetchone() == (1,)
        c.execute("CHECKPOINT")
        file = c.execute("SELECT pg_relation_filepath('broken_v')").fetchone()[0]

    # A damaged m (at +12): an ERROR (XX002), not a crash.
    restart(lambda data: patch(data / file, 24 + 12, struct.pack("<H", 500)))
    with psycopg.connect(autocommit=True) as c:
        c.execute("SET enable_seqscan = off")
        with pytest.raises(psycopg.errors.IndexCorrupted, match="out of range"):
            c.execute("SELECT id FROM broken ORDER BY v <-> '[0,0,0,0]' LIMIT 5").fetchall()
        with pytest.raises(psycopg.errors.IndexCorrupted, match="out of range"):
            c.execute("SELECT * FROM hnsw_pg_check('broken_v')").fetchall()

    # The meta page's magic number.
    restart(lambda data: patch(data / file, 24, b"XXXX"))
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        with pytest.raises(psycopg.errors.IndexCorrupted, match="not an hnsw_pg index"):
            c.execute("SELECT * FROM hnsw_pg_check('broken_v')").fetchall()
        c.execute("SET enable_seqscan = off")
        with pytest.raises(psycopg.errors.IndexCorrupted):
            c.execute("SELECT id FROM broken ORDER BY v <-> '[0,0,0,0]' LIMIT 5").fetchall()
        with pytest.raises(psycopg.errors.IndexCorrupted):
            c.execute("INSERT INTO broken VALUES (501, '[1,2,3,4]')")
        c.execute("DROP INDEX broken_v")
        assert c.execute("SELECT count(*) FROM broken").fetchone()[0] == 500
    log = (pathlib.Path(os.environ["HNSW_PG_CLUSTER_DIR"]) / "server.log").read_text()
    assert "terminated by signal" not in log, "a backend crashed"


def test_previous_format_reads_and_a_wrong_element_type_is_an_error():
    with psycopg.connect(autocommit=True) as c:
        c.execute("DROP TABLE IF EXISTS formats")
        c.execute("CREATE TABLE formats (id int, v vector(4), h halfvec(4))")
        c.execute("INSERT INTO formats SELECT i, ARRAY[i % 11, i % 13, i % 17, 1], "
                  "ARRAY[i % 5, i % 7, i % 3, 1] FROM generate_series(1, 400) i")
        c.execute("CREATE INDEX formats_v ON formats USING hnsw (v)")
        c.execute("CREATE INDEX formats_h ON formats USING hnsw (h halfvec_l2_ops)")
        c.execute("CHECKPOINT")
        files = [c.execute("SELECT pg_relation_filepath(%s)", (i,)).fetchone()[0]
                 for i in ("formats_v", "formats_h")]

    def edit(data):
        # formats_v as format version 2 (no element type: its zero byte is float32's;
        # 4-d vectors of 16 bytes divide a page, so packed (version 5) and whole-vector
        # (version 2 to 4) layouts place them alike: crates/hnsw_core/tests/format4.rs
        # reads an index the format-4 build wrote);
        # formats_h's element type byte (+17) turned to float32.
        patch(data / files[0], 24 + 4, struct.pack("<I", 2))
        patch(data / files[1], 24 + 17, b"\x00")

    restart(edit)
    with psycopg.connect(autocommit=True) as c:
        c.execute("SET enable_seqscan = off")
        assert c.execute("SELECT id FROM formats ORDER BY v <-> '[1,1,1,1]' LIMIT 1").fetchone() == (1,)
        for statement in ("SELECT id FROM formats ORDER BY h <-> '[1,1,1,1]' LIMIT 1",
                          "INSERT INTO formats VALUES (401, '[1,1,1,1]', '[1,1,1,1]')",
                          "SELECT * FROM hnsw_pg_check('formats_h')"):
            with pytest.raises(psycopg.errors.IndexCorrupted, match="halfvec.*REINDEX"):
                c.execute(statement)
        c.execute("REINDEX INDEX formats_h")
        # the version-2 index takes inserts (and is rewritten as version 4)
        c.execute("INSERT INTO formats VALUES (401, '[1,1,1,1]', '[1,1,1,1]')")
        assert c.execute("SELECT count(*) FROM hnsw_pg_check('formats_v')").fetchone()[0] == 0
        assert c.execute("SELECT count(*) FROM (SELECT id FROM formats ORDER BY h <-> '[1,1,1,1]' LIMIT 500) s").fetchone()[0] == 401
        c.execute("DROP TABLE formats")
