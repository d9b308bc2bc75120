"""Multicolumn hnsw indexes: the columns after the vector are filter columns the scan
tests itself (`=`, `= ANY` / IN, IS NULL, IS NOT NULL). On real data with real labels
(Fashion-MNIST's classes) and uncorrelated ones, every filtered query returns its whole
LIMIT whenever that many rows pass, rows that pass only, at recall@10 >= 0.95 against
exact filtered search; the qual is an Index Cond, not a Filter on the table's rows.
Then every key type, cross-type integer quals, inserts (exact duplicates with different
values), deletes with no VACUUM in between, VACUUM and slot reuse, the format version,
and the errors a user can meet."""

import uuid

import numpy as np
import psycopg
import pytest
from pgvector.psycopg import register_vector

import datasets
from tables import format_version

NAME = "fashion-mnist-784-10k"
QUERIES = 20
# name: (WHERE clause for query i, which rows pass for query i)
FILTERS = {
    "own class": ("label = %(own)s", lambda labels, s, own: labels == own),
    "another class": ("label = %(other)s", lambda labels, s, own: labels == (own + 5) % 10),
    "two classes": ("label = ANY(%(pair)s)", lambda labels, s, own: np.isin(labels, [own, (own + 3) % 10])),
    "1% (bigint = int)": ("s = 7::int4", lambda labels, s, own: s == 7),
    "0.1% of one class": ("label = %(own)s AND s = 3", lambda labels, s, own: (labels == own) & (s == 3)),
    "none": ("s = -1", lambda labels, s, own: s == -1),
    "half": ("s = ANY(%(half)s)", lambda labels, s, own: s < 50),
    "range 5%": ("s < 5", lambda labels, s, own: s < 5),
    "between 10%": ("s BETWEEN 20 AND 29", lambda labels, s, own: (s >= 20) & (s <= 29)),
    "own class and a range, 1%": ("label = %(own)s AND s >= 90", lambda labels, s, own: (labels == own) & (s >= 90)),
    "range across types, 2%": ("s > 97::int2", lambda labels, s, own: s > 97),
    "range below every row": ("s < -5", lambda labels, s, own: s < -5),
}


@pytest.fixture(scope="module")
def table():
    base = datasets.base(NAME)
    labels = datasets.labels(NAME, "base").astype(int)
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        c.execute("DROP TABLE IF EXISTS filtered")
        c.execute(f"CREATE TABLE filtered (id int, label int, s bigint, embedding vector({base.shape[1]}))")
        with c.cursor() as cur:
            with cur.copy("COPY filtered FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.set_types(["int4", "int4", "int8", "vector"])
                for i, v in enumerate(base):
                    copy.write_row((i, int(labels[i]), i % 100, v))
        c.execute("CREATE INDEX filtered_embedding ON filtered USING hnsw (embedding vector_l2_ops, label, s)")
        c.execute("VACUUM ANALYZE filtered")
    yield base, labels
    with psycopg.connect(autocommit=True) as c:
        c.execute("DROP TABLE filtered")


def exact_ids(base, passing, q, k=10):
    order = passing[np.argsort(((base[passing] - q) ** 2).sum(axis=1), kind="stable")]
    return order[:k].tolist()


# At ef_search 10 a filter a sample of the key pages says a tenth of the rows or more
# pass is walked reading each returned node's key, not every key first.
@pytest.mark.parametrize("ef", [40, 10], ids=["ef 40", "ef 10"])
@pytest.mark.parametrize("forced", [False, True], ids=["chosen plan", "index forced"])
@pytest.mark.parametrize("name", list(FILTERS))
def test_filters_in_the_index_answer_whole_and_near(table, name, forced, ef):
    base, labels = table
    where, passes = FILTERS[name]
    queries = datasets.queries(NAME)[:QUERIES]
    query_labels = datasets.labels(NAME, "query")[:QUERIES].astype(int)
    ids = np.arange(len(base))
    s = ids % 100
    sql = f"SELECT id FROM filtered WHERE {where} ORDER BY embedding <-> %(q)s LIMIT 10"
    hits = wanted = 0
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        c.execute(f"SET hnsw.ef_search = {ef}")
        if forced:
            c.execute("SET enable_seqscan = off")
            c.execute("SET enable_bitmapscan = off")
        for q, own in zip(queries, query_labels):
            params = {"q": q, "own": int(own), "other": int((own + 5) % 10),
                      "pair": [int(own), int((own + 3) % 10)], "half": list(range(50))}
            if forced:
                plan = "\n".join(r[0] for r in c.execute("EXPLAIN " + sql, params).fetchall())
                assert "filtered_embedding" in plan, plan
                # `= ANY` on a column after the first stays a Filter on 15 and 16, whose
                # planner would otherwise give up the index's order.
                if "ANY" not in where:
                    assert "Index Cond" in plan and "Filter" not in plan, plan
            found = [r[0] for r in c.execute(sql, params).fetchall()]
            passing = ids[passes(labels, s, own)]
            exact = exact_ids(base, passing, q)
            assert len(found) == len(exact), f"{name}: {len(found)} rows, {len(exact)} pass"
            assert all(passes(labels[i], s[i], own) for i in found), name
            hits += len(set(found) & set(exact))
            wanted += len(exact)
    if wanted:
        assert hits / wanted >= 0.95, f"{name}: recall@10 {hits / wanted:.3f}"


def test_a_filter_no_row_passes_reads_no_row_and_the_format_is_9(table):
    base, _ = table
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        c.execute("SET enable_seqscan = off")
        plan = c.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT id FROM filtered WHERE s = -1 "
                         "ORDER BY embedding <-> %s LIMIT 10", (base[0],)).fetchone()[0][0]["Plan"]
        scan = plan["Plans"][0]
        assert scan["Index Name"] == "filtered_embedding" and scan["Actual Rows"] == 0
        # The key pages alone (10,000 keys of 17 bytes: 21 pages; the meta page) and no
        # heap page.
        assert scan["Shared Hit Blocks"] + scan.get("Shared Read Blocks", 0) < 40, scan
        assert format_version(c, "filtered_embedding") == 9


