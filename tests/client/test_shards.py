"""Shards over postgres_fdw: a coordinator whose table is hash-partitioned into foreign
tables on three other instances (each with hnsw_pg and its own index), all on loopback.
Runs on 15 in the client suite and on every other version whose server ships
postgres_fdw (17 and 18; scripts/test_version.sh).

With default planner settings a k-NN query is a Merge Append of per-shard remote scans
whose SQL orders by the distance; its rows equal those of one instance holding every row
(exact search on both sides), and with the shards' indexes its recall@10 against that
answer is at least 0.95. Settings reach a shard through its database or role, never from
the coordinator's session. Writes through the coordinator land on the right shard and
each shard's VACUUM and hnsw_pg_check work. A shard that is down is an ERROR, never a
partial answer."""

import contextlib

import numpy as np
import psycopg
import pytest
from pgvector.psycopg import register_vector

import datasets
from conftest import own_cluster
from server import pg_ctl
from tables import copy_rows

COORDINATOR_PORT = 55450
SHARD_PORTS = (55451, 55452, 55453)
NAME = "glove-6b-50-10k"
KNN = "SELECT id FROM {table} ORDER BY embedding <=> %s LIMIT 10"


def connect(params):
    c = psycopg.connect(**params)
    register_vector(c)
    return c


@pytest.fixture(scope="module")
def shards():
    """Starts the shards and the coordinator and loads the rows through the coordinator.
    Yields (coordinator params, [shard params]); the coordinator also holds every row in
    a local table `everything`, the one instance the shards are compared with."""
    base = datasets.base(NAME)
    dim = base.shape[1]
    with contextlib.ExitStack() as stack:
        shard_params = [stack.enter_context(own_cluster(port, point_env=False)) for port in SHARD_PORTS]
        coordinator = stack.enter_context(own_cluster(COORDINATOR_PORT, point_env=False))
        for params in shard_params:
            with connect(params) as s:
                s.execute(f"CREATE TABLE items (id int PRIMARY KEY, embedding vector({dim}))")
        with connect(coordinator) as c:
            c.execute("CREATE EXTENSION postgres_fdw")
            c.execute(f"CREATE TABLE items (id int, embedding vector({dim})) PARTITION BY HASH (id)")
            for i, params in enumerate(shard_params):
                # `extensions` lets the distance operator's ORDER BY run on the shard.
                c.execute(f"CREATE SERVER shard{i} FOREIGN DATA WRAPPER postgres_fdw OPTIONS"
                          f" (host '127.0.0.1', port '{params['port']}', dbname '{params['dbname']}',"
                          f" extensions 'hnsw_pg', batch_size '500', parallel_commit 'true')")
                c.execute(f"CREATE USER MAPPING FOR postgres SERVER shard{i} OPTIONS (user 'postgres')")
                c.execute(f"CREATE FOREIGN TABLE items_{i} PARTITION OF items"
                          f" FOR VALUES WITH (MODULUS {len(shard_params)}, REMAINDER {i})"
                          f" SERVER shard{i} OPTIONS (table_name 'items')")
            copy_rows(c, "items", enumerate(base))
            c.execute(f"CREATE TABLE everything (id int PRIMARY KEY, embedding vector({dim}))")
            copy_rows(c, "everything", enumerate(base))
        for params in shard_params:
            with connect(params) as s:
                s.execute("CREATE INDEX items_v ON items USING hnsw (embedding vector_cosine_ops)")
                s.execute("ANALYZE items")
                # The README's set-up: a shard plans postgres_fdw's cursor for the few rows
                # a k-NN query fetches, not for a tenth of its rows (which a 3k-row shard
                # sorts exactly, where no hnsw setting applies).
                s.execute(f"ALTER DATABASE {params['dbname']} SET cursor_tuple_fraction = 0.01")
        yield coordinator, shard_params


def exact_everything(c, queries):
    """The one instance's exact answer: a sequential scan over every row."""
    c.execute("SET enable_indexscan = off")
    try:
        return [[r[0] for r in c.execute(KNN.format(table="everything"), (q,)).fetchall()] for q in queries]
    finally:
        c.execute("RESET enable_indexscan")


def on_every_shard(shard_params, sql):
    for params in shard_params:
        with connect(params) as s:
            s.execute(sql)


