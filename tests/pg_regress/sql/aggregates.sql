-- avg and sum, serial and parallel.
\set VERBOSITY terse
SELECT avg(v), sum(v) FROM (VALUES ('[1,2,3]'::vector), ('[3,4,5]'), (NULL)) AS x(v);
SELECT avg(v), sum(v) FROM (VALUES (NULL::vector)) AS x(v);
SELECT avg(v), sum(v) FROM (SELECT '[1]'::vector AS v WHERE false) AS x;
SELECT avg(v) FROM (VALUES ('[1,1]'::vector), ('[2,2]'), ('[4,4]')) AS x(v);
CREATE TABLE a AS SELECT i % 3 AS g, ARRAY[i % 10, 1, -2]::vector AS v FROM generate_series(1, 30000) i;
ANALYZE a;
SELECT g, avg(v), sum(v) FROM a GROUP BY g ORDER BY g;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT avg(v), sum(v) FROM a;
SELECT avg(v), sum(v) FROM a;
RESET ALL;
DROP TABLE a;
-- Errors: the message, then its SQLSTATE.
SELECT avg(v) FROM (VALUES ('[1,2]'::vector), ('[1,2,3]')) AS x(v);
\echo :LAST_ERROR_SQLSTATE
SELECT sum(v) FROM (VALUES ('[1,2]'::vector), ('[1,2,3]')) AS x(v);
\echo :LAST_ERROR_SQLSTATE
SELECT sum(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]')) AS x(v);
\echo :LAST_ERROR_SQLSTATE
-- hand-made transition states never build an invalid vector
SELECT vector_avg(array_fill(1::float8, ARRAY[40000]));
\echo :LAST_ERROR_SQLSTATE
SELECT vector_avg('{1,NaN}');
\echo :LAST_ERROR_SQLSTATE
SELECT vector_avg('{0,5}');
SELECT vector_avg('{}');
