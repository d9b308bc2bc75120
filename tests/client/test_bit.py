"""bit through a real client: pgvector's Bit adapter, hamming and jaccard distances equal
to numpy's, binary_quantize equal to numpy's sign test, and pgvector's binary
quantization pattern on real data (WordNet glosses, 384-d MiniLM): an hnsw index of
binary_quantize(embedding)::bit(384), searched and then re-ranked by exact cosine."""

import time

import datasets
import numpy as np
import psycopg
import pytest
from pgvector import Bit
from pgvector.psycopg import register_vector


@pytest.fixture
def conn():
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        yield c


def test_distances_and_quantization_equal_numpy(conn):
    rng = np.random.default_rng(5)
    bits = rng.random((30, 100)) < 0.4
    query = rng.random(100) < 0.4
    conn.execute("DROP TABLE IF EXISTS bit_dist")
    conn.execute("CREATE TABLE bit_dist (id int, b bit(100))")
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO bit_dist VALUES (%s, %s)", [(i, Bit(b)) for i, b in enumerate(bits)])
    for binary in (False, True):
        with conn.cursor(binary=binary) as cur:
            # bit is Postgres' own type: psycopg hands it over as text or bytes
            rows = [r[0] for r in cur.execute("SELECT b FROM bit_dist ORDER BY id")]
            back = [(Bit.from_text(r) if binary is False else Bit.from_binary(r)).to_numpy()
                    for r in rows]
        assert np.array_equal(np.array(back), bits), f"binary={binary}"
    rows = conn.execute("SELECT b <~> %s, b <%%> %s FROM bit_dist ORDER BY id",
                        (Bit(query), Bit(query))).fetchall()
    both = (bits & query).sum(axis=1)
    either = (bits | query).sum(axis=1)
    expected_jaccard = np.where(both == 0, 1.0, 1 - both / np.maximum(either, 1))
    assert np.array_equal(np.array([r[0] for r in rows]), (bits != query).sum(axis=1))
    assert np.allclose(np.array([r[1] for r in rows]), expected_jaccard, rtol=0, atol=1e-15)

    values = rng.normal(size=(5, 77)).astype(np.float32)
    for v in values:
        for ty in ("vector", "halfvec"):
            q = conn.execute(f"SELECT binary_quantize(%s::{ty})", (v.tolist(),)).fetchone()[0]
            assert np.array_equal(Bit.from_text(q).to_numpy(), v > 0), ty


def test_binary_quantization_with_exact_reranking(conn):
    name = "wordnet-minilm-384-10k"
    base, queries, truth = datasets.base(name), datasets.queries(name), datasets.truth(name)
    dim = base.shape[1]
    conn.execute("DROP TABLE IF EXISTS bq_words")
    conn.execute(f"CREATE TABLE bq_words (id int, embedding vector({dim}))")
    with conn.cursor() as cur:
        with cur.copy("COPY bq_words (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "vector"])
            for i, v in enumerate(base):
                copy.write_row((i, v))
    started = time.perf_counter()
    conn.execute(f"CREATE INDEX bq_words_bits ON bq_words USING hnsw "
                 f"((binary_quantize(embedding)::bit({dim})) bit_hamming_ops)")
    build = time.perf_counter() - started
    conn.execute(f"CREATE INDEX bq_words_full ON bq_words USING hnsw (embedding vector_cosine_ops)")
    bits_size, full_size = conn.execute(
        "SELECT pg_relation_size('bq_words_bits'), pg_relation_size('bq_words_full')").fetchone()
    conn.execute("DROP INDEX bq_words_full")
    conn.execute("SET hnsw.ef_search = 100")
    hamming_sql = (f"SELECT binary_quantize(embedding)::bit({dim}) <~> binary_quantize(%s::vector) "
                   f"FROM bq_words ORDER BY binary_quantize(embedding)::bit({dim}) <~> binary_quantize(%s::vector) LIMIT 10")
    rerank_sql = (f"SELECT id FROM (SELECT id, embedding FROM bq_words "
                  f"ORDER BY binary_quantize(embedding)::bit({dim}) <~> binary_quantize(%s::vector) LIMIT 100) t "
                  f"ORDER BY embedding <=> %s::vector LIMIT 10")
    plan = " ".join(r[0] for r in conn.execute("EXPLAIN " + rerank_sql, (queries[0], queries[0])).fetchall())
    assert "bq_words_bits" in plan, plan
    # The index's own answer against numpy's exact Hamming distances, counting ties: the
    # share of its 10 rows no farther than the exact 10th nearest.
    base_bits = base > 0
    exact_hamming_hits = 0.0
    hits = 0
    started = time.perf_counter()
    for q, expected in zip(queries, truth):
        qbits = q > 0
        exact = np.sort((base_bits != qbits).sum(axis=1))[:10]
        found = [r[0] for r in conn.execute(hamming_sql, (q, q), prepare=True)]
        exact_hamming_hits += sum(d <= exact[-1] for d in found) / 10
        ids = [r[0] for r in conn.execute(rerank_sql, (q, q), prepare=True)]
        hits += len(set(ids) & set(expected[:10].tolist()))
    elapsed = time.perf_counter() - started
    recall = hits / (10 * len(queries))
    exact_share = exact_hamming_hits / len(queries)
    print(f"bit_hamming_ops: build {build:.2f} s, {bits_size / 2**20:.1f} MiB "
          f"(vector_cosine_ops {full_size / 2**20:.1f} MiB), Hamming recall@10 (ties counted) "
          f"{exact_share:.4f}, re-ranked recall@10 {recall:.4f}, "
          f"{len(queries) / elapsed:.0f} query pairs/s")
    assert exact_share >= 0.95
    assert recall >= 0.8
    assert bits_size < 0.5 * full_size