def test_every_key_type_and_null():
    rng = np.random.default_rng(3)
    n = 600
    vectors = rng.standard_normal((n, 8)).astype(np.float32)
    uuids = [uuid.UUID(int=i % 7) for i in range(n)]
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        c.execute("DROP TABLE IF EXISTS typed")
        c.execute("CREATE TABLE typed (id int, small smallint, flag bool, day date, at timestamp, "
                  "atz timestamptz, u uuid, big bigint, v vector(8))")
        with c.cursor() as cur:
            cur.executemany(
                "INSERT INTO typed VALUES (%s, %s, %s, DATE '2026-01-01' + %s, "
                "TIMESTAMP '2026-01-01' + %s * INTERVAL '1 hour', TIMESTAMPTZ '2026-01-01 UTC' + %s * INTERVAL '1 minute', "
                "%s, %s, %s)",
                [(i, None if i % 11 == 0 else i % 5, i % 2 == 0, i % 9, i % 4, i % 6, uuids[i], i % 3 - 1, vectors[i])
                 for i in range(n)])
        c.execute("CREATE INDEX typed_v ON typed USING hnsw (v vector_l2_ops, small, flag, day, at, atz, u, big)")
        c.execute("SET enable_seqscan = off")
        quals = [
            ("small = 3", lambda i: i % 11 != 0 and i % 5 == 3),
            ("small IS NULL", lambda i: i % 11 == 0),
            ("small IS NOT NULL AND flag = true", lambda i: i % 11 != 0 and i % 2 == 0),
            ("flag = false", lambda i: i % 2 == 1),
            ("day = DATE '2026-01-05'", lambda i: i % 9 == 4),
            ("at = TIMESTAMP '2026-01-01 02:00'", lambda i: i % 4 == 2),
            ("atz = TIMESTAMPTZ '2026-01-01 00:05 UTC'", lambda i: i % 6 == 5),
            (f"u = '{uuid.UUID(int=3)}'", lambda i: i % 7 == 3),
            ("big = -1", lambda i: i % 3 == 0),
            ("big = 1::int2 AND small = 4::int8", lambda i: i % 3 == 2 and i % 11 != 0 and i % 5 == 4),
            ("small < 2", lambda i: i % 11 != 0 and i % 5 < 2),
            ("small <= 2::int8 AND big > -1", lambda i: i % 11 != 0 and i % 5 <= 2 and i % 3 != 0),
            ("small BETWEEN 1 AND 3", lambda i: i % 11 != 0 and 1 <= i % 5 <= 3),
            ("small < ANY('{1,3}'::int[])", lambda i: i % 11 != 0 and i % 5 < 3),
            ("big >= 9223372036854775807", lambda i: False),
            ("day >= DATE '2026-01-08'", lambda i: i % 9 >= 7),
            ("day > DATE '2025-12-31' AND day < DATE 'infinity' AND small = 0", lambda i: i % 11 != 0 and i % 5 == 0),
            ("at > TIMESTAMP '2026-01-01 01:30' AND at <= TIMESTAMP '2026-01-01 03:00'", lambda i: i % 4 in (2, 3)),
            ("atz < TIMESTAMPTZ '2026-01-01 00:02 UTC'", lambda i: i % 6 < 2),
            (f"u > '{uuid.UUID(int=4)}'", lambda i: i % 7 > 4),
            (f"u <= '{uuid.UUID(int=2)}' AND u >= '{uuid.UUID(int=1)}'", lambda i: i % 7 in (1, 2)),
        ]
        q = rng.standard_normal(8).astype(np.float32)
        for where, passes in quals:
            sql = f"SELECT id FROM typed WHERE {where} ORDER BY v <-> %s LIMIT 500"
            plan = "\n".join(r[0] for r in c.execute("EXPLAIN " + sql, (q,)).fetchall())
            if "flag" in where:
                # The planner rewrites `flag = true` as `flag` (and `= false` as NOT flag),
                # a form it matches to btree's boolean operators only: a Filter.
                assert "Filter: " in plan and "flag" in plan.split("Filter: ")[1], f"{where}: {plan}"
            elif "ANY" not in where:
                assert "Index Cond" in plan and "Filter" not in plan, f"{where}: {plan}"
            found = [r[0] for r in c.execute(sql, (q,)).fetchall()]
            expected = [i for i in range(n) if passes(i)]
            assert sorted(found) == expected, where
            distances = ((vectors[found] - q) ** 2).sum(axis=1)
            assert np.all(np.diff(distances) >= -1e-5), f"{where}: not nearest first"
        assert c.execute("SELECT * FROM hnsw_pg_check('typed_v')").fetchall() == []
        c.execute("DROP TABLE typed")