def test_rows_are_spread_over_the_shards(shards):
    coordinator, shard_params = shards
    counts = []
    for i, params in enumerate(shard_params):
        with connect(params) as s:
            counts.append(s.execute("SELECT count(*) FROM items").fetchone()[0])
            # Each shard holds exactly its hash partition's rows.
        with connect(coordinator) as c:
            assert c.execute(f"SELECT count(*) FROM ONLY items_{i}").fetchone()[0] == counts[-1]
    assert sum(counts) == len(datasets.base(NAME))
    assert min(counts) > 0


def test_plan_orders_on_each_shard_and_merges(shards):
    coordinator, _ = shards
    query = datasets.queries(NAME)[0]
    with connect(coordinator) as c:
        plan = "\n".join(r[0] for r in c.execute(
            "EXPLAIN (VERBOSE, COSTS OFF) " + KNN.format(table="items"), (query,)).fetchall())
    lines = [line.strip() for line in plan.splitlines()]
    assert lines[0] == "Limit", plan
    assert lines[2].startswith("->  Merge Append"), plan
    remote = [line for line in lines if line.startswith("Remote SQL:")]
    assert len(remote) == len(SHARD_PORTS), plan
    for sql in remote:
        assert "ORDER BY (embedding OPERATOR(public.<=>)" in sql, plan
    # No node pulls the rows to sort them on the coordinator.
    assert not any(line.startswith("->  Sort") or line == "Sort" for line in lines), plan


def test_answers_equal_one_instance(shards):
    coordinator, shard_params = shards
    queries = datasets.queries(NAME)[:50]
    with connect(coordinator) as c:
        expected = exact_everything(c, queries)
    # Exact on the shards too: a database setting, which the coordinator's next
    # connections to them pick up.
    on_every_shard(shard_params, "ALTER DATABASE hnsw_pg_demo SET enable_indexscan = off")
    try:
        with connect(coordinator) as c:
            found = [[r[0] for r in c.execute(KNN.format(table="items"), (q,)).fetchall()] for q in queries]
    finally:
        on_every_shard(shard_params, "ALTER DATABASE hnsw_pg_demo RESET enable_indexscan")
    assert found == expected

    with connect(coordinator) as c:
        with_index = [[r[0] for r in c.execute(KNN.format(table="items"), (q,)).fetchall()] for q in queries]
    hits = sum(len(set(f) & set(e)) for f, e in zip(with_index, expected))
    assert hits / (10 * len(queries)) >= 0.95


def test_settings_reach_a_shard_through_its_database_only(shards):
    coordinator, shard_params = shards
    query = datasets.queries(NAME)[1]
    # One candidate per shard and no second beam: at most one row from each.
    on_every_shard(shard_params, "ALTER DATABASE hnsw_pg_demo SET hnsw.ef_search = 1")
    on_every_shard(shard_params, "ALTER DATABASE hnsw_pg_demo SET hnsw.iterative_scan = off")
    try:
        with connect(coordinator) as c:
            assert len(c.execute(KNN.format(table="items"), (query,)).fetchall()) == len(SHARD_PORTS)
            # The coordinator's own setting does not travel.
            c.execute("SET hnsw.ef_search = 400")
            c.execute("SET hnsw.iterative_scan = relaxed_order")
            assert len(c.execute(KNN.format(table="items"), (query,)).fetchall()) == len(SHARD_PORTS)
    finally:
        on_every_shard(shard_params, "ALTER DATABASE hnsw_pg_demo RESET hnsw.ef_search")
        on_every_shard(shard_params, "ALTER DATABASE hnsw_pg_demo RESET hnsw.iterative_scan")
    with connect(coordinator) as c:
        assert len(c.execute(KNN.format(table="items"), (query,)).fetchall()) == 10


def union_of_shards(shard_count, k=10):
    """The low-latency form: each shard's own top k (ORDER BY and LIMIT run on the shard),
    under one Append the coordinator runs asynchronously, merged and cut to k."""
    parts = " UNION ALL ".join(
        f"(SELECT id, embedding <=> %(q)s AS d FROM items_{i} ORDER BY embedding <=> %(q)s LIMIT {k})"
        for i in range(shard_count))
    # `d + 0`, not `d`: from 17 on the planner would merge the shards' ordered results
    # (a Merge Append, which reads them one after another); a key their order does not
    # give keeps a plain Append, which runs them at once, and a sort of the 3k rows.
    return f"SELECT id FROM ({parts}) s ORDER BY d + 0, id LIMIT {k}"


