"""pgvector applications' other client stacks against hnsw_pg: psycopg 2, asyncpg and
SQLAlchemy 2 with the `pgvector` package's adapters and column types (Vector, HALFVEC,
BIT). Each creates its table, builds an hnsw (or ivfflat) index, round-trips rows (text
and, where the driver has it, binary) and checks the nearest neighbours against numpy's
exact answer.

Runs against the database named by PGHOST/PGPORT/PGDATABASE with the extension created
(see scripts/with_cluster.sh)."""

import asyncio
import os

import numpy as np
import pytest

ROWS = np.random.default_rng(11).standard_normal((600, 16)).astype(np.float32)
QUERY = np.random.default_rng(12).standard_normal(16).astype(np.float32)


def as_numpy(value):
    """pgvector >= 0.4 returns its Vector class; older versions and SQLAlchemy numpy arrays."""
    return np.asarray(value.to_numpy() if hasattr(value, "to_numpy") else value, dtype=np.float32)


def exact(metric, k=5):
    if metric == "l2":
        d = np.linalg.norm(ROWS - QUERY, axis=1)
    elif metric == "cosine":
        d = 1 - ROWS @ QUERY / (np.linalg.norm(ROWS, axis=1) * np.linalg.norm(QUERY))
    else:  # negative inner product
        d = -(ROWS @ QUERY)
    return [int(i) + 1 for i in np.argsort(d, kind="stable")[:k]]


def dsn():
    return (f"host={os.environ.get('PGHOST', '127.0.0.1')} port={os.environ['PGPORT']} "
            f"dbname={os.environ['PGDATABASE']} user={os.environ.get('PGUSER', 'postgres')}")


def test_psycopg2():
    import psycopg2
    from pgvector.psycopg2 import register_vector

    conn = psycopg2.connect(dsn())
    conn.autocommit = True
    register_vector(conn)
    cur = conn.cursor()
    cur.execute("DROP TABLE IF EXISTS orm_pg2")
    cur.execute("CREATE TABLE orm_pg2 (id serial PRIMARY KEY, embedding vector(16))")
    cur.executemany("INSERT INTO orm_pg2 (embedding) VALUES (%s)", [(r,) for r in ROWS])
    cur.execute("CREATE INDEX ON orm_pg2 USING hnsw (embedding vector_l2_ops)")
    cur.execute("SET enable_seqscan = off")
    cur.execute("SET hnsw.ef_search = 200")
    cur.execute("SELECT id, embedding FROM orm_pg2 ORDER BY embedding <-> %s LIMIT 5", (QUERY,))
    found = cur.fetchall()
    assert [r[0] for r in found] == exact("l2")
    np.testing.assert_array_equal(as_numpy(found[0][1]), ROWS[found[0][0] - 1])
    cur.execute("DROP TABLE orm_pg2")
    conn.close()


def test_asyncpg():
    import asyncpg
    from pgvector.asyncpg import register_vector

    async def run():
        conn = await asyncpg.connect(host=os.environ.get("PGHOST", "127.0.0.1"),
                                     port=int(os.environ["PGPORT"]),
                                     database=os.environ["PGDATABASE"],
                                     user=os.environ.get("PGUSER", "postgres"))
        await register_vector(conn)  # binary format for vector
        await conn.execute("DROP TABLE IF EXISTS orm_apg")
        await conn.execute("CREATE TABLE orm_apg (id serial PRIMARY KEY, embedding vector(16))")
        await conn.copy_records_to_table("orm_apg", records=[(i + 1, r) for i, r in enumerate(ROWS)],
                                         columns=["id", "embedding"])
        await conn.execute("CREATE INDEX ON orm_apg USING hnsw (embedding vector_cosine_ops)")
        await conn.execute("SET enable_seqscan = off")
        await conn.execute("SET hnsw.ef_search = 200")
        found = await conn.fetch(
            "SELECT id, embedding FROM orm_apg ORDER BY embedding <=> $1 LIMIT 5", QUERY)
        await conn.execute("DROP TABLE orm_apg")
        await conn.close()
        return found

    found = asyncio.run(run())
    assert [r["id"] for r in found] == exact("cosine")
    np.testing.assert_array_equal(as_numpy(found[0]["embedding"]), ROWS[found[0]["id"] - 1])


