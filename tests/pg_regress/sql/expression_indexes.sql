-- The index patterns of pgvector's README: a subvector index, partial indexes, and the
-- half-precision and binary-quantized expression indexes (also in halfvec and bit).
\set VERBOSITY terse
CREATE TABLE docs (id int, category int, embedding vector(6));
INSERT INTO docs SELECT i, i % 4, ARRAY[i % 7, i % 5, i % 3, (i * 7) % 11, 1, (i * 3) % 13]
  FROM generate_series(1, 2000) i;
SET enable_seqscan = off;
-- a subvector index: the first 3 dimensions
CREATE INDEX docs_sub ON docs USING hnsw ((subvector(embedding, 1, 3)::vector(3)) vector_cosine_ops);
EXPLAIN (costs off) SELECT id FROM docs ORDER BY subvector(embedding, 1, 3)::vector(3) <=> '[1,2,3]' LIMIT 5;
SELECT subvector(embedding, 1, 3) AS first3, subvector(embedding, 1, 3)::vector(3) <=> '[1,2,3]' AS d
  FROM docs ORDER BY subvector(embedding, 1, 3)::vector(3) <=> '[1,2,3]' LIMIT 3;
-- as half precision
CREATE INDEX docs_sub_half ON docs USING hnsw ((subvector(embedding, 4, 3)::halfvec(3)) halfvec_l2_ops);
EXPLAIN (costs off) SELECT id FROM docs ORDER BY subvector(embedding, 4, 3)::halfvec(3) <-> '[1,1,1]' LIMIT 5;
-- a partial index: used for queries whose WHERE implies its predicate
CREATE INDEX docs_cat1 ON docs USING hnsw (embedding vector_l2_ops) WHERE (category = 1);
EXPLAIN (costs off) SELECT id FROM docs WHERE category = 1 ORDER BY embedding <-> '[1,2,3,4,1,5]' LIMIT 5;
SELECT count(*), bool_and(category = 1) FROM (
  SELECT id, category FROM docs WHERE category = 1 ORDER BY embedding <-> '[1,2,3,4,1,5]' LIMIT 1000) s;
-- rows added later land in the partial index only when they match its predicate
INSERT INTO docs VALUES (5001, 1, '[1,2,3,4,1,5]'), (5002, 2, '[1,2,3,4,1,5]');
SELECT id FROM docs WHERE category = 1 ORDER BY embedding <-> '[1,2,3,4,1,5]' LIMIT 1;
SELECT * FROM hnsw_pg_check('docs_cat1');
SELECT * FROM hnsw_pg_check('docs_sub');
-- a partial ivfflat index and an exact scan through it
CREATE INDEX docs_cat2_ivf ON docs USING ivfflat (embedding vector_l2_ops) WITH (lists = 4) WHERE (category = 2);
SET ivfflat.probes = 4;
EXPLAIN (costs off) SELECT id FROM docs WHERE category = 2 ORDER BY embedding <-> '[1,2,3,4,1,5]' LIMIT 5;
SELECT count(*) FROM (SELECT id FROM docs WHERE category = 2 ORDER BY embedding <-> '[1,2,3,4,1,5]') s;
RESET ivfflat.probes;
RESET enable_seqscan;
DROP TABLE docs;