def test_union_of_shards_runs_them_at_once(shards):
    coordinator, shard_params = shards
    queries = datasets.queries(NAME)[:50]
    sql = union_of_shards(len(shard_params))
    with connect(coordinator) as c:
        for i in range(len(shard_params)):
            c.execute(f"ALTER SERVER shard{i} OPTIONS (ADD async_capable 'true')")
        try:
            plan = "\n".join(r[0] for r in c.execute("EXPLAIN (VERBOSE, COSTS OFF) " + sql,
                                                       {"q": queries[0]}).fetchall())
            assert plan.count("Async Foreign Scan") == len(shard_params), plan
            remote = [line.strip() for line in plan.splitlines() if "Remote SQL:" in line]
            assert len(remote) == len(shard_params), plan
            assert all("ORDER BY" in sql_ and "LIMIT 10" in sql_ for sql_ in remote), plan
            expected = exact_everything(c, queries)
            found = [[r[0] for r in c.execute(sql, {"q": q}).fetchall()] for q in queries]
        finally:
            for i in range(len(shard_params)):
                c.execute(f"ALTER SERVER shard{i} OPTIONS (DROP async_capable)")
    hits = sum(len(set(f) & set(e)) for f, e in zip(found, expected))
    assert hits / (10 * len(queries)) >= 0.95


def shard_of(shard_params, row_id):
    holders = []
    for i, params in enumerate(shard_params):
        with connect(params) as s:
            if s.execute("SELECT 1 FROM items WHERE id = %s", (row_id,)).fetchone():
                holders.append(i)
    return holders


def test_writes_through_the_coordinator(shards):
    coordinator, shard_params = shards
    dim = datasets.base(NAME).shape[1]
    rng = np.random.default_rng(20261203)
    first, second = rng.standard_normal((2, dim)).astype(np.float32)
    new_id = 50_000
    with connect(coordinator) as c:
        c.execute("INSERT INTO items VALUES (%s, %s)", (new_id, first))
        holders = shard_of(shard_params, new_id)
        assert len(holders) == 1
        assert c.execute("SELECT tableoid::regclass::text FROM items WHERE id = %s",
                         (new_id,)).fetchone()[0] == f"items_{holders[0]}"
        assert c.execute(KNN.format(table="items"), (first,)).fetchone()[0] == new_id
        c.execute("UPDATE items SET embedding = %s WHERE id = %s", (second, new_id))
        assert c.execute(KNN.format(table="items"), (second,)).fetchone()[0] == new_id
        assert new_id not in {r[0] for r in c.execute(KNN.format(table="items"), (first,)).fetchall()}
        deleted = c.execute("DELETE FROM items WHERE id %% 10 = 3 OR id = %s", (new_id,)).rowcount
        assert deleted == 1 + sum(1 for i in range(len(datasets.base(NAME))) if i % 10 == 3)
        assert shard_of(shard_params, new_id) == []
    remaining = set()
    for params in shard_params:
        with connect(params) as s:
            s.execute("VACUUM items")
            assert s.execute("SELECT * FROM hnsw_pg_check('items_v')").fetchall() == []
            remaining |= {r[0] for r in s.execute("SELECT id FROM items").fetchall()}
    assert remaining == {i for i in range(len(datasets.base(NAME))) if i % 10 != 3}
    with connect(coordinator) as c:
        queries = datasets.queries(NAME)[:20]
        for q, found in zip(queries, (c.execute(KNN.format(table="items"), (q,)).fetchall() for q in queries)):
            assert all(r[0] % 10 != 3 for r in found)


def test_a_shard_down_is_an_error(shards):
    coordinator, shard_params = shards
    # Last in the module: the shard stays down until the fixture removes it.
    pg_ctl("-m", "fast", "stop", cluster=f"/tmp/hnsw_pg-cluster-{shard_params[1]['port']}")
    with connect(coordinator) as c:
        with pytest.raises(psycopg.OperationalError) as failure:
            c.execute(KNN.format(table="items"), (datasets.queries(NAME)[0],)).fetchall()
        assert failure.value.sqlstate == "08001", failure.value
        # A query that needs only the live shards still answers.
        assert c.execute("SELECT count(*) FROM items_0").fetchone()[0] > 0
