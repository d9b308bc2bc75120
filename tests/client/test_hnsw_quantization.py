"""`quantization = 'sq8'` and `'pq'`: indexes whose scans search on codes (8-bit scalar, or
product quantization's 4-bit numbers of trained centroids) and re-rank on the vectors, and
compact ones (`compact = true`: codes, no vectors) whose scans return lower bounds the
executor re-ranks on the table's vectors, with no "index returned tuples in wrong order". On
real data, recall@10 at ef_search 40 stays at least 0.95 and every query's rows come in
exact distance order (also past the first beam); the codes follow inserts (into an index
built on an empty table, for SQ8, which trains nothing), VACUUM and slot reuse
(hnsw_pg_check compares each code with its vector); product quantization on too few rows
is built pending and trains once inserts bring it rows; bad values and types that take no codes are clear
errors."""

from concurrent.futures import ThreadPoolExecutor

import datasets
import numpy as np
import psycopg
import pytest
from pgvector.psycopg import register_vector
from tables import copy_rows, create_and_load, format_version

SQ8 = "WITH (quantization = 'sq8')"
PQ = "WITH (quantization = 'pq')"
COMPACT = "WITH (quantization = 'pq', compact = true)"
KINDS = pytest.mark.parametrize("codes", [SQ8, PQ, COMPACT], ids=["sq8", "pq", "compact"])


@pytest.fixture
def conn():
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        yield c


def distances(c, table, op, q, limit):
    """The index's rows for `q`, with their distances as SQL computes them."""
    return c.execute(
        f"SELECT id, embedding {op} %s FROM {table} ORDER BY embedding {op} %s LIMIT {limit}",
        (q, q),
        prepare=True,
    ).fetchall()


@KINDS
@pytest.mark.parametrize(
    "name, opclass, op",
    [
        ("wordnet-minilm-384-10k", "vector_cosine_ops", "<=>"),
        ("wordnet-minilm-384-10k", "halfvec_cosine_ops", "<=>"),
        ("fashion-mnist-784-10k", "vector_l2_ops", "<->"),
        ("fashion-mnist-784-10k", "vector_ip_ops", "<#>"),
    ],
)
def test_recall_and_exact_order_on_real_data(conn, name, opclass, op, codes):
    base, queries, truth = datasets.base(name), datasets.queries(name), datasets.truth(name)
    create_and_load(conn, "sq8_recall", base.shape[1], enumerate(base))
    column = "embedding::halfvec(384)" if opclass.startswith("halfvec") else "embedding"
    conn.execute(f"CREATE INDEX sq8_recall_idx ON sq8_recall USING hnsw (({column}) {opclass}) {codes}")
    if column != "embedding":
        op = f"::halfvec(384) {op}"
    conn.execute("SET hnsw.ef_search = 40")
    plan = " ".join(r[0] for r in conn.execute(
        f"EXPLAIN SELECT id FROM sq8_recall ORDER BY embedding {op} %s LIMIT 10", (queries[0],)).fetchall())
    assert "Index Scan using sq8_recall_idx" in plan
    hits = 0
    for i, (q, expected) in enumerate(zip(queries, truth)):
        # Every tenth query runs past the first beam of 40 (a resumed scan) in strict
        # order; a relaxed-order scan's later beams may hold nearer rows, as without codes.
        resumed = i % 10 == 0
        if resumed:
            conn.execute("SET hnsw.iterative_scan = strict_order")
        rows = distances(conn, "sq8_recall", op, q, 100 if resumed else 10)
        if resumed:
            conn.execute("RESET hnsw.iterative_scan")
            assert len(rows) >= 60, f"query {i}: {len(rows)} rows"
        got = [d for _, d in rows]
        assert got == sorted(got), f"query {i}: rows out of order"
        if op != "<#>":
            hits += len({r[0] for r in rows[:10]} & set(expected[:10].tolist()))
    if op != "<#>":  # the sets' ground truth is for their own metric
        recall = hits / (10 * len(queries))
        print(f"{name} {opclass} {codes}: recall@10 {recall:.4f}")
        assert recall >= 0.95
    assert conn.execute("SELECT count(*) FROM hnsw_pg_check('sq8_recall_idx')").fetchone()[0] == 0


