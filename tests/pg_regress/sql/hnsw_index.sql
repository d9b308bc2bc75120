-- The hnsw access method: every operator class against exact search, options and
-- settings, NULLs and zero vectors, inserts after build, unlogged tables, high dimensions,
-- filtered queries, duplicates and VACUUM.
\set VERBOSITY terse
SET hnsw.ef_search = 1000;

-- 300 points with distinct distances to the queries below.
CREATE TABLE pts (id int PRIMARY KEY, v vector(3));
INSERT INTO pts SELECT i, ARRAY[i % 17 - 8, (i * 7) % 23 - 11, (i * 13) % 29 - 14] FROM generate_series(1, 300) i;

CREATE INDEX pts_l2 ON pts USING hnsw (v vector_l2_ops);
CREATE INDEX pts_ip ON pts USING hnsw (v vector_ip_ops);
CREATE INDEX pts_cos ON pts USING hnsw (v vector_cosine_ops);
CREATE INDEX pts_l1 ON pts USING hnsw (v vector_l1_ops) WITH (m = 8, ef_construction = 32);

-- Each query twice: through the index, then by exact search; the distance lists match.
CREATE FUNCTION knn(q text, op text, k int, use_index bool) RETURNS float8[] LANGUAGE plpgsql AS $$
DECLARE r float8[];
BEGIN
  EXECUTE format('SET LOCAL enable_indexscan = %s', use_index);
  EXECUTE format('SET LOCAL enable_seqscan = %s', NOT use_index);
  EXECUTE format('SELECT array_agg(round(d::numeric, 4)::float8 ORDER BY n) FROM
      (SELECT v %s %L AS d, row_number() OVER () AS n FROM
          (SELECT v FROM pts ORDER BY v %s %L LIMIT %s) s) t', op, q, op, q, k) INTO r;
  RETURN r;
END $$;
SELECT op, knn('[1,2,3]', op, 10, true) = knn('[1,2,3]', op, 10, false) AS same,
       knn('[1,2,3]', op, 3, true) AS nearest
FROM unnest(ARRAY['<->', '<#>', '<=>', '<+>']) op;
SELECT op, knn('[-5,0,7]', op, 50, true) = knn('[-5,0,7]', op, 50, false) AS same
FROM unnest(ARRAY['<->', '<#>', '<=>', '<+>']) op;

-- On 300 rows a sequential scan and a sort cost less than the index, and the planner
-- knows it; without ORDER BY the index is useless and never used.
RESET hnsw.ef_search;
ANALYZE pts;
EXPLAIN (COSTS OFF) SELECT id FROM pts ORDER BY v <-> '[1,2,3]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM pts WHERE id = 3;
SET hnsw.ef_search = 1000;

-- Inserts after the build are found.
INSERT INTO pts VALUES (1001, '[100,100,100]'), (1002, '[101,100,100]');
SELECT id FROM pts ORDER BY v <-> '[100,100,101]' LIMIT 2;
SELECT knn('[1,2,3]', '<->', 20, true) = knn('[1,2,3]', '<->', 20, false) AS same_after_insert;

-- A filtered query returns its full LIMIT from the index, continuing past one beam.
CREATE TABLE docs (id int, category int, v vector(2));
INSERT INTO docs SELECT i, i % 20, ARRAY[i % 101, i % 103] FROM generate_series(1, 4000) i;
CREATE INDEX ON docs USING hnsw (v);
ANALYZE docs;
-- On 4,000 rows the planner picks the index for ORDER BY ... LIMIT.
RESET hnsw.ef_search;
EXPLAIN (COSTS OFF) SELECT id FROM docs ORDER BY v <-> '[50,50]' LIMIT 5;
SET hnsw.ef_search = 10;
-- A filter passing 5% of the rows: the index would return about 200 rows to find ten that
-- pass, and the planner prices that above scanning the 200 and sorting them. The index is
-- forced from here on, to test its filtered scan.
EXPLAIN (COSTS OFF) SELECT id FROM docs WHERE category = 7 ORDER BY v <-> '[50,50]' LIMIT 10;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM docs WHERE category = 7 ORDER BY v <-> '[50,50]' LIMIT 10;
SELECT count(*) FROM (SELECT id FROM docs WHERE category = 7 ORDER BY v <-> '[50,50]' LIMIT 10) s;
SELECT count(*) FROM (SELECT id FROM docs ORDER BY v <-> '[50,50]' LIMIT 500) s;
-- hnsw.max_scan_tuples bounds how far the scan goes.
SET hnsw.max_scan_tuples = 50;
SELECT count(*) <= 50 AS bounded FROM (SELECT id FROM docs ORDER BY v <-> '[50,50]' LIMIT 500) s;
RESET hnsw.max_scan_tuples;
-- hnsw.iterative_scan, as pgvector names it: relaxed_order (the default here) goes on
-- past the first beam; strict_order too, in non-decreasing distance; off stops after one
-- beam (pgvector's default).
SHOW hnsw.iterative_scan;
SET hnsw.iterative_scan = off;
SELECT count(*) AS off_filtered FROM (SELECT id FROM docs WHERE category = 7 ORDER BY v <-> '[50,50]' LIMIT 10) s;
SELECT count(*) AS off_unfiltered FROM (SELECT id FROM docs ORDER BY v <-> '[50,50]' LIMIT 500) s;
SET hnsw.iterative_scan = strict_order;
SELECT count(*) AS strict_filtered FROM (SELECT id FROM docs WHERE category = 7 ORDER BY v <-> '[50,50]' LIMIT 10) s;
SELECT bool_and(d >= prev) AS strict_in_order, count(*) > 100 AS strict_went_on FROM (
  SELECT d, lag(d, 1, 0) OVER (ORDER BY n) AS prev FROM (
    SELECT v <-> '[50,50]' AS d, row_number() OVER () AS n FROM
      (SELECT v FROM docs ORDER BY v <-> '[50,50]' LIMIT 500) s) t) u;
SET hnsw.iterative_scan = relaxed_order;
SELECT count(*) AS relaxed_unfiltered FROM (SELECT id FROM docs ORDER BY v <-> '[50,50]' LIMIT 500) s;
-- hnsw.scan_mem_multiplier times work_mem bounds the memory a scan holds: at 64kB a scan
-- over 30,000 rows stops after some beams.
CREATE TABLE many (id int, v vector(2));
INSERT INTO many SELECT i, ARRAY[i % 211, i % 223] FROM generate_series(1, 30000) i;
CREATE INDEX ON many USING hnsw (v) WITH (m = 8, ef_construction = 16);
SET enable_seqscan = off;
SET work_mem = '64kB';
SELECT count(*) BETWEEN 40 AND 29999 AS memory_bounded FROM (SELECT id FROM many ORDER BY v <-> '[50,50]' LIMIT 30000) s;
SET hnsw.scan_mem_multiplier = 1000;
SET hnsw.max_scan_tuples = 30000;
SELECT count(*) AS memory_raised FROM (SELECT id FROM many ORDER BY v <-> '[50,50]' LIMIT 30000) s;
RESET hnsw.max_scan_tuples;
RESET work_mem;
RESET hnsw.scan_mem_multiplier;
RESET enable_seqscan;
DROP TABLE many;
SET hnsw.iterative_scan = sideways;
SET hnsw.scan_mem_multiplier = 0;
SET hnsw.scan_mem_multiplier = 1001;
RESET hnsw.iterative_scan;
SET hnsw.ef_search = 1000;

-- NULLs are not indexed; zero vectors are not indexed under cosine, but are under L2.
CREATE TABLE z (id int, v vector(2));
INSERT INTO z VALUES (1, NULL), (2, '[0,0]'), (3, '[1,1]'), (4, '[2,1]');
CREATE INDEX z_cos ON z USING hnsw (v vector_cosine_ops);
SET enable_seqscan = off;
SELECT id FROM z ORDER BY v <=> '[1,1]' LIMIT 10;
DROP INDEX z_cos;
CREATE INDEX z_l2 ON z USING hnsw (v vector_l2_ops);
SELECT id FROM z ORDER BY v <-> '[1,1]' LIMIT 10;
INSERT INTO z VALUES (5, NULL), (6, '[0,0]');
SELECT id FROM z ORDER BY v <-> '[0,0]' LIMIT 10;
-- ORDER BY distance to NULL: every distance is NULL, so any order is right; the index
-- returns the rows it holds, as pgvector's does.
-- (A literal NULL folds the ORDER BY away; a parameter in a generic plan reaches the index.)
PREPARE by_distance(vector) AS SELECT id FROM z ORDER BY v <-> $1 LIMIT 10;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE by_distance(NULL);
-- Without the index (a literal NULL), every row comes back, NULL vectors too.
SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM z ORDER BY v <-> NULL LIMIT 10) s;
CREATE TABLE null_query AS EXECUTE by_distance(NULL);
SELECT array_agg(id ORDER BY id) AS indexed_rows FROM null_query;
DROP TABLE null_query;
-- Under strict_order too: no order is wrong, so the scan skips nothing.
PREPARE docs_by_distance(vector) AS SELECT id FROM docs ORDER BY v <-> $1 LIMIT 5000;
SET hnsw.iterative_scan = strict_order;
SET hnsw.ef_search = 10;
CREATE TABLE null_query AS EXECUTE docs_by_distance(NULL);
SELECT count(*) AS rows, count(DISTINCT id) AS distinct_rows FROM null_query;
DROP TABLE null_query;
DEALLOCATE docs_by_distance;
RESET hnsw.iterative_scan;
SET hnsw.ef_search = 1000;
RESET plan_cache_mode;
DEALLOCATE by_distance;
RESET enable_seqscan;

-- An index on an empty table, then inserts; an unlogged table.
CREATE TABLE e (id int, v vector(2));
CREATE INDEX ON e USING hnsw (v);
INSERT INTO e SELECT i, ARRAY[i, -i] FROM generate_series(1, 200) i;
SELECT id FROM e ORDER BY v <-> '[10,-10]' LIMIT 3;
CREATE UNLOGGED TABLE u (id int, v vector(2));
INSERT INTO u SELECT i, ARRAY[i, i] FROM generate_series(1, 100) i;
CREATE INDEX ON u USING hnsw (v);
INSERT INTO u VALUES (101, '[50.2,50.2]');
SELECT id FROM u ORDER BY v <-> '[50,50]' LIMIT 3;

-- Thousands of exact duplicates: every copy is returned, the graph stays usable.
CREATE TABLE dup (id int, v vector(2));
INSERT INTO dup SELECT i, ARRAY[i % 50, i % 7] FROM generate_series(1, 500) i;
CREATE INDEX ON dup USING hnsw (v);
INSERT INTO dup SELECT i, '[3,3]' FROM generate_series(501, 3500) i;
SET hnsw.max_scan_tuples = 100000;
SELECT count(*) FROM (SELECT id FROM dup ORDER BY v <-> '[3,3]' LIMIT 4000) s;
SELECT count(*) FROM (SELECT id FROM dup ORDER BY v <-> '[40,1]' LIMIT 4000) s;
-- Deleted rows never come back after VACUUM.
DELETE FROM dup WHERE id % 2 = 0;
VACUUM dup;
SELECT count(*), count(*) FILTER (WHERE id % 2 = 0) AS deleted_returned
FROM (SELECT id FROM dup ORDER BY v <-> '[3,3]' LIMIT 4000) s;
SELECT count(*) AS problems FROM hnsw_pg_check('dup_v_idx');

-- VACUUM repairs the graph around deleted nodes: afterwards no live node links to one,
-- every live row is still found, and no deleted one.
CREATE TABLE vac (id int, v vector(8));
INSERT INTO vac SELECT i, (SELECT array_agg(((i * j * 7919) % 1000)::real / 100) FROM generate_series(1, 8) j)
FROM generate_series(1, 3000) i;
CREATE INDEX vac_v ON vac USING hnsw (v);
INSERT INTO vac SELECT i, (SELECT array_agg(((i::bigint * j * 104729) % 997)::real / 100) FROM generate_series(1, 8) j)
FROM generate_series(3001, 4000) i;
SELECT count(*) AS problems_before FROM hnsw_pg_check('vac_v');
DELETE FROM vac WHERE id % 3 = 0;
VACUUM vac;
SELECT count(*) AS problems_after_vacuum FROM hnsw_pg_check('vac_v');
DELETE FROM vac WHERE id % 5 = 1;
VACUUM vac;
SELECT count(*) AS problems_after_second_vacuum FROM hnsw_pg_check('vac_v');
SELECT count(*) AS found, (SELECT count(*) FROM vac) AS live,
       count(*) FILTER (WHERE id % 3 = 0 OR id % 5 = 1) AS deleted_returned
FROM (SELECT id FROM vac ORDER BY v <-> '[1,1,1,1,1,1,1,1]' LIMIT 10000) s;
RESET hnsw.max_scan_tuples;

-- 3,072 and 16,000 dimensions.
CREATE TABLE big (id int, v vector(3072));
INSERT INTO big SELECT i, array_fill(i::real, ARRAY[3072]) FROM generate_series(1, 30) i;
CREATE INDEX ON big USING hnsw (v);
INSERT INTO big VALUES (31, array_fill(7.25::real, ARRAY[3072]));
SELECT id FROM big ORDER BY v <-> array_fill(7.2::real, ARRAY[3072])::vector LIMIT 3;
CREATE TABLE huge (id int, v vector(16000));
INSERT INTO huge SELECT i, array_fill(i::real, ARRAY[16000]) FROM generate_series(1, 10) i;
CREATE INDEX ON huge USING hnsw (v vector_l1_ops);
INSERT INTO huge VALUES (11, array_fill(4.5::real, ARRAY[16000]));
SELECT id FROM huge ORDER BY v <+> array_fill(4.4::real, ARRAY[16000])::vector LIMIT 3;

-- Errors: the message, then its SQLSTATE.
SELECT * FROM hnsw_pg_check('pts_pkey');
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE nodim (v vector);
CREATE INDEX ON nodim USING hnsw (v);
\echo :LAST_ERROR_SQLSTATE
CREATE INDEX ON pts USING hnsw (v) WITH (m = 1);
\echo :LAST_ERROR_SQLSTATE
CREATE INDEX ON pts USING hnsw (v) WITH (m = 101);
\echo :LAST_ERROR_SQLSTATE
CREATE INDEX ON pts USING hnsw (v) WITH (ef_construction = 3);
\echo :LAST_ERROR_SQLSTATE
CREATE INDEX ON pts USING hnsw (v) WITH (ef_construction = 1001);
\echo :LAST_ERROR_SQLSTATE
CREATE INDEX ON pts USING hnsw (v) WITH (m = 16, ef_construction = 20);
\echo :LAST_ERROR_SQLSTATE
CREATE INDEX ON pts USING hnsw (v) WITH (nope = 1);
\echo :LAST_ERROR_SQLSTATE
SET hnsw.ef_search = 0;
\echo :LAST_ERROR_SQLSTATE
SET hnsw.ef_search = 1001;
\echo :LAST_ERROR_SQLSTATE
SET hnsw.max_scan_tuples = 0;
\echo :LAST_ERROR_SQLSTATE
SET hnsw.no_such_setting = 1;
\echo :LAST_ERROR_SQLSTATE
INSERT INTO pts VALUES (2000, '[1,2]');
\echo :LAST_ERROR_SQLSTATE
SELECT id FROM pts ORDER BY v <-> '[1,2]' LIMIT 1;
\echo :LAST_ERROR_SQLSTATE
SHOW hnsw.ef_search;
SHOW hnsw.max_scan_tuples;

-- Without ORDER BY the index is never the plan, even with every other scan disabled
-- (PostgreSQL 18 ranks plans by disabled nodes first): a count is the table's.
CREATE TABLE only_hnsw (v vector(2));
INSERT INTO only_hnsw SELECT ARRAY[i, 1] FROM generate_series(1, 50) i;
CREATE INDEX ON only_hnsw USING hnsw (v);
SET enable_seqscan = off;
SELECT count(*) AS rows, count(v) AS vectors FROM only_hnsw;
RESET enable_seqscan;
DROP TABLE only_hnsw;

DROP TABLE pts, docs, z, e, u, dup, vac, big, huge, nodim;
DROP FUNCTION knn;
