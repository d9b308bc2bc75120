-- hnsw_pg 0.4.0 to 0.5.0: ranges on the filter columns of a multicolumn hnsw index
-- (`<`, `<=`, `>=`, `>`, BETWEEN), integer array filter columns (`&&`, `@>`) and text
-- ones (`=`), which the scan tests itself. No index changes format.
\echo Use "ALTER EXTENSION hnsw_pg UPDATE" to load this file. \quit

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