def test_sqlalchemy_orm():
    from pgvector.sqlalchemy import Vector
    from sqlalchemy import Index, Integer, create_engine, select, text
    from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

    class Base(DeclarativeBase):
        pass

    class Item(Base):
        __tablename__ = "orm_sqla"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        embedding = mapped_column(Vector(16))

    index = Index("orm_sqla_embedding", Item.embedding, postgresql_using="hnsw",
                  postgresql_with={"m": 16, "ef_construction": 64},
                  postgresql_ops={"embedding": "vector_ip_ops"})
    engine = create_engine(
        f"postgresql+psycopg://{os.environ.get('PGUSER', 'postgres')}@"
        f"{os.environ.get('PGHOST', '127.0.0.1')}:{os.environ['PGPORT']}/{os.environ['PGDATABASE']}")
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)  # the table and the hnsw index, through the ORM
    with Session(engine) as session:
        session.add_all([Item(id=i + 1, embedding=r) for i, r in enumerate(ROWS)])
        session.commit()
        session.execute(text("SET enable_seqscan = off"))
        session.execute(text("SET hnsw.ef_search = 200"))
        by_ip = session.scalars(
            select(Item).order_by(Item.embedding.max_inner_product(QUERY)).limit(5)).all()
        assert [i.id for i in by_ip] == exact("ip")
        np.testing.assert_array_equal(as_numpy(by_ip[0].embedding), ROWS[by_ip[0].id - 1])
        plan = "\n".join(session.execute(text(
            "EXPLAIN SELECT id FROM orm_sqla ORDER BY embedding <#> :q LIMIT 5"),
            {"q": str(QUERY.tolist())}).scalars())
        assert "orm_sqla_embedding" in plan
        # The distance functions SQLAlchemy users call, by exact search.
        session.execute(text("SET enable_seqscan = on"))
        session.execute(text("SET enable_indexscan = off"))
        by_l2 = session.scalars(select(Item.id).order_by(Item.embedding.l2_distance(QUERY)).limit(5)).all()
        by_cos = session.scalars(select(Item.id).order_by(Item.embedding.cosine_distance(QUERY)).limit(5)).all()
        assert list(by_l2) == exact("l2")
        assert list(by_cos) == exact("cosine")
    Base.metadata.drop_all(engine)
    engine.dispose()
    assert index.name == "orm_sqla_embedding"


def test_sqlalchemy_halfvec_bit_and_ivfflat():
    """SQLAlchemy's HALFVEC and BIT column types, with indexes declared through the ORM:
    hnsw on halfvec and on bit, and an ivfflat index (probes = lists: exact)."""
    from pgvector.sqlalchemy import BIT, HALFVEC, Vector
    from sqlalchemy import Index, Integer, create_engine, select, text
    from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

    class Base(DeclarativeBase):
        pass

    class Item(Base):
        __tablename__ = "orm_types"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        embedding = mapped_column(Vector(16))
        half = mapped_column(HALFVEC(16))
        bits = mapped_column(BIT(16))

    Index("orm_types_half", Item.half, postgresql_using="hnsw",
          postgresql_with={"m": 16, "ef_construction": 64},
          postgresql_ops={"half": "halfvec_l2_ops"})
    Index("orm_types_bits", Item.bits, postgresql_using="hnsw",
          postgresql_ops={"bits": "bit_hamming_ops"})
    Index("orm_types_ivf", Item.embedding, postgresql_using="ivfflat",
          postgresql_with={"lists": 20}, postgresql_ops={"embedding": "vector_cosine_ops"})
    engine = create_engine(
        f"postgresql+psycopg://{os.environ.get('PGUSER', 'postgres')}@"
        f"{os.environ.get('PGHOST', '127.0.0.1')}:{os.environ['PGPORT']}/{os.environ['PGDATABASE']}")
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    halves = ROWS.astype(np.float16)
    bits = ["".join("1" if x > 0 else "0" for x in r) for r in ROWS]
    with Session(engine) as session:
        session.add_all([Item(id=i + 1, embedding=r, half=h, bits=b)
                         for i, (r, h, b) in enumerate(zip(ROWS, halves, bits))])
        session.commit()
        session.execute(text("SET enable_seqscan = off"))
        session.execute(text("SET hnsw.ef_search = 200"))
        session.execute(text("SET ivfflat.probes = 20"))
        q16 = QUERY.astype(np.float16)
        d16 = np.linalg.norm(halves.astype(np.float64) - q16.astype(np.float64), axis=1)
        by_half = session.scalars(select(Item).order_by(Item.half.l2_distance(q16)).limit(5)).all()
        assert [i.id for i in by_half] == [int(i) + 1 for i in np.argsort(d16, kind="stable")[:5]]
        # SQLAlchemy's HALFVEC hands values back as lists of floats (exact halves)
        np.testing.assert_array_equal(np.asarray(by_half[0].half, dtype=np.float16), halves[by_half[0].id - 1])
        qbits = "".join("1" if x > 0 else "0" for x in QUERY)
        hamming = np.array([sum(a != b for a, b in zip(row, qbits)) for row in bits])
        by_bits = session.scalars(select(Item).order_by(Item.bits.hamming_distance(qbits)).limit(5)).all()
        assert sorted(hamming[i.id - 1] for i in by_bits) == sorted(np.sort(hamming)[:5].tolist())
        by_cos = session.scalars(select(Item.id).order_by(Item.embedding.cosine_distance(QUERY)).limit(5)).all()
        assert list(by_cos) == exact("cosine")
        for name, sql in [("orm_types_half", "half <-> CAST(:q AS halfvec)"),
                          ("orm_types_bits", "bits <~> CAST(:b AS bit(16))"),
                          ("orm_types_ivf", "embedding <=> CAST(:q AS vector)")]:
            plan = "\n".join(session.execute(text(f"EXPLAIN SELECT id FROM orm_types ORDER BY {sql} LIMIT 5"),
                                             {"q": str(QUERY.tolist()), "b": qbits}).scalars())
            assert name in plan, plan
    Base.metadata.drop_all(engine)
    engine.dispose()
