-- Every live row reachable, with no VACUUM: the reproductions of the review that found
-- rows no query could return. Each scan below runs the index to exhaustion (LIMIT above
-- the row count, max_scan_tuples above it too) and must return every row; lookups by a
-- row's own vector must return that row first; hnsw_pg_check must find nothing.
\set VERBOSITY terse
SET enable_seqscan = off;
SET hnsw.ef_search = 1000;
SET hnsw.max_scan_tuples = 1000000;

-- Inner product on non-negative data, right after a (multi-threaded) build.
SELECT setseed(0.25);
CREATE TABLE ipr (id int, v vector(16));
INSERT INTO ipr SELECT i, (SELECT array_agg(random()::real) FROM generate_series(1, 16) WHERE i > 0)::vector
FROM generate_series(1, 5000) i;
CREATE INDEX ipr_idx ON ipr USING hnsw (v vector_ip_ops);
SELECT count(*) AS returned, count(DISTINCT id) AS distinct_rows
FROM (SELECT id FROM ipr ORDER BY v <#> array_fill(1, ARRAY[16])::vector LIMIT 100000) s;
SELECT * FROM hnsw_pg_check('ipr_idx');

-- L2, inserts only: an empty index, then 20,000 random 128-d rows, one statement each.
SELECT setseed(0.5);
CREATE TABLE ins (id int, v vector(128)) WITH (autovacuum_enabled = off);
CREATE INDEX ins_idx ON ins USING hnsw (v vector_l2_ops);
DO $$
BEGIN
  FOR i IN 1..20000 LOOP
    INSERT INTO ins SELECT i, (SELECT array_agg(random()::real) FROM generate_series(1, 128) WHERE i > 0)::vector;
  END LOOP;
END $$;
SELECT count(*) AS returned, count(DISTINCT id) AS distinct_rows
FROM (SELECT id FROM ins ORDER BY v <-> array_fill(0.5, ARRAY[128])::vector LIMIT 100000) s;
-- Each of these rows (and a sample of the rest) is found by its own vector, first.
SELECT count(*) AS looked_up,
       count(*) FILTER (WHERE (SELECT s.id FROM ins s ORDER BY s.v <-> t.v LIMIT 1) = t.id) AS found_first
FROM ins t WHERE t.id IN (5934, 6766) OR t.id % 97 = 0;
SELECT * FROM hnsw_pg_check('ins_idx');

-- 900 rows, 300 of them near 1e37 in magnitude (an entry point the others could strand).
SELECT setseed(0.75);
CREATE TABLE big (id int, v vector(8));
INSERT INTO big SELECT i, (SELECT array_agg(((random() - 0.5) * CASE WHEN i % 3 = 0 THEN 1e37 ELSE 1 END + g * 0)::real)
                           FROM generate_series(1, 8) g)::vector
FROM generate_series(1, 900) i;
CREATE INDEX big_idx ON big USING hnsw (v vector_l2_ops);
SELECT count(*) AS returned, count(DISTINCT id) AS distinct_rows
FROM (SELECT id FROM big ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 100000) s;
SELECT * FROM hnsw_pg_check('big_idx');

-- A mixed load: updates and deletes between inserts, still no VACUUM.
UPDATE ins SET v = (SELECT array_agg(random()::real) FROM generate_series(1, 128) WHERE id > 0)::vector
WHERE id % 7 = 0;
DELETE FROM ins WHERE id % 11 = 0;
SELECT count(*) AS returned, count(*) = (SELECT count(*) FROM ins) AS every_row
FROM (SELECT id FROM ins ORDER BY v <-> array_fill(0.5, ARRAY[128])::vector LIMIT 100000) s;
SELECT * FROM hnsw_pg_check('ins_idx');
DROP TABLE ipr, ins, big;
