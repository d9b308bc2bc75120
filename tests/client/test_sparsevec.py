"""sparsevec through a real client: pgvector's SparseVector adapter in text and binary,
distances equal to numpy's on the dense vectors, and SQLAlchemy's SPARSEVEC column."""

import os

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