def test_inserts_duplicates_deletes_and_vacuum_keep_every_value():
    rng = np.random.default_rng(4)
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        c.execute("DROP TABLE IF EXISTS kept")
        c.execute("CREATE TABLE kept (id int, g int, v vector(16)) WITH (autovacuum_enabled = false)")
        c.execute("CREATE INDEX kept_v ON kept USING hnsw (v vector_l2_ops, g)")
        rows = rng.standard_normal((2000, 16)).astype(np.float32)
        same = np.full(16, 0.25, np.float32)
        with c.cursor() as cur:
            cur.executemany("INSERT INTO kept VALUES (%s, %s, %s)", [(i, i % 20, v) for i, v in enumerate(rows)])
            # 40 copies of one vector, each with its own value: one graph node, 40 keys.
            cur.executemany("INSERT INTO kept VALUES (%s, %s, %s)", [(5000 + i, i % 20, same) for i in range(40)])
        c.execute("SET enable_seqscan = off")

        def ids(where, limit=1000):
            return sorted(r[0] for r in c.execute(
                f"SELECT id FROM kept WHERE {where} ORDER BY v <-> %s LIMIT {limit}", (same,)).fetchall())

        assert ids("g = 7", 2) == [5007, 5027], "the copies nearest, their own values"
        assert ids("g = 7") == sorted([i for i in range(2000) if i % 20 == 7] + [5007, 5027])
        # Deleted rows are gone at once, with no VACUUM in between.
        c.execute("DELETE FROM kept WHERE id % 3 = 0")
        assert ids("g = 7") == sorted(i for i in [*range(2000), 5007, 5027] if i % 20 == 7 and i % 3 != 0)
        c.execute("VACUUM kept")
        assert c.execute("SELECT * FROM hnsw_pg_check('kept_v')").fetchall() == []
        # Freed slots are reused for rows of other values.
        with c.cursor() as cur:
            cur.executemany("INSERT INTO kept VALUES (%s, %s, %s)",
                            [(10000 + i, 99, v) for i, v in enumerate(rng.standard_normal((600, 16)).astype(np.float32))])
        assert ids("g = 99") == list(range(10000, 10600))
        live = [r[0] for r in c.execute("SELECT id FROM kept WHERE g = 7 ORDER BY id").fetchall()]
        assert ids("g = 7") == live
        assert c.execute("SELECT * FROM hnsw_pg_check('kept_v')").fetchall() == []
        c.execute("DROP TABLE kept")


