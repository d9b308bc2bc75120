-- pgvector's functions on Postgres' bit type, binary quantization, and hnsw on bit.
\set VERBOSITY terse
SELECT binary_quantize('[1,-1,0,2,3,-4,5,6,7]'::vector), binary_quantize('[1,-1,0.5]'::halfvec),
       binary_quantize('[-0.0]'::vector);
SELECT '101'::bit(3) <~> '011' AS hamming, hamming_distance('1111', '0000'),
       '1100'::bit(4) <%> '1010' AS jaccard, jaccard_distance('0000', '0000') AS nothing_shared,
       jaccard_distance('1000', '1000') AS same;
SELECT hamming_distance(repeat('1', 1000)::bit(1000), repeat('0', 1000)::bit(1000));
SELECT '101'::bit(3) <~> '01';
\echo :LAST_ERROR_SQLSTATE
SELECT '101'::bit(3) <%> '01';
\echo :LAST_ERROR_SQLSTATE
-- hnsw: bit_hamming_ops and bit_jaccard_ops
CREATE TABLE bt (id int, b bit(70));
INSERT INTO bt SELECT i, (SELECT string_agg(CASE WHEN (i * 7 + j * 13) % 5 < 2 THEN '1' ELSE '0' END, '')
  FROM generate_series(1, 70) j)::bit(70) FROM generate_series(1, 3000) i;
CREATE INDEX bt_h ON bt USING hnsw (b bit_hamming_ops);
CREATE INDEX bt_j ON bt USING hnsw (b bit_jaccard_ops);
INSERT INTO bt SELECT i, (SELECT string_agg(CASE WHEN (i * 3 + j) % 4 = 0 THEN '1' ELSE '0' END, '')
  FROM generate_series(1, 70) j)::bit(70) FROM generate_series(3001, 3500) i;
SET enable_seqscan = off;
EXPLAIN (costs off) SELECT id FROM bt ORDER BY b <~> repeat('10', 35)::bit(70) LIMIT 3;
EXPLAIN (costs off) SELECT id FROM bt ORDER BY b <%> repeat('10', 35)::bit(70) LIMIT 3;
-- every row, nearest first, as the exact distances order them
CREATE FUNCTION same_as_exact(q bit, op text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE by_index float8[]; exact float8[];
BEGIN
  SET LOCAL enable_seqscan = off;
  EXECUTE format('SELECT array_agg(d) FROM (SELECT b %s %L::bit(70) AS d FROM bt ORDER BY b %s %L::bit(70) LIMIT 3500) s', op, q, op, q) INTO by_index;
  SET LOCAL enable_indexscan = off;
  SET LOCAL enable_seqscan = on;
  EXECUTE format('SELECT array_agg(d) FROM (SELECT b %s %L::bit(70) AS d FROM bt ORDER BY b %s %L::bit(70)) s', op, q, op, q) INTO exact;
  RETURN array_length(by_index, 1) = 3500 AND by_index[1:20] = exact[1:20];
END $$;
SELECT op, same_as_exact(repeat('10', 35)::bit(70), op) FROM unnest(ARRAY['<~>', '<%>']) op;
SELECT * FROM hnsw_pg_check('bt_h');
SELECT * FROM hnsw_pg_check('bt_j');
DELETE FROM bt WHERE id % 2 = 0;
VACUUM bt;
SELECT count(*) FROM (SELECT id FROM bt ORDER BY b <~> repeat('10', 35)::bit(70) LIMIT 5000) s;
SELECT * FROM hnsw_pg_check('bt_h');
-- a query of another length is refused by the scan
SELECT id FROM bt ORDER BY b <~> '101'::bit(3) LIMIT 1;
\echo :LAST_ERROR_SQLSTATE
-- pgvector's binary quantization pattern: a bit index, then exact re-ranking
CREATE TABLE items (id int, embedding vector(3));
INSERT INTO items SELECT i, ARRAY[(i % 7) - 3, (i % 5) - 2, (i % 3) - 1] FROM generate_series(1, 1000) i;
CREATE INDEX items_bq ON items USING hnsw ((binary_quantize(embedding)::bit(3)) bit_hamming_ops);
EXPLAIN (costs off) SELECT id FROM (
  SELECT id, embedding FROM items ORDER BY binary_quantize(embedding)::bit(3) <~> binary_quantize('[1,-2,3]'::vector) LIMIT 20
) t ORDER BY embedding <=> '[1,-2,3]' LIMIT 5;
SELECT embedding FROM (
  SELECT id, embedding FROM items ORDER BY binary_quantize(embedding)::bit(3) <~> binary_quantize('[1,-2,3]'::vector) LIMIT 20
) t ORDER BY embedding <=> '[1,-2,3]', id LIMIT 3;
-- limits: bit(64000) is indexed, longer is not
CREATE TABLE long_bits (b bit(64000));
INSERT INTO long_bits SELECT repeat(CASE WHEN i % 2 = 0 THEN '10' ELSE '01' END, 32000)::bit(64000) FROM generate_series(1, 20) i;
CREATE INDEX ON long_bits USING hnsw (b bit_hamming_ops);
SELECT b <~> repeat('10', 32000)::bit(64000) AS d FROM long_bits ORDER BY b <~> repeat('10', 32000)::bit(64000) LIMIT 2;
CREATE TABLE too_long (b bit(64001));
CREATE INDEX ON too_long USING hnsw (b bit_hamming_ops);
\echo :LAST_ERROR_SQLSTATE
-- bit varying coerces to bit, but its values may be shorter than its length: refused
CREATE TABLE varying_bits (b bit varying(10));
CREATE INDEX ON varying_bits USING hnsw (b bit_hamming_ops);
\echo :LAST_ERROR_SQLSTATE
CREATE INDEX ON varying_bits USING ivfflat (b bit_hamming_ops);
\echo :LAST_ERROR_SQLSTATE
CREATE INDEX ON varying_bits USING hnsw ((b::bit(10)) bit_hamming_ops);
-- every row deleted and vacuumed: the checker finds nothing, before and after an insert
CREATE TABLE gone (v bit(8));
CREATE INDEX gone_h ON gone USING hnsw (v bit_hamming_ops);
INSERT INTO gone SELECT (i * 7)::bit(8) FROM generate_series(1, 100) i;
DELETE FROM gone;
VACUUM gone;
SELECT * FROM hnsw_pg_check('gone_h');
INSERT INTO gone VALUES ('10101010'), ('01010101');
SELECT * FROM hnsw_pg_check('gone_h');
SELECT v FROM gone ORDER BY v <~> '11111111' LIMIT 5;
VACUUM gone;
SELECT * FROM hnsw_pg_check('gone_h');
RESET enable_seqscan;
DROP TABLE bt, items, long_bits, too_long, varying_bits, gone;
DROP FUNCTION same_as_exact;
