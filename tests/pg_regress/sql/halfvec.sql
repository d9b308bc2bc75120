-- halfvec: float16 elements with vector's text, functions and operators. Integers and
-- halves here are exact in float16, so every result is exact.
\set VERBOSITY terse
-- input rounds each float4 to the nearest float16; output is the float4 text of the half
SELECT '[0.1,1,65504,-65504,1e-8]'::halfvec, ' [ 1 , -2.5 ] '::halfvec, '[1,2,3]'::halfvec(3);
SELECT '[65520]'::halfvec;
SELECT '[1e39]'::halfvec;
SELECT '[inf]'::halfvec;
SELECT '[NaN]'::halfvec;
SELECT '[]'::halfvec;
SELECT '[1,2'::halfvec;
SELECT '[1,2]x'::halfvec;
SELECT '[1,2]'::halfvec(3);
SELECT '[1]'::halfvec(0);
SELECT '[1]'::halfvec(16001);
SELECT array_fill(1, ARRAY[16001])::halfvec;
SELECT vector_dims(array_fill(1, ARRAY[16000])::halfvec);
-- distances (operators and functions)
SELECT '[1,2]'::halfvec <-> '[4,6]' AS l2, l2_distance('[0,0]'::halfvec, '[3,4]'::halfvec);
SELECT '[1,2]'::halfvec <#> '[3,4]' AS neg_ip, inner_product('[1,2]'::halfvec, '[3,4]'::halfvec);
SELECT '[1,2]'::halfvec <=> '[2,4]' AS same, cosine_distance('[1,0]'::halfvec, '[0,1]'::halfvec) AS orthogonal,
       '[0,0]'::halfvec <=> '[1,2]' AS zero;
SELECT '[1,2]'::halfvec <+> '[4,7]' AS l1, l1_distance('[-1,-1]'::halfvec, '[1,1]'::halfvec);
SELECT halfvec_l2_squared_distance('[0,0]', '[3,4]'), halfvec_negative_inner_product('[1,2]', '[3,4]'),
       halfvec_spherical_distance('[1,0]', '[0,1]');
SELECT array_fill(2, ARRAY[17])::halfvec <-> array_fill(1, ARRAY[17])::halfvec AS l2_17,
       array_fill(2, ARRAY[33])::halfvec <#> array_fill(3, ARRAY[33])::halfvec AS ip_33;
SELECT '[1,2]'::halfvec <-> '[1,2,3]';
-- other functions
SELECT vector_dims('[1,2,3]'::halfvec), l2_norm('[3,4]'::halfvec), l2_normalize('[3,4]'::halfvec),
       l2_normalize('[0,0]'::halfvec);
SELECT subvector('[1,2,3,4,5]'::halfvec, 2, 3), subvector('[1,2,3,4,5]'::halfvec, 4, 10);
SELECT subvector('[1,2,3]'::halfvec, 5, 1);
-- arithmetic: results narrowed to float16, with pgvector's range errors
SELECT '[1,2]'::halfvec + '[3,4]', '[1,2]'::halfvec - '[3,5]', '[1,2]'::halfvec * '[3,5]',
       '[1,2]'::halfvec || '[3]';
SELECT '[60000]'::halfvec + '[60000]';
SELECT '[-60000]'::halfvec - '[60000]';
SELECT '[300]'::halfvec * '[300]';
SELECT '[0.0001]'::halfvec * '[0.0001]';
SELECT '[1,2]'::halfvec + '[1]';
-- comparison and btree
SELECT '[1,2]'::halfvec < '[1,3]', '[1,2]'::halfvec = '[1,2]', '[1,2]'::halfvec <> '[1,2,0]',
       '[2]'::halfvec > '[1,5]', halfvec_cmp('[1,2]', '[1,2]'), halfvec_cmp('[1,2,0]', '[1,2]');
CREATE TABLE halves (id int, v halfvec);
INSERT INTO halves VALUES (1, '[3,1]'), (2, '[1,2]'), (3, '[1,2,0]'), (4, '[1,1]'), (5, NULL);
CREATE INDEX ON halves (v);
SET enable_seqscan = off;
SELECT id, v FROM halves ORDER BY v;
SELECT id FROM halves WHERE v = '[1,2]';
RESET enable_seqscan;
-- aggregates
SELECT avg(v), sum(v) FROM halves WHERE id < 3;
SELECT avg(v), sum(v) FROM halves WHERE false;
SELECT avg(v) FROM halves;
SELECT avg(v) FROM (VALUES ('[60000]'::halfvec), ('[65504]')) t(v);
SELECT sum(v) FROM (VALUES ('[60000]'::halfvec), ('[60000]')) t(v);
SELECT halfvec_avg('{1,NULL}');
SELECT halfvec_avg(array_fill(1::float8, ARRAY[16002]));
-- casts: vector -> halfvec is implicit, halfvec -> vector and real[] on assignment
SELECT '[1,2,3]'::vector::halfvec, '[1,2,3]'::halfvec::vector, '[1,2]'::halfvec::real[];
SELECT '{1,2,3}'::int[]::halfvec, '{1.5,2}'::real[]::halfvec, '{1.5,2}'::float8[]::halfvec,
       '{1.5,2}'::numeric[]::halfvec(2);
