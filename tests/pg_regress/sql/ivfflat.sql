-- USING ivfflat: pgvector's IVFFlat indexes, served by the hnsw graph. ivfflat.probes =
-- lists gives exact results; fewer probes, a beam of 40 per probe.
\set VERBOSITY terse
CREATE TABLE iv (id int, v vector(3), h halfvec(3), b bit(8));
INSERT INTO iv SELECT i, ARRAY[i % 7, i % 11, (i % 13) + 1], ARRAY[i % 5, i % 3, 1],
  ((i * 37) % 256)::bit(8) FROM generate_series(1, 3000) i;
CREATE INDEX iv_l2 ON iv USING ivfflat (v vector_l2_ops) WITH (lists = 10);
CREATE INDEX iv_ip ON iv USING ivfflat (v vector_ip_ops) WITH (lists = 10);
CREATE INDEX iv_cos ON iv USING ivfflat (v vector_cosine_ops) WITH (lists = 10);
CREATE INDEX iv_half ON iv USING ivfflat (h halfvec_l2_ops) WITH (lists = 10);
CREATE INDEX iv_bit ON iv USING ivfflat (b bit_hamming_ops) WITH (lists = 10);
CREATE INDEX iv_default ON iv USING ivfflat (v);
INSERT INTO iv SELECT i, ARRAY[i % 5, i % 3, 1], ARRAY[i % 7, 2, 1], ((i * 11) % 256)::bit(8)
  FROM generate_series(3001, 3500) i;
SELECT indexrelid::regclass, pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'iv'::regclass ORDER BY 1;
-- reloptions and settings
CREATE INDEX ON iv USING ivfflat (v) WITH (lists = 0);
CREATE INDEX ON iv USING ivfflat (v) WITH (lists = 32769);
CREATE INDEX ON iv USING ivfflat (v) WITH (m = 16);
CREATE INDEX ON iv USING ivfflat (v vector_l1_ops);
SET ivfflat.probes = 0;
SET ivfflat.iterative_scan = strict_order;
SET ivfflat.max_probes = 40000;
SHOW ivfflat.probes;
SHOW ivfflat.iterative_scan;
SHOW ivfflat.max_probes;
SET enable_seqscan = off;
EXPLAIN (costs off) SELECT id FROM iv ORDER BY v <-> '[1,2,3]' LIMIT 3;
DROP INDEX iv_default;
-- probes = lists: every row, in the order (and with the distances) of a seq scan. To 6
-- decimals: a cosine index ranks by float4 inner products of unit vectors, which can
-- order two distances that differ by about 1e-7 the other way (as pgvector's does).
CREATE FUNCTION same_as_exact(col text, q text, op text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE by_index text; exact text;
BEGIN
  SET LOCAL enable_seqscan = off;
  SET LOCAL ivfflat.probes = 10;
  EXECUTE format('SELECT string_agg(round(d::numeric, 6)::text, '','' ORDER BY n) FROM (SELECT %s %s %L AS d, row_number() OVER () AS n FROM (SELECT %s FROM iv ORDER BY %s %s %L) s) t', col, op, q, col, col, op, q) INTO by_index;
  SET LOCAL enable_indexscan = off;
  SET LOCAL enable_seqscan = on;
  EXECUTE format('SELECT string_agg(round(d::numeric, 6)::text, '','' ORDER BY n) FROM (SELECT %s %s %L AS d, row_number() OVER () AS n FROM (SELECT %s FROM iv ORDER BY %s %s %L) s) t', col, op, q, col, col, op, q) INTO exact;
  RETURN by_index = exact;
END $$;
SELECT same_as_exact('v', '[1,2,3]', '<->') AS l2, same_as_exact('v', '[1,2,3]', '<#>') AS ip,
       same_as_exact('v', '[1,2,3]', '<=>') AS cosine, same_as_exact('h', '[1,2,3]', '<->') AS half,
       same_as_exact('b', '10101010', '<~>') AS hamming;
SET ivfflat.probes = 10;
SELECT count(*) FROM (SELECT id FROM iv ORDER BY v <-> '[1,2,3]' LIMIT 5000) s;
SELECT count(*) FROM (SELECT id FROM iv WHERE id % 100 = 0 ORDER BY v <-> '[1,2,3]' LIMIT 50) s;
-- fewer probes: a graph search; off stops after the first beam (40 a probe)
SET ivfflat.probes = 1;
SET ivfflat.iterative_scan = off;
SELECT count(DISTINCT v) AS nodes, count(*) > count(DISTINCT v) AS with_copies
FROM (SELECT id, v FROM iv ORDER BY v <-> '[1,2,3]' LIMIT 5000) s;
SET ivfflat.iterative_scan = relaxed_order;
SELECT count(*) FROM (SELECT id FROM iv ORDER BY v <-> '[1,2,3]' LIMIT 5000) s;
SELECT count(*) FROM (SELECT id FROM iv WHERE id % 100 = 0 ORDER BY v <-> '[1,2,3]' LIMIT 50) s;
-- max_probes bounds a scan that goes on: 1 of 10 lists, about a tenth of the nodes
SET ivfflat.max_probes = 1;
SELECT count(*) < 1000 AS bounded FROM (SELECT id FROM iv ORDER BY v <-> '[1,2,3]' LIMIT 5000) s;
-- ... but never one that probes every list (exact), nor one that does not go on
SET ivfflat.probes = 10;
SELECT count(*) FROM (SELECT id FROM iv ORDER BY v <-> '[1,2,3]' LIMIT 5000) s;
SET ivfflat.iterative_scan = off;
SELECT count(*) FROM (SELECT id FROM iv ORDER BY v <-> '[1,2,3]' LIMIT 5000) s;
SET ivfflat.probes = 1;
SELECT count(DISTINCT v) AS nodes, count(*) > count(DISTINCT v) AS with_copies
FROM (SELECT id, v FROM iv ORDER BY v <-> '[1,2,3]' LIMIT 5000) s;
SET ivfflat.iterative_scan = relaxed_order;
RESET ivfflat.max_probes;
-- DML, VACUUM and the checker work as on hnsw
DELETE FROM iv WHERE id % 3 = 0;
VACUUM iv;
SET ivfflat.probes = 10;
SELECT count(*) FROM (SELECT id FROM iv ORDER BY v <-> '[1,2,3]') s;
SELECT * FROM hnsw_pg_check('iv_l2');
SELECT * FROM hnsw_pg_check('iv_bit');
RESET enable_seqscan;
RESET ivfflat.probes;
RESET ivfflat.iterative_scan;
DROP TABLE iv;
DROP FUNCTION same_as_exact;
