-- hnsw_pg: the hnsw index access method and its operator classes (pgvector's names).

CREATE FUNCTION hnswhandler(internal) RETURNS index_am_handler
    AS 'MODULE_PATHNAME', 'hnswhandler_wrapper' LANGUAGE C;

CREATE ACCESS METHOD hnsw TYPE INDEX HANDLER hnswhandler;
COMMENT ON ACCESS METHOD hnsw IS 'hnsw index access method';

-- Support function 1 names the distance the index orders by.
CREATE OPERATOR CLASS vector_l2_ops DEFAULT FOR TYPE vector USING hnsw AS
    OPERATOR 1 <-> (vector, vector) FOR ORDER BY float_ops,
    FUNCTION 1 vector_l2_squared_distance(vector, vector);

CREATE OPERATOR CLASS vector_ip_ops FOR TYPE vector USING hnsw AS
    OPERATOR 1 <#> (vector, vector) FOR ORDER BY float_ops,
    FUNCTION 1 vector_negative_inner_product(vector, vector);

CREATE OPERATOR CLASS vector_cosine_ops FOR TYPE vector USING hnsw AS
    OPERATOR 1 <=> (vector, vector) FOR ORDER BY float_ops,
    FUNCTION 1 cosine_distance(vector, vector);

CREATE OPERATOR CLASS vector_l1_ops FOR TYPE vector USING hnsw AS
    OPERATOR 1 <+> (vector, vector) FOR ORDER BY float_ops,
    FUNCTION 1 l1_distance(vector, vector);

-- halfvec: stored as float16 in the index pages (half a vector index's vector pages).
CREATE OPERATOR CLASS halfvec_l2_ops FOR TYPE halfvec USING hnsw AS
    OPERATOR 1 <-> (halfvec, halfvec) FOR ORDER BY float_ops,
    FUNCTION 1 halfvec_l2_squared_distance(halfvec, halfvec);

CREATE OPERATOR CLASS halfvec_ip_ops FOR TYPE halfvec USING hnsw AS
    OPERATOR 1 <#> (halfvec, halfvec) FOR ORDER BY float_ops,
    FUNCTION 1 halfvec_negative_inner_product(halfvec, halfvec);

CREATE OPERATOR CLASS halfvec_cosine_ops FOR TYPE halfvec USING hnsw AS
    OPERATOR 1 <=> (halfvec, halfvec) FOR ORDER BY float_ops,
    FUNCTION 1 cosine_distance(halfvec, halfvec);

CREATE OPERATOR CLASS halfvec_l1_ops FOR TYPE halfvec USING hnsw AS
    OPERATOR 1 <+> (halfvec, halfvec) FOR ORDER BY float_ops,
    FUNCTION 1 l1_distance(halfvec, halfvec);

-- bit (up to 64,000 bits): stored packed, 32 bits to 4 bytes, compared with POPCNT.
CREATE OPERATOR CLASS bit_hamming_ops FOR TYPE bit USING hnsw AS
    OPERATOR 1 <~> (bit, bit) FOR ORDER BY float_ops,
    FUNCTION 1 hamming_distance(bit, bit);

CREATE OPERATOR CLASS bit_jaccard_ops FOR TYPE bit USING hnsw AS
    OPERATOR 1 <%> (bit, bit) FOR ORDER BY float_ops,
    FUNCTION 1 jaccard_distance(bit, bit);

-- sparsevec (up to 16,000 non-zero elements): each vector a record of its own length.
CREATE OPERATOR CLASS sparsevec_l2_ops FOR TYPE sparsevec USING hnsw AS
    OPERATOR 1 <-> (sparsevec, sparsevec) FOR ORDER BY float_ops,
    FUNCTION 1 sparsevec_l2_squared_distance(sparsevec, sparsevec);

CREATE OPERATOR CLASS sparsevec_ip_ops FOR TYPE sparsevec USING hnsw AS
    OPERATOR 1 <#> (sparsevec, sparsevec) FOR ORDER BY float_ops,
    FUNCTION 1 sparsevec_negative_inner_product(sparsevec, sparsevec);

CREATE OPERATOR CLASS sparsevec_cosine_ops FOR TYPE sparsevec USING hnsw AS
    OPERATOR 1 <=> (sparsevec, sparsevec) FOR ORDER BY float_ops,
    FUNCTION 1 cosine_distance(sparsevec, sparsevec);

CREATE OPERATOR CLASS sparsevec_l1_ops FOR TYPE sparsevec USING hnsw AS
    OPERATOR 1 <+> (sparsevec, sparsevec) FOR ORDER BY float_ops,
    FUNCTION 1 l1_distance(sparsevec, sparsevec);

-- Filter columns: the columns after the vector in a multicolumn index, e.g.
--   CREATE INDEX ON items USING hnsw (embedding vector_cosine_ops, category, tenant_id);
-- The scan applies `=`, `= ANY` / IN, ranges, IS NULL and IS NOT NULL on them itself.
-- Strategy 3 is `=`, as in btree. The integer family holds every cross-type `=`, so
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
-- Ranges: `<`, `<=`, `>=`, `>` (strategies 1, 2, 4 and 5, as btree's; BETWEEN is two of
-- them) on every filter column type but boolean, across the integer types too.
ALTER OPERATOR FAMILY integer_ops USING hnsw ADD
    OPERATOR 1 < (int2, int2),
    OPERATOR 2 <= (int2, int2),
    OPERATOR 4 >= (int2, int2),
    OPERATOR 5 > (int2, int2),
    OPERATOR 1 < (int2, int4),
    OPERATOR 2 <= (int2, int4),
    OPERATOR 4 >= (int2, int4),
    OPERATOR 5 > (int2, int4),
    OPERATOR 1 < (int2, int8),
    OPERATOR 2 <= (int2, int8),
    OPERATOR 4 >= (int2, int8),
    OPERATOR 5 > (int2, int8),
    OPERATOR 1 < (int4, int2),
    OPERATOR 2 <= (int4, int2),
    OPERATOR 4 >= (int4, int2),
    OPERATOR 5 > (int4, int2),
    OPERATOR 1 < (int4, int4),
    OPERATOR 2 <= (int4, int4),
    OPERATOR 4 >= (int4, int4),
    OPERATOR 5 > (int4, int4),
    OPERATOR 1 < (int4, int8),
    OPERATOR 2 <= (int4, int8),
    OPERATOR 4 >= (int4, int8),
    OPERATOR 5 > (int4, int8),
    OPERATOR 1 < (int8, int2),
    OPERATOR 2 <= (int8, int2),
    OPERATOR 4 >= (int8, int2),
    OPERATOR 5 > (int8, int2),
    OPERATOR 1 < (int8, int4),
    OPERATOR 2 <= (int8, int4),
    OPERATOR 4 >= (int8, int4),
    OPERATOR 5 > (int8, int4),
    OPERATOR 1 < (int8, int8),
    OPERATOR 2 <= (int8, int8),
    OPERATOR 4 >= (int8, int8),
    OPERATOR 5 > (int8, int8);
ALTER OPERATOR FAMILY date_ops USING hnsw ADD
    OPERATOR 1 < (date, date),
    OPERATOR 2 <= (date, date),
    OPERATOR 4 >= (date, date),
    OPERATOR 5 > (date, date);
ALTER OPERATOR FAMILY timestamp_ops USING hnsw ADD
    OPERATOR 1 < (timestamp, timestamp),
    OPERATOR 2 <= (timestamp, timestamp),
    OPERATOR 4 >= (timestamp, timestamp),
    OPERATOR 5 > (timestamp, timestamp);
ALTER OPERATOR FAMILY timestamptz_ops USING hnsw ADD
    OPERATOR 1 < (timestamptz, timestamptz),
    OPERATOR 2 <= (timestamptz, timestamptz),
    OPERATOR 4 >= (timestamptz, timestamptz),
    OPERATOR 5 > (timestamptz, timestamptz);
ALTER OPERATOR FAMILY uuid_ops USING hnsw ADD
    OPERATOR 1 < (uuid, uuid),
    OPERATOR 2 <= (uuid, uuid),
    OPERATOR 4 >= (uuid, uuid),
    OPERATOR 5 > (uuid, uuid);
-- Integer arrays (labels): `&&` and `@>` (strategies 6 and 7), answered on a lossy
-- signature of the elements and rechecked on the row.
CREATE OPERATOR CLASS int2_array_ops DEFAULT FOR TYPE int2[] USING hnsw AS
    OPERATOR 6 && (anyarray, anyarray),
    OPERATOR 7 @> (anyarray, anyarray);
CREATE OPERATOR CLASS int4_array_ops DEFAULT FOR TYPE int4[] USING hnsw AS
    OPERATOR 6 && (anyarray, anyarray),
    OPERATOR 7 @> (anyarray, anyarray);
CREATE OPERATOR CLASS int8_array_ops DEFAULT FOR TYPE int8[] USING hnsw AS
    OPERATOR 6 && (anyarray, anyarray),
    OPERATOR 7 @> (anyarray, anyarray);
-- Text: `=` and `= ANY` / IN (strategy 3), answered on a hash of the value and rechecked
-- on the row; the column's collation must be deterministic.
CREATE OPERATOR CLASS text_ops DEFAULT FOR TYPE text USING hnsw AS
    OPERATOR 3 = (text, text);

CREATE FUNCTION hnsw_pg_spilled_builds() RETURNS bigint
    AS 'MODULE_PATHNAME', 'hnsw_pg_spilled_builds_wrapper' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION hnsw_pg_spilled_builds() IS
    'index builds in this backend that spilled to memory-mapped files (maintenance_work_mem exceeded)';

-- Like amcheck's functions: superusers only unless granted, e.g.
--   GRANT EXECUTE ON FUNCTION hnsw_pg_check(regclass) TO monitor;
--   GRANT pg_read_all_data TO monitor;   -- or SELECT on the tables checked
-- It runs no SQL; its search_path is pinned all the same.
CREATE FUNCTION hnsw_pg_check(index regclass) RETURNS SETOF text
    AS 'MODULE_PATHNAME', 'hnsw_pg_check_wrapper' LANGUAGE C STRICT VOLATILE
    SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION hnsw_pg_check(regclass) FROM PUBLIC;
COMMENT ON FUNCTION hnsw_pg_check(regclass) IS
    'problems found in an hnsw index, one row each (no rows: healthy)';