@KINDS
def test_codes_follow_inserts_vacuum_and_slot_reuse(conn, codes):
    """Built on an empty table (as migrations do; product quantization on its first 500
    rows, to train on), filled by inserts, then a quarter deleted, vacuumed and refilled:
    the check is clean after each step, each new row is its own nearest neighbour, and no
    deleted row comes back."""
    base = datasets.base("wordnet-minilm-384-10k")
    first, second = base[:3000], base[3000:4000]
    built_on = 0 if codes == SQ8 else 500
    create_and_load(conn, "sq8_reuse", 384, list(enumerate(first[:built_on])))
    conn.execute(f"CREATE INDEX sq8_reuse_idx ON sq8_reuse USING hnsw (embedding vector_cosine_ops) {codes}")
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO sq8_reuse VALUES (%s, %s)", list(enumerate(first))[built_on:])
    check = "SELECT * FROM hnsw_pg_check('sq8_reuse_idx')"
    assert conn.execute(check).fetchall() == []
    conn.execute("DELETE FROM sq8_reuse WHERE id % 4 = 0")
    # In an index grown by inserts, one VACUUM leaves many deleted nodes in the tree (their
    # children find no new parent that pass) and frees them the next time.
    conn.execute("VACUUM sq8_reuse")
    conn.execute("VACUUM sq8_reuse")
    size = conn.execute("SELECT pg_relation_size('sq8_reuse_idx')").fetchone()[0]
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO sq8_reuse VALUES (%s, %s)",
                        [(10_000 + i, v) for i, v in enumerate(second[:700])])
    assert conn.execute("SELECT pg_relation_size('sq8_reuse_idx')").fetchone()[0] == size
    assert conn.execute(check).fetchall() == []
    hits = 0
    for i, v in enumerate(second[:700]):
        rows = distances(conn, "sq8_reuse", "<=>", v, 20)
        hits += rows[0][0] == 10_000 + i or rows[0][1] == 0
        assert all(r[0] % 4 != 0 for r in rows if r[0] < 10_000)
        assert [r[1] for r in rows] == sorted(r[1] for r in rows)
    assert hits >= 0.99 * 700


@KINDS
def test_non_negative_data_under_inner_product_and_duplicates(conn, codes):
    rng = np.random.default_rng(3)
    rows = rng.random((1500, 64), dtype=np.float32)
    rows[1::2] = rows[0::2]  # every other row an exact copy of the one before
    create_and_load(conn, "sq8_ip", 64, enumerate(rows))
    conn.execute(f"CREATE INDEX ON sq8_ip USING hnsw (embedding vector_ip_ops) {codes}")
    conn.execute("SET enable_seqscan = off")
    for q in rng.random((20, 64), dtype=np.float32):
        got = distances(conn, "sq8_ip", "<#>", q, 10)
        exact = sorted(float(-np.dot(r, q)) for r in rows)[:10]
        assert len(got) == 10
        assert [d for _, d in got] == sorted(d for _, d in got)
        # Both rows of the nearest pair come back.
        assert np.isclose(got[0][1], exact[0], rtol=1e-5) and np.isclose(got[1][1], exact[1], rtol=1e-5)


@KINDS
def test_halfvec_and_16000_dimensions(conn, codes):
    rng = np.random.default_rng(4)
    n = 300  # product quantization trains on at least 256 rows
    conn.execute("DROP TABLE IF EXISTS sq8_half")
    conn.execute("CREATE TABLE sq8_half (id int, embedding halfvec(16000))")
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO sq8_half VALUES (%s, %s::halfvec)",
                        [(i, rng.standard_normal(16000).astype(np.float32).tolist()) for i in range(n)])
    conn.execute(f"CREATE INDEX sq8_half_idx ON sq8_half USING hnsw (embedding halfvec_l2_ops) {codes}")
    conn.execute("SET enable_seqscan = off")
    conn.execute("SET hnsw.ef_search = 100")
    target = conn.execute("SELECT embedding FROM sq8_half WHERE id = 17").fetchone()[0]
    rows = conn.execute("SELECT id, embedding <-> %s FROM sq8_half ORDER BY embedding <-> %s LIMIT 60",
                        (target, target)).fetchall()
    assert rows[0] == (17, 0.0)
    assert len(rows) == 60 and [d for _, d in rows] == sorted(d for _, d in rows)
    assert conn.execute("SELECT count(*) FROM hnsw_pg_check('sq8_half_idx')").fetchone()[0] == 0


