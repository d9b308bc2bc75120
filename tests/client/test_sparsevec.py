"""sparsevec through a real client: pgvector's SparseVector adapter in text and binary,
distances equal to numpy's on the dense vectors, SQLAlchemy's SPARSEVEC column, and the
four hnsw operator classes on real sparse vectors (TF-IDF weights of WordNet glosses)
against exact search."""

import os
import time

import datasets

import numpy as np
import psycopg
import pytest
from pgvector import SparseVector
from pgvector.psycopg import register_vector


@pytest.fixture
def conn():
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        yield c


def sparse_rows(n, dim, seed):
    rng = np.random.default_rng(seed)
    dense = rng.normal(size=(n, dim)).astype(np.float32)
    dense[rng.random((n, dim)) < 0.8] = 0
    return dense


def test_round_trip_and_distances(conn):
    dense = sparse_rows(40, 300, 3)
    query = sparse_rows(1, 300, 4)[0]
    conn.execute("DROP TABLE IF EXISTS sp_round")
    conn.execute("CREATE TABLE sp_round (id int, v sparsevec(300))")
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO sp_round VALUES (%s, %s)",
                        [(i, SparseVector(v)) for i, v in enumerate(dense)])
    for binary in (False, True):
        with conn.cursor(binary=binary) as cur:
            rows = cur.execute("SELECT v FROM sp_round ORDER BY id").fetchall()
        got = np.array([r[0].to_numpy() for r in rows])
        assert np.array_equal(got, dense), f"binary={binary}"
    rows = conn.execute("SELECT v <-> %s, v <#> %s, v <=> %s, v <+> %s FROM sp_round ORDER BY id",
                        (SparseVector(query),) * 4).fetchall()
    x, y = dense.astype(np.float64), query.astype(np.float64)
    expected = np.stack([np.linalg.norm(x - y, axis=1), -(x @ y),
                         1 - (x @ y) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y)),
                         np.abs(x - y).sum(axis=1)], axis=1)
    assert np.allclose(np.array(rows), expected, rtol=1e-5, atol=1e-5)
    # a large dimension count with few non-zeros
    big = SparseVector({0: 1.0, 999_999_999: -2.5}, 1_000_000_000)
    back = conn.execute("SELECT %s::sparsevec", (big,)).fetchone()[0]
    assert back.indices() == [0, 999_999_999] and back.values() == [1.0, -2.5]


def test_sqlalchemy_sparsevec_column():
    from pgvector.sqlalchemy import SPARSEVEC
    from sqlalchemy import Integer, create_engine, select
    from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

    class Base(DeclarativeBase):
        pass

    class Doc(Base):
        __tablename__ = "orm_sparse"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        terms = mapped_column(SPARSEVEC(50))

    dense = sparse_rows(30, 50, 5)
    query = sparse_rows(1, 50, 6)[0]
    engine = create_engine(
        f"postgresql+psycopg://{os.environ.get('PGUSER', 'postgres')}@"
        f"{os.environ.get('PGHOST', '127.0.0.1')}:{os.environ['PGPORT']}/{os.environ['PGDATABASE']}")
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all([Doc(id=i + 1, terms=SparseVector(v)) for i, v in enumerate(dense)])
        session.commit()
        found = session.scalars(select(Doc.id).order_by(Doc.terms.max_inner_product(SparseVector(query))).limit(5)).all()
        assert list(found) == [int(i) + 1 for i in np.argsort(-(dense @ query), kind="stable")[:5]]
        first = session.get(Doc, 1)
        assert np.array_equal(first.terms.to_numpy(), dense[0])
    Base.metadata.drop_all(engine)
    engine.dispose()


# Most pairs of glosses share no word, so inner product and cosine meet wide plateaus of
# equal distances (0 and 1), where a beam search loses its way more often than under L2
# (whose distances still fall towards short glosses): the floors are what this data
# allows at ef_search = 100 (measured: l2 0.96, ip 0.83, cosine 0.70, l1 0.82), less a
# margin.
@pytest.mark.parametrize("opclass, op, floor", [("l2", "<->", 0.9), ("ip", "<#>", 0.75),
                                                ("cosine", "<=>", 0.6), ("l1", "<+>", 0.75)])
def test_sparsevec_index_recall_on_gloss_term_weights(conn, opclass, op, floor):
    name = "wordnet-tfidf-10k"
    base, queries = datasets.sparse_lines(name, "base"), datasets.sparse_lines(name, "query")
    dim = int(base[0].rsplit("/", 1)[1])
    conn.execute("DROP TABLE IF EXISTS sp_glosses")
    conn.execute(f"CREATE TABLE sp_glosses (id int, v sparsevec({dim}))")
    with conn.cursor() as cur:
        with cur.copy("COPY sp_glosses (id, v) FROM STDIN") as copy:
            for i, line in enumerate(base):
                copy.write_row((i, line))
    queries = queries[:200]
    # Exact: a sequential scan ranks by the operator itself.
    exact_sql = (f"SELECT id, v {op} %s::sparsevec FROM sp_glosses "
                 f"ORDER BY v {op} %s::sparsevec, id LIMIT 10")
    conn.execute("SET enable_indexscan = off")
    exact = [conn.execute(exact_sql, (q, q)).fetchall() for q in queries]
    conn.execute("RESET enable_indexscan")
    started = time.perf_counter()
    conn.execute(f"CREATE INDEX sp_glosses_idx ON sp_glosses USING hnsw (v sparsevec_{opclass}_ops)")
    build = time.perf_counter() - started
    size = conn.execute("SELECT pg_relation_size('sp_glosses_idx')").fetchone()[0]
    conn.execute("SET hnsw.ef_search = 100")
    sql = f"SELECT id, v {op} %s::sparsevec FROM sp_glosses ORDER BY v {op} %s::sparsevec LIMIT 10"
    plan = " ".join(r[0] for r in conn.execute("EXPLAIN " + sql, (queries[0], queries[0])))
    assert "sp_glosses_idx" in plan, plan
    hits = 0
    started = time.perf_counter()
    for q, truth in zip(queries, exact):
        found = conn.execute(sql, (q, q), prepare=True).fetchall()
        assert len(found) == 10
        # Ties at the tenth distance count as hits (duplicate glosses are common).
        tenth = truth[-1][1]
        hits += sum(1 for _, d in found if d <= tenth + 1e-9)
    qps = len(queries) / (time.perf_counter() - started)
    recall = hits / (10 * len(queries))
    print(f"sparsevec_{opclass}_ops: build {build:.2f} s, {size / 2**20:.1f} MiB, "
          f"recall@10 {recall:.4f}, {qps:.0f} queries/s")
    assert recall >= floor, recall
    # Every row is reachable through the index, without a VACUUM: inserts too.
    conn.execute("INSERT INTO sp_glosses SELECT id + 100000, v FROM sp_glosses WHERE id < 500")
    conn.execute("SET hnsw.max_scan_tuples = 1000000")
    total = conn.execute(f"SELECT count(*) FROM (SELECT id FROM sp_glosses ORDER BY v {op} %s::sparsevec "
                         "LIMIT 20000) x", (queries[0],)).fetchone()[0]
    rows = conn.execute("SELECT count(*) FROM sp_glosses").fetchone()[0]
    indexed = rows if opclass != "cosine" else conn.execute(
        "SELECT count(*) FROM sp_glosses WHERE l2_norm(v) > 0").fetchone()[0]
    assert total == indexed
    assert conn.execute("SELECT count(*) FROM hnsw_pg_check('sp_glosses_idx')").fetchone()[0] == 0
    conn.execute("DROP TABLE sp_glosses")