SELECT '[1e5]'::vector::halfvec;
SELECT '{1e5}'::real[]::halfvec;
SELECT '{1e300}'::float8[]::halfvec;
SELECT '{NULL}'::real[]::halfvec;
SELECT '{{1}}'::real[]::halfvec;
SELECT '{}'::real[]::halfvec;
SELECT '{1,2}'::real[]::halfvec(3);
SELECT '[1,2]'::vector::halfvec(3);
SELECT '[1,2]'::halfvec::vector(3);
CREATE TABLE assigned (v halfvec(2), w vector(2));
INSERT INTO assigned VALUES ('[1,2]'::vector, '[3,4]'::halfvec);
INSERT INTO assigned VALUES ('{5,6}'::real[], '[7,8]'::halfvec);
SELECT * FROM assigned;
-- the binary format (binary COPY round-trips it in binary_copy)
SELECT halfvec_send('[1,-2]');
-- hnsw on halfvec: every operator class, float16 in the pages
CREATE TABLE hv (id int, v halfvec(3));
INSERT INTO hv SELECT i, ARRAY[i % 7, i % 11, (i % 13) + 1] FROM generate_series(1, 1500) i;
CREATE INDEX hv_l2 ON hv USING hnsw (v halfvec_l2_ops);
CREATE INDEX hv_ip ON hv USING hnsw (v halfvec_ip_ops);
CREATE INDEX hv_cos ON hv USING hnsw (v halfvec_cosine_ops);
CREATE INDEX hv_l1 ON hv USING hnsw (v halfvec_l1_ops);
INSERT INTO hv SELECT i, ARRAY[i % 5, i % 3, 1] FROM generate_series(1501, 2000) i;
SET enable_seqscan = off;
EXPLAIN (costs off) SELECT id FROM hv ORDER BY v <-> '[1,2,3]' LIMIT 3;
-- each index returns every row, in the order of the exact distance (a cosine index of
-- halfvec computes cosine in full, so it ranks exactly as <=> does)
CREATE FUNCTION same_as_exact(q text, op text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE by_index float8[]; exact float8[];
BEGIN
  SET LOCAL enable_seqscan = off;
  EXECUTE format('SELECT array_agg(d) FROM (SELECT v %s %L::halfvec AS d FROM hv ORDER BY v %s %L::halfvec LIMIT 2000) s', op, q, op, q) INTO by_index;
  SET LOCAL enable_indexscan = off;
  SET LOCAL enable_seqscan = on;
  EXECUTE format('SELECT array_agg(d) FROM (SELECT v %s %L::halfvec AS d FROM hv ORDER BY v %s %L::halfvec) s', op, q, op, q) INTO exact;
  RETURN array_length(by_index, 1) = 2000 AND by_index[1:10] = exact[1:10];
END $$;
SELECT op, same_as_exact('[1,2,3]', op) FROM unnest(ARRAY['<->', '<#>', '<=>', '<+>']) op;
SELECT * FROM hnsw_pg_check('hv_l2');
SELECT * FROM hnsw_pg_check('hv_cos');
DELETE FROM hv WHERE id % 3 = 0;
VACUUM hv;
SELECT count(*) FROM (SELECT id FROM hv ORDER BY v <-> '[1,2,3]' LIMIT 5000) s;
SELECT * FROM hnsw_pg_check('hv_l2');
-- a float16 index of a vector column (pgvector's halfvec expression index)
CREATE TABLE emb (id int, embedding vector(4));
INSERT INTO emb SELECT i, ARRAY[i % 3, i % 5, i % 7, 1] FROM generate_series(1, 500) i;
CREATE INDEX emb_half ON emb USING hnsw ((embedding::halfvec(4)) halfvec_l2_ops);
EXPLAIN (costs off) SELECT id FROM emb ORDER BY embedding::halfvec(4) <-> '[1,2,3,1]' LIMIT 3;
SELECT embedding::halfvec(4) <-> '[1,2,3,1]' AS d FROM emb ORDER BY embedding::halfvec(4) <-> '[1,2,3,1]' LIMIT 3;
-- half the vector pages of the vector index over the same values
CREATE TABLE wide (v vector(512));
INSERT INTO wide SELECT array_fill(i::real, ARRAY[512]) FROM generate_series(1, 400) i;
CREATE INDEX wide_full ON wide USING hnsw (v vector_l2_ops);
CREATE INDEX wide_half ON wide USING hnsw ((v::halfvec(512)) halfvec_l2_ops);
SELECT pg_relation_size('wide_half')::float8 / pg_relation_size('wide_full') < 0.62 AS about_half;
-- a halfvec column without dimensions cannot be indexed
CREATE TABLE nodims (v halfvec);
CREATE INDEX ON nodims USING hnsw (v halfvec_l2_ops);
RESET enable_seqscan;
DROP TABLE halves, assigned, hv, emb, wide, nodims;
DROP FUNCTION same_as_exact;