def test_bad_values_and_types_without_codes(conn):
    conn.execute("DROP TABLE IF EXISTS sq8_bad")
    conn.execute("CREATE TABLE sq8_bad (v vector(3), b bit(8), s sparsevec(5))")
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="quantization"):
        conn.execute("CREATE INDEX ON sq8_bad USING hnsw (v vector_l2_ops) WITH (quantization = 'pq8')")
    for bad in ("-1", "16001"):
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="pq_subvectors"):
            conn.execute(f"CREATE INDEX ON sq8_bad USING hnsw (v vector_l2_ops) "
                         f"WITH (quantization = 'pq', pq_subvectors = {bad})")
    # Bits and sparse vectors keep no codes: the option is left out with a NOTICE (an
    # ERROR would make a stored option fail every later REINDEX, TRUNCATE and restore).
    notices = []
    conn.add_notice_handler(lambda d: notices.append(d.message_primary))
    conn.execute("INSERT INTO sq8_bad (b, s) VALUES ('10101010', '{1:1,3:2}/5')")
    for name, column in (("sq8_bad_b", "b bit_hamming_ops"), ("sq8_bad_s", "s sparsevec_l2_ops")):
        conn.execute(f"CREATE INDEX {name} ON sq8_bad USING hnsw ({column}) {SQ8}")
        assert any("vector and halfvec columns only" in n for n in notices), notices
        notices.clear()
        conn.execute(f"REINDEX INDEX {name}")
        assert conn.execute(f"SELECT count(*) FROM hnsw_pg_check('{name}')").fetchone()[0] == 0
    conn.execute("TRUNCATE sq8_bad")
    conn.execute("DROP INDEX sq8_bad_b, sq8_bad_s")
    conn.execute("INSERT INTO sq8_bad (v) SELECT ARRAY[i, i % 7, i % 13]::vector FROM generate_series(1, 3000) i")
    conn.execute("CREATE INDEX sq8_bad_v ON sq8_bad USING hnsw (v vector_l2_ops) WITH (quantization = 'none')")
    assert conn.execute("SELECT reloptions FROM pg_class WHERE relname = 'sq8_bad_v'").fetchone()[0] == \
        ["quantization=none"]
    # Changing the option changes nothing until REINDEX, which writes the codes.
    size = "SELECT pg_relation_size('sq8_bad_v')"
    plain = conn.execute(size).fetchone()[0]
    conn.execute("ALTER INDEX sq8_bad_v SET (quantization = 'sq8')")
    conn.execute("INSERT INTO sq8_bad (v) VALUES ('[1,2,3]')")
    assert conn.execute(size).fetchone()[0] == plain
    conn.execute("REINDEX INDEX sq8_bad_v")
    assert conn.execute(size).fetchone()[0] > plain
    assert conn.execute("SELECT count(*) FROM hnsw_pg_check('sq8_bad_v')").fetchone()[0] == 0
    conn.execute("SET enable_seqscan = off")
    assert conn.execute("SELECT v::text FROM sq8_bad ORDER BY v <-> '[1,2,3]' LIMIT 1").fetchone()[0] == "[1,2,3]"


