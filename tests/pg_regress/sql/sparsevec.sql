-- sparsevec: pgvector's sparse vector type. No hnsw operator classes yet.
\set VERBOSITY terse
SELECT '{1:1.5,3:2}/5'::sparsevec, ' { 3:2 , 1:1.5, 2:0 } / 5 '::sparsevec, '{}/3'::sparsevec,
       '{1:1}/5'::sparsevec(5);
SELECT '{1:1,1:2}/3'::sparsevec;
SELECT '{4:1}/3'::sparsevec;
SELECT '{0:1}/3'::sparsevec;
SELECT '{1:NaN}/3'::sparsevec;
SELECT '{1:inf}/3'::sparsevec;
SELECT '{1:1e39}/3'::sparsevec;
SELECT '{1:1}/0'::sparsevec;
SELECT '{1:1}/1000000001'::sparsevec;
SELECT '[1,2]'::sparsevec;
SELECT '{1:1}'::sparsevec;
SELECT '{1:1}/3 x'::sparsevec;
SELECT '{1:1}/3'::sparsevec(4);
SELECT '{1:1}/3'::sparsevec(0);
SELECT '{1:1}/1000000000'::sparsevec;
-- distances, as the dense vectors' (l2 5, ip 11 -> -11, cosine, l1)
SELECT '{1:1,2:2}/3'::sparsevec <-> '{1:4,2:6}/3' AS l2, '{1:1,2:2}/3'::sparsevec <#> '{1:3,2:4}/3' AS neg_ip,
       '{1:1,2:2}/3'::sparsevec <=> '{1:2,2:4}/3' AS same, '{1:1}/2'::sparsevec <=> '{2:1}/2' AS orthogonal,
       '{}/2'::sparsevec <=> '{1:1}/2' AS zero, '{1:1,2:2}/3'::sparsevec <+> '{1:4,3:7}/3' AS l1;
SELECT l2_distance('{1:3}/2'::sparsevec, '{2:4}/2'), inner_product('{1:3,2:1}/2'::sparsevec, '{2:4}/2'),
       cosine_distance('{1:1}/2'::sparsevec, '{1:-1}/2'), l1_distance('{1:3}/2'::sparsevec, '{2:4}/2'),
       sparsevec_l2_squared_distance('{1:3}/2', '{2:4}/2'), sparsevec_negative_inner_product('{1:3}/2', '{1:4}/2');
SELECT '{1:1}/2'::sparsevec <-> '{1:1}/3';
SELECT l2_norm('{1:3,5:4}/9'::sparsevec), l2_normalize('{1:3,5:4}/9'::sparsevec), l2_normalize('{}/9'::sparsevec);
-- comparison and btree: as the dense vectors compare, then fewer dimensions first
SELECT '{1:1}/2'::sparsevec < '{1:2}/2', '{2:1}/2'::sparsevec > '{1:1}/2', '{1:1}/2'::sparsevec = '{1:1}/2',
       '{1:1}/2'::sparsevec < '{1:1}/3', sparsevec_cmp('{}/2', '{1:-1}/2');
CREATE TABLE sp (id int, v sparsevec(4));
INSERT INTO sp VALUES (1, '{1:3}/4'), (2, '{2:1}/4'), (3, '{1:1,4:1}/4'), (4, '{}/4'), (5, NULL);
CREATE INDEX ON sp (v);
SET enable_seqscan = off;
SELECT id, v FROM sp ORDER BY v;
SELECT id FROM sp WHERE v = '{2:1}/4';
RESET enable_seqscan;
SELECT id, v <-> '{1:1}/4' AS d FROM sp ORDER BY v <-> '{1:1}/4', id;
-- casts: between vector, halfvec and sparsevec on assignment
SELECT '[0,1.5,0,2]'::vector::sparsevec, '{2:1.5,4:2}/4'::sparsevec::vector,
       '[0,1,0]'::halfvec::sparsevec, '{1:0.1}/2'::sparsevec::halfvec;
SELECT '{1:1}/20000'::sparsevec::vector;
SELECT '{1:1e5}/2'::sparsevec::halfvec;
SELECT '[1,2]'::vector::sparsevec(3);
INSERT INTO sp (v) VALUES ('[1,0,0,2]'::vector);
SELECT v FROM sp WHERE id IS NULL;
-- binary COPY round-trips, and sparsevec_send's bytes (indices 0-based)
SELECT sparsevec_send('{1:1,3:2}/5');
CREATE TABLE sp2 (id int, v sparsevec);
\copy sp TO 'sparse.bin' WITH (FORMAT binary)
\copy sp2 FROM 'sparse.bin' WITH (FORMAT binary)
SELECT count(*) AS mismatches FROM sp JOIN sp2 USING (id) WHERE sp.v IS DISTINCT FROM sp2.v;
-- no hnsw operator class for sparsevec yet
CREATE INDEX ON sp USING hnsw (v sparsevec_l2_ops);
DROP TABLE sp, sp2;
