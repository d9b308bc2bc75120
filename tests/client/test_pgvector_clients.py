"""Real pgvector clients against hnsw_pg: psycopg 3 with the `pgvector` package's adapter.

Runs against the database named by PGHOST/PGPORT/PGDATABASE with the extension created
(see scripts/with_cluster.sh)."""

import numpy as np
import psycopg
import pytest
from pgvector.psycopg import register_vector


def as_numpy(value):
    """pgvector >= 0.4 returns its Vector class; older versions return numpy arrays."""
    return value.to_numpy() if hasattr(value, "to_numpy") else value


@pytest.fixture
def conn():
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        yield c


VECTORS = [
    np.array([1.0, 2.0, 3.0], dtype=np.float32),
    np.array([-1.5, 0.0, 1e-7], dtype=np.float32),
    np.array([3.4028235e38, 1e-45, -0.0], dtype=np.float32),
    np.random.default_rng(7).standard_normal(3).astype(np.float32),
]


@pytest.mark.parametrize("binary", [False, True])
def test_round_trip(conn, binary):
    conn.execute("DROP TABLE IF EXISTS items")
    conn.execute("CREATE TABLE items (id int, embedding vector(3))")
    with conn.cursor(binary=binary) as cur:
        for i, v in enumerate(VECTORS):
            cur.execute("INSERT INTO items VALUES (%s, %s)", (i, v))
        cur.execute("SELECT embedding FROM items ORDER BY id")
        back = [as_numpy(row[0]) for row in cur.fetchall()]
    for sent, got in zip(VECTORS, back):
        assert isinstance(got, np.ndarray)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got.view(np.uint32), sent.view(np.uint32))


def test_binary_copy(conn):
    conn.execute("DROP TABLE IF EXISTS copied")
    conn.execute("CREATE TABLE copied (id int, embedding vector(3))")
    with conn.cursor() as cur:
        with cur.copy("COPY copied (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "vector"])
            for i, v in enumerate(VECTORS):
                copy.write_row((i, v))
        cur.execute("SELECT embedding FROM copied ORDER BY id")
        back = [as_numpy(row[0]) for row in cur.fetchall()]
    for sent, got in zip(VECTORS, back):
        np.testing.assert_array_equal(got, sent)


@pytest.mark.parametrize("binary", [False, True])
def test_distances_match_numpy(conn, binary):
    rng = np.random.default_rng(42)
    a = rng.standard_normal(384).astype(np.float32)
    b = rng.standard_normal(384).astype(np.float32)
    with conn.cursor(binary=binary) as cur:
        cur.execute(
            "SELECT %s <-> %s, %s <#> %s, %s <=> %s, %s <+> %s",
            (a, b, a, b, a, b, a, b),
        )
        l2, neg_ip, cos, l1 = cur.fetchone()
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    assert l2 == pytest.approx(np.linalg.norm(a64 - b64), rel=1e-5)
    assert neg_ip == pytest.approx(-np.dot(a64, b64), rel=1e-4, abs=1e-4)
    expected_cos = 1 - np.dot(a64, b64) / (np.linalg.norm(a64) * np.linalg.norm(b64))
    assert cos == pytest.approx(expected_cos, rel=1e-5)
    assert l1 == pytest.approx(np.abs(a64 - b64).sum(), rel=1e-5)


def test_knn_order_matches_numpy(conn):
    rng = np.random.default_rng(3)
    data = rng.standard_normal((200, 16)).astype(np.float32)
    query = rng.standard_normal(16).astype(np.float32)
    conn.execute("DROP TABLE IF EXISTS knn")
    conn.execute("CREATE TABLE knn (id int, embedding vector(16))")
    with conn.cursor(binary=True) as cur:
        cur.executemany("INSERT INTO knn VALUES (%s, %s)", list(enumerate(data)))
        cur.execute("SELECT id FROM knn ORDER BY embedding <-> %s LIMIT 10", (query,))
        ids = [row[0] for row in cur.fetchall()]
    expected = np.argsort(np.linalg.norm(data - query, axis=1))[:10]
    assert ids == expected.tolist()


def test_errors_carry_pgvector_sqlstates(conn):
    with pytest.raises(psycopg.errors.InvalidTextRepresentation):
        conn.execute("SELECT '[1,2'::vector")
    with pytest.raises(psycopg.errors.DataException, match="different vector dimensions 2 and 3"):
        conn.execute("SELECT %s <-> %s", (np.ones(2, np.float32), np.ones(3, np.float32)))
    with pytest.raises(psycopg.errors.ProgramLimitExceeded):
        conn.execute("SELECT %s", (np.ones(16001, np.float32),))
