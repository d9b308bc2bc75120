-- hnsw_pg 0.3.0 to 0.4.0: multicolumn hnsw indexes, whose columns after the vector are
-- filter columns the scan tests itself (index format 9 for such an index; every other
-- index keeps its format). These are their operator classes.
\echo Use "ALTER EXTENSION hnsw_pg UPDATE" to load this file. \quit

-- Filter columns: the columns after the vector in a multicolumn index, e.g.
--   CREATE INDEX ON items USING hnsw (embedding vector_cosine_ops, category, tenant_id);
-- The scan applies `=`, `= ANY` / IN, IS NULL and IS NOT NULL on them itself. Strategy 3
-- is `=`, as in btree. The integer family holds every cross-type `=`, so
-- `bigint_column = 42` is a qual the index applies, not a filter on the table's rows.
CREATE OPERATOR FAMILY integer_ops USING hnsw;
CREATE OPERATOR CLASS int2_ops DEFAULT FOR TYPE int2 USING hnsw FAMILY integer_ops AS
    OPERATOR 3 = (int2, int2);
CREATE OPERATOR CLASS int4_ops DEFAULT FOR TYPE int4 USING hnsw FAMILY integer_ops AS
    OPERATOR 3 = (int4, int4);
CREATE OPERATOR CLASS int8_ops DEFAULT FOR TYPE int8 USING hnsw FAMILY integer_ops AS
    OPERATOR 3 = (int8, int8);
ALTER OPERATOR FAMILY integer_ops USING hnsw ADD
    OPERATOR 3 = (int2, int4),
    OPERATOR 3 = (int2, int8),
    OPERATOR 3 = (int4, int2),
    OPERATOR 3 = (int4, int8),
    OPERATOR 3 = (int8, int2),
    OPERATOR 3 = (int8, int4);
CREATE OPERATOR CLASS bool_ops DEFAULT FOR TYPE bool USING hnsw AS
    OPERATOR 3 = (bool, bool);
CREATE OPERATOR CLASS date_ops DEFAULT FOR TYPE date USING hnsw AS
    OPERATOR 3 = (date, date);
CREATE OPERATOR CLASS timestamp_ops DEFAULT FOR TYPE timestamp USING hnsw AS
    OPERATOR 3 = (timestamp, timestamp);
CREATE OPERATOR CLASS timestamptz_ops DEFAULT FOR TYPE timestamptz USING hnsw AS
    OPERATOR 3 = (timestamptz, timestamptz);
CREATE OPERATOR CLASS uuid_ops DEFAULT FOR TYPE uuid USING hnsw AS
    OPERATOR 3 = (uuid, uuid);