def test_product_quantization_trains_once_inserts_bring_rows(conn):
    """On an empty table a 'pq' index is built pending (format 8, a NOTICE says so) and
    answers exactly from its vectors; the insert that brings it 4,096 rows (here inside two
    concurrent COPYs) trains its codebook and encodes every node (format 7, and
    hnsw_pg_check finds each code the code of its vector). A compact index on too few rows
    keeps its vectors, with a WARNING. pq_subvectors above the dimensions is lowered to
    them, with a NOTICE."""
    notices = []
    conn.add_notice_handler(lambda d: notices.append((d.severity_nonlocalized, d.message_primary)))
    base = datasets.base("wordnet-minilm-384-10k")[:5000]
    create_and_load(conn, "pq_train", 384, [])
    conn.execute(f"CREATE INDEX pq_train_idx ON pq_train USING hnsw (embedding vector_cosine_ops) {PQ}")
    assert ("NOTICE", "quantization = 'pq' needs at least 256 rows to train on: the index searches "
            "its vectors until inserts bring it 4096 rows, then trains its codes") in notices, notices
    assert format_version(conn, "pq_train_idx") == 8
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO pq_train VALUES (%s, %s)", list(enumerate(base[:1000])))
    assert format_version(conn, "pq_train_idx") == 8
    assert conn.execute("SELECT count(*) FROM hnsw_pg_check('pq_train_idx')").fetchone()[0] == 0
    conn.execute("SET enable_seqscan = off")
    assert distances(conn, "pq_train", "<=>", base[5], 1)[0][0] == 5

    def load(lo, hi):
        with psycopg.connect(autocommit=True) as c:
            register_vector(c)
            copy_rows(c, "pq_train", ((i, base[i]) for i in range(lo, hi)))

    with ThreadPoolExecutor(2) as pool:
        for done in [pool.submit(load, 1000, 3000), pool.submit(load, 3000, 5000)]:
            done.result()
    assert format_version(conn, "pq_train_idx") == 7
    assert conn.execute("SELECT count(*) FROM hnsw_pg_check('pq_train_idx')").fetchone()[0] == 0
    for i in (5, 2500, 4999):
        rows = distances(conn, "pq_train", "<=>", base[i], 10)
        assert rows[0][0] == i and [d for _, d in rows] == sorted(d for _, d in rows)
    conn.execute("INSERT INTO pq_train VALUES (5000, %s)", (base[0] * 2,))
    assert conn.execute("SELECT count(*) FROM hnsw_pg_check('pq_train_idx')").fetchone()[0] == 0

    notices.clear()
    create_and_load(conn, "pq_small", 384, enumerate(base[:100]))
    conn.execute(f"CREATE INDEX pq_small_idx ON pq_small USING hnsw (embedding vector_l2_ops) {COMPACT}")
    assert [severity for severity, m in notices if "needs at least 256 rows" in m] == ["WARNING"]
    assert format_version(conn, "pq_small_idx") == 8
    assert distances(conn, "pq_small", "<->", base[7], 1)[0][0] == 7
    # Pending, it is the index `pq` alone builds (a compact one's subvectors are smaller).
    size = "SELECT pg_relation_size('pq_small_idx')"
    pending_compact = conn.execute(size).fetchone()[0]
    conn.execute("DROP INDEX pq_small_idx")
    conn.execute(f"CREATE INDEX pq_small_idx ON pq_small USING hnsw (embedding vector_l2_ops) {PQ}")
    assert conn.execute(size).fetchone()[0] == pending_compact
    notices.clear()
    conn.execute("DROP INDEX pq_train_idx")
    conn.execute("CREATE INDEX pq_train_idx ON pq_train USING hnsw (embedding vector_l2_ops) "
                 "WITH (quantization = 'pq', pq_subvectors = 1000)")
    assert ("NOTICE", "pq_subvectors = 1000 is lowered to the 384 dimensions") in notices, notices
    assert format_version(conn, "pq_train_idx") == 7
    assert conn.execute("SELECT count(*) FROM hnsw_pg_check('pq_train_idx')").fetchone()[0] == 0


def test_a_statement_timeout_shorter_than_the_training_does_not_keep_it_pending(conn):
    """The insert that trains a pending index holds off a cancel until the training is done
    (about 0.2 s at 784 dimensions): its statement may still be cancelled, but the index is
    trained, and the inserts after it are not cancelled by a training each one restarts."""
    base = datasets.base("fashion-mnist-784-10k")[:4500]
    create_and_load(conn, "pq_timeout", 784, [])
    conn.execute(f"CREATE INDEX pq_timeout_idx ON pq_timeout USING hnsw (embedding vector_l2_ops) {PQ}")
    copy_rows(conn, "pq_timeout", enumerate(base[:4000]))
    assert format_version(conn, "pq_timeout_idx") == 8
    conn.execute("SET statement_timeout = '40ms'")
    cancelled = []
    for i in range(4000, 4500):
        try:
            conn.execute("INSERT INTO pq_timeout VALUES (%s, %s)", (i, base[i]))
        except psycopg.errors.QueryCanceled:
            cancelled.append(i)
    conn.execute("RESET statement_timeout")
    assert format_version(conn, "pq_timeout_idx") == 7
    assert len(cancelled) <= 5, cancelled  # the training insert's, if any
    assert conn.execute("SELECT count(*) FROM hnsw_pg_check('pq_timeout_idx')").fetchone()[0] == 0
    conn.execute("SET enable_seqscan = off")
    for i in (123, 3999):
        rows = distances(conn, "pq_timeout", "<->", base[i], 10)
        assert rows[0][0] == i and [d for _, d in rows] == sorted(d for _, d in rows)