def test_single_column_indexes_keep_their_format_and_mistakes_are_errors():
    with psycopg.connect(autocommit=True) as c:
        c.execute("DROP TABLE IF EXISTS wrong")
        c.execute("CREATE TABLE wrong (id int, price numeric, v vector(3))")
        c.execute("INSERT INTO wrong VALUES (1, 1.5, '[1,2,3]')")
        c.execute("CREATE INDEX wrong_v ON wrong USING hnsw (v vector_l2_ops)")
        assert format_version(c, "wrong_v") == 5
        with pytest.raises(psycopg.errors.UndefinedObject):
            c.execute("CREATE INDEX ON wrong USING hnsw (v vector_l2_ops, price)")
        with pytest.raises(psycopg.errors.InvalidObjectDefinition):
            c.execute("CREATE INDEX ON wrong USING hnsw (id, v vector_l2_ops)")
        with pytest.raises(psycopg.errors.FeatureNotSupported):
            c.execute("CREATE INDEX ON wrong USING hnsw (v vector_l2_ops, v vector_l2_ops)")
        with pytest.raises(psycopg.errors.FeatureNotSupported):
            c.execute("CREATE INDEX ON wrong USING ivfflat (v vector_l2_ops, id)")
        # IS NULL on the vector column: the index holds no NULL vector, so it is not used.
        c.execute("INSERT INTO wrong VALUES (2, 2.5, NULL)")
        c.execute("CREATE INDEX wrong_multi ON wrong USING hnsw (v vector_l2_ops, id)")
        c.execute("SET enable_seqscan = off")
        rows = c.execute("SELECT id FROM wrong WHERE v IS NULL ORDER BY v <-> '[1,1,1]' LIMIT 5").fetchall()
        assert rows == [(2,)]
        c.execute("DROP TABLE wrong")


