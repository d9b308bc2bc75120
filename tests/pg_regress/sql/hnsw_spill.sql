-- A build that does not fit in maintenance_work_mem spills to memory-mapped temporary
-- files, says so, and yields the same index as an in-memory build.
\set VERBOSITY terse
SET max_parallel_maintenance_workers = 0; -- one build thread: the same graph both times
SET enable_seqscan = off;
CREATE TABLE s (id int, v vector(64));
INSERT INTO s SELECT i, (SELECT array_agg(((i * 31 + j * 17) % 1009)::real) FROM generate_series(1, 64) j)
FROM generate_series(1, 4500) i;
SELECT hnsw_pg_spilled_builds() AS spilled_before;
CREATE INDEX s_v ON s USING hnsw (v);
SELECT hnsw_pg_spilled_builds() AS spilled_after_in_memory_build;
CREATE TABLE in_memory AS
SELECT q.id, array(SELECT id FROM s ORDER BY v <-> q.v LIMIT 10) AS knn FROM s q WHERE q.id % 50 = 0;
DROP INDEX s_v;
SET maintenance_work_mem = '1MB';
CREATE INDEX s_v ON s USING hnsw (v);
SELECT hnsw_pg_spilled_builds() AS spilled_after_small_build;
CREATE TABLE spilled AS
SELECT q.id, array(SELECT id FROM s ORDER BY v <-> q.v LIMIT 10) AS knn FROM s q WHERE q.id % 50 = 0;
SELECT count(*) AS queries, count(*) FILTER (WHERE a.knn = b.knn) AS identical
FROM in_memory a JOIN spilled b USING (id);
-- The temporary files are gone once the build is done.
SELECT count(*) AS temporary_files_left FROM pg_ls_tmpdir() WHERE name LIKE '%.hnsw%';
DROP TABLE s, in_memory, spilled;