@pytest.mark.parametrize("opclass, op", [("vector_l2_ops", "<->"), ("vector_ip_ops", "<#>"),
                                         ("vector_cosine_ops", "<=>"), ("vector_l1_ops", "<+>")])
def test_a_compact_index_is_a_quarter_of_the_size_and_exact(conn, opclass, op):
    """Fashion-MNIST 10k: a compact index is at most a quarter of the size of the same
    index with its vectors, and its rows are the exact nearest, in exact order."""
    name = "fashion-mnist-784-10k"
    base, queries = datasets.base(name), datasets.queries(name)[:100]
    create_and_load(conn, "compact", base.shape[1], enumerate(base))
    size = "SELECT pg_relation_size('compact_idx')"
    conn.execute(f"CREATE INDEX compact_idx ON compact USING hnsw (embedding {opclass})")
    full = conn.execute(size).fetchone()[0]
    conn.execute("DROP INDEX compact_idx")
    conn.execute(f"CREATE INDEX compact_idx ON compact USING hnsw (embedding {opclass}) {COMPACT}")
    assert conn.execute(size).fetchone()[0] <= full / 4
    conn.execute("SET enable_seqscan = off")
    hits = 0
    for q in queries:
        rows = distances(conn, "compact", op, q, 10)
        got = [d for _, d in rows]
        assert len(rows) == 10 and got == sorted(got)
        conn.execute("SET enable_indexscan = off")
        exact = distances(conn, "compact", op, q, 10)
        conn.execute("RESET enable_indexscan")
        hits += sum(np.isclose(a, b, rtol=1e-6) for a, b in zip(got, [d for _, d in exact]))
    assert hits / (10 * len(queries)) >= 0.95
    assert conn.execute("SELECT count(*) FROM hnsw_pg_check('compact_idx')").fetchone()[0] == 0


@pytest.mark.parametrize("codes", [SQ8, PQ], ids=["sq8", "pq"])
def test_rerank_sets_the_candidates_re_ranked_beyond_the_beam(conn, codes):
    name = "fashion-mnist-784-10k"
    base, queries, truth = datasets.base(name), datasets.queries(name)[:100], datasets.truth(name)[:100]
    create_and_load(conn, "rerank_t", base.shape[1], enumerate(base))
    conn.execute(f"CREATE INDEX rerank_idx ON rerank_t USING hnsw (embedding vector_l2_ops) {codes}")
    conn.execute("SET hnsw.ef_search = 10")

    def recall(rerank):
        conn.execute(f"SET hnsw.rerank = {rerank}")
        hits = 0
        for i, (q, expected) in enumerate(zip(queries, truth)):
            rows = distances(conn, "rerank_t", "<->", q, 10)
            got = [d for _, d in rows]
            assert got == sorted(got), f"rerank {rerank}, query {i}: rows out of order"
            hits += len({r[0] for r in rows} & set(expected[:10].tolist()))
        return hits / (10 * len(queries))

    none, some, default = recall(0), recall(200), recall(-1)
    print(f"{codes} ef_search 10: recall@10 {none:.3f} re-ranking none beyond the beam, "
          f"{some:.3f} with 200, {default:.3f} by default")
    # SQ8's estimates are near enough that the beam already holds what re-ranking finds.
    assert some > none if codes == PQ else some >= none
    assert default == (none if codes == SQ8 else recall(10))
    for bad in ("-2", "100001"):
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="hnsw.rerank"):
            conn.execute(f"SET hnsw.rerank = {bad}")
    conn.execute("RESET hnsw.rerank")
