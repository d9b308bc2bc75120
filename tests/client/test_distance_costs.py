"""What the planner charges a distance, through `hnsw_pg_distance_support`: one
`cpu_operator_cost` per 64 floats (at least one), plus a tenth of `random_page_cost` per
out-of-line chunk when an argument reads a table column kept out of line (wider than
about 2 kB), directly or through casts and functions. Measured as the difference in a
sequential scan's total cost with and without the distance in its target list."""

import json

import numpy as np
import psycopg
import pytest
from pgvector.psycopg import register_vector

ROWS = 1000
OPERATOR = 0.0025  # cpu_operator_cost's default
CHUNK = 0.4  # random_page_cost 4 / 10


def per_row(c, table, expression):
    """The cost one row of `expression` adds to a scan of `table`."""
    def total(select):
        plan = c.execute(f"EXPLAIN (FORMAT JSON) SELECT {select} FROM {table}").fetchone()[0]
        plan = plan if isinstance(plan, list) else json.loads(plan)
        return plan[0]["Plan"]["Total Cost"]
    return (total(expression) - total("id")) / ROWS


@pytest.fixture(scope="module")
def conn():
    rng = np.random.default_rng(7)
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        for table, dim in (("narrow_costs", 3), ("wide_costs", 784)):
            c.execute(f"DROP TABLE IF EXISTS {table}")
            c.execute(f"CREATE TABLE {table} (id int, v vector({dim}))")
            with c.cursor() as cur:
                with cur.copy(f"COPY {table} (id, v) FROM STDIN WITH (FORMAT BINARY)") as copy:
                    copy.set_types(["int4", "vector"])
                    for i in range(ROWS):
                        copy.write_row((i, rng.standard_normal(dim).astype(np.float32)))
            c.execute(f"ANALYZE {table}")
        yield c
        c.execute("DROP TABLE narrow_costs, wide_costs")


def query(dim):
    return "'[" + ",".join(["0.5"] * dim) + "]'::vector"


def test_a_narrow_distance_costs_one_operator(conn):
    for op in ("<->", "<#>", "<=>", "<+>"):
        assert per_row(conn, "narrow_costs", f"v {op} {query(3)}") == pytest.approx(OPERATOR, abs=5e-5)


def test_a_wide_column_costs_its_elements_and_its_out_of_line_reads(conn):
    # 784 floats: 12.25 operators; 3,144 bytes, two chunks.
    expected = OPERATOR * 784 / 64 + 2 * CHUNK
    for op in ("<->", "<#>", "<=>", "<+>"):
        assert per_row(conn, "wide_costs", f"v {op} {query(784)}") == pytest.approx(expected, abs=5e-5)
    assert per_row(conn, "wide_costs", f"l2_distance(v, {query(784)})") == pytest.approx(
        expected, abs=5e-5)
    # Two columns read per row.
    both = OPERATOR * 784 / 64 + 4 * CHUNK
    assert per_row(conn, "wide_costs", "v <-> v") == pytest.approx(both, abs=5e-5)


def test_reads_are_charged_through_casts_and_functions(conn):
    # The halfvec cast and binary_quantize keep their own default cost (one operator each).
    halfvec = per_row(conn, "wide_costs", f"v::halfvec(784) <-> {query(784)}::halfvec(784)")
    assert halfvec == pytest.approx(OPERATOR * 784 / 64 + 2 * CHUNK + OPERATOR, abs=5e-5)
    bits = per_row(conn, "wide_costs",
                   f"binary_quantize(v)::bit(784) <~> binary_quantize({query(784)})::bit(784)")
    assert bits == pytest.approx(OPERATOR + 2 * CHUNK + 2 * OPERATOR, abs=5e-5)


def test_settings_scale_the_costs(conn):
    conn.execute("SET cpu_operator_cost = 0.01")
    conn.execute("SET random_page_cost = 1.1")
    try:
        expected = 0.01 * 784 / 64 + 2 * 0.11
        assert per_row(conn, "wide_costs", f"v <-> {query(784)}") == pytest.approx(expected, abs=5e-5)
    finally:
        conn.execute("RESET cpu_operator_cost")
        conn.execute("RESET random_page_cost")