def test_far_filters_get_their_limit_under_a_small_memory_limit_and_the_planner_takes_the_filter_index():
    """Four tight clusters, a query near cluster 0 and a filter on cluster 2: the walk
    finds no passing row near the query. With 64 kB of work_mem the walk stops on its
    memory limit, and the scan still ranks the passing rows it has not returned, in
    rounds of what the memory holds. With a
    single-column index beside it, the planner takes the one that applies the filter."""
    rng = np.random.default_rng(9)
    n, dim = 20000, 16
    centres = rng.standard_normal((4, dim)).astype(np.float32) * 10
    lab = np.arange(n) % 4
    vectors = (centres[lab] + rng.standard_normal((n, dim)).astype(np.float32) * 0.1).astype(np.float32)
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        c.execute("DROP TABLE IF EXISTS far")
        c.execute(f"CREATE TABLE far (id int, lab int, embedding vector({dim}))")
        with c.cursor() as cur:
            with cur.copy("COPY far FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.set_types(["int4", "int4", "vector"])
                for i in range(n):
                    copy.write_row((i, int(lab[i]), vectors[i]))
        c.execute("CREATE INDEX far_filters ON far USING hnsw (embedding vector_l2_ops, lab)")
        c.execute("CREATE INDEX far_single ON far USING hnsw (embedding vector_l2_ops)")
        c.execute("ANALYZE far")
        sql = "SELECT id FROM far WHERE lab = 2 ORDER BY embedding <-> %s LIMIT 10"
        for q in centres[0] + rng.standard_normal((5, dim)).astype(np.float32) * 0.1:
            plan = "\n".join(r[0] for r in c.execute("EXPLAIN " + sql, (q,)).fetchall())
            assert "far_filters" in plan and "Index Cond" in plan, plan
            c.execute("SET work_mem = '64kB'")
            found = [r[0] for r in c.execute(sql, (q,)).fetchall()]
            c.execute("RESET work_mem")
            passing = np.flatnonzero(lab == 2)
            assert found == exact_ids(vectors, passing, q)
        # More passing rows than 64 kB holds ranked (10,000 of them, 12 bytes each): the
        # exact ranking runs in rounds of what it holds, each after the last, so the rows
        # come whole and in order.
        sql = "SELECT id FROM far WHERE lab >= 2 ORDER BY embedding <-> %s LIMIT 10"
        c.execute("SET work_mem = '64kB'")
        assert [r[0] for r in c.execute(sql, (centres[0],)).fetchall()] == exact_ids(
            vectors, np.flatnonzero(lab >= 2), centres[0])
        rows = [r[0] for r in c.execute("SELECT id FROM far WHERE lab >= 2 ORDER BY embedding <-> %s "
                                        "LIMIT 20000", (centres[0],)).fetchall()]
        assert sorted(rows) == np.flatnonzero(lab >= 2).tolist()
        # Dead rows (no VACUUM in between) leave the live ones whole.
        c.execute("DELETE FROM far WHERE id % 3 = 0")
        live = np.flatnonzero((lab >= 2) & (np.arange(n) % 3 != 0))
        for q in centres[0] + rng.standard_normal((5, dim)).astype(np.float32) * 0.1:
            assert [r[0] for r in c.execute(sql, (q,)).fetchall()] == exact_ids(vectors, live, q)
        c.execute("RESET work_mem")
        # Every row, past the memory limit of the walk.
        c.execute("SET work_mem = '64kB'")
        c.execute("SET enable_seqscan = off")
        every = c.execute("SELECT count(DISTINCT id) FROM (SELECT id FROM far WHERE lab IS NOT NULL "
                          "ORDER BY embedding <-> %s LIMIT 30000) t", (centres[0],)).fetchone()[0]
        assert every == n - len(range(0, n, 3))
        c.execute("RESET work_mem")
        # IS NOT NULL on the vector column keeps an index usable (every indexed row has a
        # vector); IS NULL keeps it out.
        c.execute("SET enable_seqscan = off")
        plan = "\n".join(r[0] for r in c.execute(
            "EXPLAIN SELECT id FROM far WHERE embedding IS NOT NULL ORDER BY embedding <-> %s LIMIT 10",
            (centres[0],)).fetchall())
        assert "Index Scan using far_" in plan, plan
        c.execute("DROP TABLE far")


def test_operators_added_to_a_key_family_are_errors_not_wrong_rows():
    """A superuser may add operators to hnsw_pg's families. One of a strategy hnsw_pg does
    not know, or comparing a column with another type than its own (a date with a
    timestamp: different units), is an ERROR 0A000 when the scan meets it, never rows
    compared on the wrong bytes, nor an internal error."""
    with psycopg.connect() as c:
        c.execute("CREATE TABLE added (id int, d date, n int, v vector(2))")
        c.execute("INSERT INTO added SELECT i, DATE '2020-01-01' + i, i, ARRAY[i, 0]::vector "
                  "FROM generate_series(0, 99) i")
        c.execute("CREATE INDEX added_v ON added USING hnsw (v vector_l2_ops, d, n)")
        c.execute("SET enable_seqscan = off")
        for family, member, where in [
            ("date_ops", "OPERATOR 5 > (date, timestamp)", "d > TIMESTAMP '2020-01-05 12:00'"),
            ("integer_ops", "OPERATOR 6 <> (int4, int4)", "n <> 3"),
        ]:
            c.execute("SAVEPOINT s")
            c.execute(f"ALTER OPERATOR FAMILY {family} USING hnsw ADD {member}")
            sql = f"SELECT id FROM added WHERE {where} ORDER BY v <-> '[0,0]' LIMIT 5"
            plan = "\n".join(r[0] for r in c.execute("EXPLAIN " + sql).fetchall())
            assert "Index Cond" in plan, plan
            with pytest.raises(psycopg.errors.FeatureNotSupported):
                c.execute(sql)
            c.execute("ROLLBACK TO SAVEPOINT s")
        c.rollback()


def test_integer_array_columns_answer_overlap_and_containment():
    """Label arrays (smallint[], integer[], bigint[]) after the vector: `&&` and `@>` are
    Index Conds on every version, answered on a signature of the elements and rechecked,
    so the rows are exactly the rows that pass, nearest first; NULL arrays, NULL and
    repeated elements, empty arrays, inserts and deletes with no VACUUM in between."""
    rng = np.random.default_rng(12)
    n, dim = 3000, 8
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    labels = [None if i % 17 == 0 else sorted(set(rng.integers(0, 40, i % 5).tolist())) + ([None] if i % 23 == 0 else [])
              for i in range(n)]
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        c.execute("DROP TABLE IF EXISTS labelled")
        c.execute(f"CREATE TABLE labelled (id int, small smallint[], tags int[], big bigint[], v vector({dim}))")
        with c.cursor() as cur:
            with cur.copy("COPY labelled FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.set_types(["int4", "int2[]", "int4[]", "int8[]", "vector"])
                for i in range(n):
                    big = None if labels[i] is None else [None if x is None else x * 10**12 for x in labels[i]]
                    copy.write_row((i, labels[i], labels[i], big, vectors[i]))
        c.execute("CREATE INDEX labelled_v ON labelled USING hnsw (v vector_l2_ops, small, tags, big)")
        c.execute("ANALYZE labelled")
        c.execute("SET enable_seqscan = off")
        live = set(range(n))

        def check(where, passes):
            sql = f"SELECT id FROM labelled WHERE {where} ORDER BY v <-> %s LIMIT 3000"
            q = rng.standard_normal(dim).astype(np.float32)
            plan = "\n".join(r[0] for r in c.execute("EXPLAIN " + sql, (q,)).fetchall())
            assert "Index Cond" in plan and "Filter" not in plan, f"{where}: {plan}"
            found = [r[0] for r in c.execute(sql, (q,)).fetchall()]
            expected = [i for i in sorted(live) if labels[i] is not None and passes([x for x in labels[i] if x is not None])]
            assert sorted(found) == expected, where
            distances = ((vectors[found] - q) ** 2).sum(axis=1)
            assert np.all(np.diff(distances) >= -1e-5), f"{where}: not nearest first"

        for column, scale in [("small", 1), ("tags", 1), ("big", 10**12)]:
            check(f"{column} && '{{{3 * scale}}}'", lambda ls: 3 in ls)
            check(f"{column} && '{{{5 * scale},{31 * scale},{5 * scale}}}'", lambda ls: 5 in ls or 31 in ls)
            check(f"{column} @> '{{{7 * scale},{8 * scale}}}'", lambda ls: 7 in ls and 8 in ls)
            check(f"{column} @> '{{}}'", lambda ls: True)
            check(f"{column} && '{{}}'", lambda ls: False)
            check(f"{column} @> '{{{7 * scale},NULL}}'", lambda ls: False)
            check(f"{column} && '{{NULL,{9 * scale}}}'", lambda ls: 9 in ls)
        check("tags && '{1,2}' AND small @> '{2}'", lambda ls: 2 in ls)
        check("tags @> '{3}' AND big && '{3000000000000}'", lambda ls: 3 in ls)
        # Inserts (a duplicate of row 0's vector with labels of its own) and deletes.
        c.execute("INSERT INTO labelled VALUES (%s, '{99}', '{99}', '{99000000000000}', %s)", (n, vectors[0]))
        labels.append([99])
        vectors = np.vstack([vectors, vectors[:1]])
        live.add(n)
        c.execute("DELETE FROM labelled WHERE id % 4 = 1")
        live -= {i for i in live if i % 4 == 1}
        assert n in live
        check("tags && '{99,3}'", lambda ls: 99 in ls or 3 in ls)
        assert c.execute("SELECT * FROM hnsw_pg_check('labelled_v')").fetchall() == []
        c.execute("DROP TABLE labelled")


def test_text_columns_answer_equality_on_a_hash():
    """A text (or varchar) column after the vector: `=` and `IN` are Index Conds answered
    on a hash of the value and rechecked, so the rows are exactly the rows that pass;
    values that differ by case, a trailing space or a combining accent are different; a
    nondeterministic collation is refused (0A000), and `COLLATE "C"` in the index works."""
    rng = np.random.default_rng(13)
    n, dim = 2000, 8
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    words = ["alpha", "Alpha", "alpha ", "beta", "é", "e\u0301", "", "x" * 3000]
    names = [None if i % 19 == 0 else words[i % len(words)] for i in range(n)]
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        c.execute("DROP TABLE IF EXISTS named")
        c.execute(f"CREATE TABLE named (id int, name text, code varchar(10), v vector({dim}))")
        with c.cursor() as cur:
            with cur.copy("COPY named FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.set_types(["int4", "text", "varchar", "vector"])
                for i in range(n):
                    copy.write_row((i, names[i], None if names[i] is None else names[i][:10], vectors[i]))
        c.execute("CREATE INDEX named_v ON named USING hnsw (v vector_l2_ops, name, code)")
        c.execute("ANALYZE named")
        c.execute("SET enable_seqscan = off")
        q = rng.standard_normal(dim).astype(np.float32)
        for where, passes, index_cond in [
            ("name = 'alpha'", lambda i: names[i] == "alpha", True),
            ("name = 'e\u0301'", lambda i: names[i] == "e\u0301", True),
            ("name = ''", lambda i: names[i] == "", True),
            (f"name = '{'x' * 3000}'", lambda i: names[i] == "x" * 3000, True),
            ("name = 'gamma'", lambda i: False, True),
            ("code = 'beta'", lambda i: names[i] == "beta", True),
            ("name IS NULL", lambda i: names[i] is None, True),
            ("name IN ('beta', 'Alpha')", lambda i: names[i] in ("beta", "Alpha"), False),
        ]:
            sql = f"SELECT id FROM named WHERE {where} ORDER BY v <-> %s LIMIT 2000"
            plan = "\n".join(r[0] for r in c.execute("EXPLAIN " + sql, (q,)).fetchall())
            if index_cond:
                assert "Index Cond" in plan and "Filter" not in plan, f"{where}: {plan}"
            found = [r[0] for r in c.execute(sql, (q,)).fetchall()]
            assert sorted(found) == [i for i in range(n) if passes(i)], where
        assert c.execute("SELECT * FROM hnsw_pg_check('named_v')").fetchall() == []
        c.execute("CREATE COLLATION IF NOT EXISTS hnsw_pg_test_ci (provider = icu, locale = 'und-u-ks-level2', "
                  "deterministic = false)")
        with pytest.raises(psycopg.errors.FeatureNotSupported):
            c.execute("CREATE INDEX ON named USING hnsw (v vector_l2_ops, name COLLATE hnsw_pg_test_ci)")
        # A type that takes no collation, binary coercible to text, has none: refused too.
        c.execute("CREATE TYPE plain_text")
        c.execute("CREATE FUNCTION plain_text_in(cstring) RETURNS plain_text LANGUAGE internal "
                  "IMMUTABLE STRICT AS 'textin'")
        c.execute("CREATE FUNCTION plain_text_out(plain_text) RETURNS cstring LANGUAGE internal "
                  "IMMUTABLE STRICT AS 'textout'")
        c.execute("CREATE TYPE plain_text (input = plain_text_in, output = plain_text_out, like = text)")
        c.execute("CREATE CAST (plain_text AS text) WITHOUT FUNCTION AS IMPLICIT")
        c.execute("ALTER TABLE named ADD COLUMN plain plain_text")
        with pytest.raises(psycopg.errors.FeatureNotSupported):
            c.execute("CREATE INDEX ON named USING hnsw (v vector_l2_ops, plain text_ops)")
        c.execute("CREATE INDEX named_c ON named USING hnsw (v vector_l2_ops, name COLLATE \"C\")")
        c.execute("DROP INDEX named_v")
        sql = "SELECT id FROM named WHERE name = 'beta' COLLATE \"C\" ORDER BY v <-> %s LIMIT 2000"
        plan = "\n".join(r[0] for r in c.execute("EXPLAIN " + sql, (q,)).fetchall())
        assert "named_c" in plan and "Index Cond" in plan, plan
        assert sorted(r[0] for r in c.execute(sql, (q,)).fetchall()) == [i for i in range(n) if names[i] == "beta"]
        c.execute("DROP TABLE named")
        c.execute("DROP COLLATION hnsw_pg_test_ci")
        c.execute("DROP TYPE plain_text CASCADE")
