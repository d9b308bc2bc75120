-- sparsevec: pgvector's sparse vector type, and its hnsw operator classes.
\set VERBOSITY terse
SELECT '{1:1.5,3:2}/5'::sparsevec, ' { 3:2 , 1:1.5, 2:0 } / 5 '::sparsevec, '{}/3'::sparsevec,
       '{1:1}/5'::sparsevec(5);
SELECT '{1:1,1:2}/3'::sparsevec;
SELECT '{4:1}/3'::sparsevec;
SELECT '{0:1}/3'::sparsevec;
SELECT '{1:NaN}/3'::sparsevec;
SELECT '{1:inf}/3'::sparsevec;
SELECT '{1:1e39}/3'::sparsevec;
-- too small for float4 is out of range too (a written zero, or a subnormal, is not)
SELECT '{1:1e-46}/3'::sparsevec;
SELECT '{1:-1e-46}/3'::sparsevec;
SELECT '{1:0e10,2:-0.000,3:1e-40}/3'::sparsevec;
SELECT '{1:1}/0'::sparsevec;
SELECT '{1:1}/1000000001'::sparsevec;
-- dimensions past int64 are as far out of range as any above the limit, or below 1
SELECT '{}/9223372036854775808'::sparsevec;
SELECT '{}/-9223372036854775809'::sparsevec;
SELECT '[1,2]'::sparsevec;
SELECT '{1:1}'::sparsevec;
SELECT '{1:1}/3 x'::sparsevec;
SELECT '{1:1}/3'::sparsevec(4);
-- a column's typmod (which COPY passes to the input function) is checked before the
-- indices, as pgvector checks it
CREATE TABLE sp4 (v sparsevec(4));
COPY sp4 FROM STDIN;
{5:1}/3
\.
DROP TABLE sp4;
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
-- sums over no non-zeros are 0, not -0 (the negated inner product is -0, as in pgvector)
SELECT l2_norm('{}/2'::sparsevec), '{}/3'::sparsevec <-> '{}/3', l1_distance('{}/3'::sparsevec, '{}/3'),
       inner_product('{1:1}/3'::sparsevec, '{2:1}/3'), '{}/3'::sparsevec <#> '{}/3';
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
-- hnsw needs dimensions; a sparsevec(n) column has them
CREATE INDEX ON sp2 USING hnsw (v sparsevec_l2_ops);
DROP TABLE sp, sp2;

-- hnsw: each operator class returns what a sequential scan ranks, with the index
CREATE TABLE spi (id int, v sparsevec(1000));
INSERT INTO spi SELECT i, ('{' || (i % 97 + 1) || ':' || (i % 5 + 1) || ',' || (i % 89 + 300)
    || ':' || (i % 7 + 1) || ',' || (i % 13 + 900) || ':0.5}/1000')::sparsevec
    FROM generate_series(1, 600) i;
INSERT INTO spi VALUES (0, '{}/1000'), (-1, NULL),
    -- 16,000 non-zeros would not fit a row here; 1,000 make a record of two pages
    (1000, ('{' || (SELECT string_agg(k || ':' || k, ',') FROM generate_series(1, 1000) k) || '}/1000')::sparsevec);
-- The distances (by `op`) of the 8 rows a scan ranks first.
CREATE FUNCTION spi_ranked(op text, q sparsevec) RETURNS float8[] LANGUAGE plpgsql AS $$
DECLARE r float8[];
BEGIN
    EXECUTE format('SELECT array_agg(d ORDER BY d) FROM (SELECT v %s $1 AS d FROM spi ORDER BY v %s $1 LIMIT 8) x', op, op)
        INTO r USING q;
    RETURN r;
END $$;
CREATE TABLE spi_expected AS
    SELECT op, q, spi_ranked(op, q) AS distances
    FROM unnest(ARRAY['<->', '<#>', '<=>', '<+>']) op,
         unnest(ARRAY['{5:3,305:2}/1000', '{1:1}/1000', '{950:4}/1000']::sparsevec[]) q;
CREATE INDEX spi_l2 ON spi USING hnsw (v sparsevec_l2_ops);
CREATE INDEX spi_ip ON spi USING hnsw (v sparsevec_ip_ops);
CREATE INDEX spi_cosine ON spi USING hnsw (v sparsevec_cosine_ops);
CREATE INDEX spi_l1 ON spi USING hnsw (v sparsevec_l1_ops);
SET enable_seqscan = off;
SET hnsw.ef_search = 400;
EXPLAIN (COSTS OFF) SELECT id FROM spi ORDER BY v <=> '{1:1}/1000' LIMIT 8;
-- the index's first rows are as near as the sequential scan's (ties may differ in rows)
SELECT op, q, spi_ranked(op, q) = distances AS same FROM spi_expected ORDER BY op, q::text;
-- every row through each index (cosine leaves the zero vector out), inserts included
INSERT INTO spi SELECT id + 10000, v FROM spi WHERE id BETWEEN 1 AND 100;
SELECT (SELECT count(*) FROM (SELECT id FROM spi ORDER BY v <-> '{1:1}/1000' LIMIT 5000) x) AS l2,
       (SELECT count(*) FROM (SELECT id FROM spi ORDER BY v <#> '{1:1}/1000' LIMIT 5000) x) AS ip,
       (SELECT count(*) FROM (SELECT id FROM spi ORDER BY v <=> '{1:1}/1000' LIMIT 5000) x) AS cosine,
       (SELECT count(*) FROM (SELECT id FROM spi ORDER BY v <+> '{1:1}/1000' LIMIT 5000) x) AS l1;
-- the nearest row, then a row and its inserted copy (which pair, among equally near ones,
-- depends on the order the build wrote the nodes in)
SELECT d, count(*) AS rows, count(DISTINCT id % 10000) AS distinct_rows
FROM (SELECT id, v <-> '{1:1}/1000' AS d FROM spi ORDER BY v <-> '{1:1}/1000' LIMIT 3) x
GROUP BY d ORDER BY d;
-- a query of other dimensions
SELECT id FROM spi ORDER BY v <-> '{1:1}/999' LIMIT 1;
-- rows of other dimensions cannot enter a sparsevec(1000) column, nor an index on an
-- expression of another typmod
CREATE INDEX ON spi USING hnsw ((v::sparsevec(2000)) sparsevec_l2_ops);
DELETE FROM spi WHERE id % 3 = 0;
VACUUM spi;
SELECT count(*) FROM (SELECT id FROM spi ORDER BY v <-> '{1:1}/1000' LIMIT 5000) x;
SELECT * FROM hnsw_pg_check('spi_l2');
SELECT * FROM hnsw_pg_check('spi_cosine');
RESET enable_seqscan;
RESET hnsw.ef_search;
DROP TABLE spi, spi_expected;
DROP FUNCTION spi_ranked;
