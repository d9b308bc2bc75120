-- Every operator and function on small integer vectors, so results are exact.
\set VERBOSITY terse
SELECT '[0,0]'::vector <-> '[3,4]' AS l2, l2_distance('[1,2]'::vector, '[4,6]');
SELECT '[1,2,3]'::vector <#> '[4,5,6]' AS neg_ip, inner_product('[1,2,3]'::vector, '[4,5,6]');
SELECT '[1,1]'::vector <=> '[-1,-1]' AS opposite, cosine_distance('[1,2]'::vector, '[2,4]') AS same,
       cosine_distance('[1,0]'::vector, '[0,1]') AS orthogonal;
SELECT '[0,0]'::vector <=> '[1,2]' AS zero_left, cosine_distance('[1,2]'::vector, '[0,0]') AS zero_right;
SELECT '[1,2,3]'::vector <+> '[4,0,3]' AS l1, l1_distance('[-1,-1]'::vector, '[1,1]');
SELECT vector_l2_squared_distance('[0,0]', '[3,4]'), vector_negative_inner_product('[1,2]', '[3,4]');
SELECT vector_spherical_distance('[1,0]', '[0,1]'), vector_spherical_distance('[1,0]', '[-1,0]');
-- 17 and 33 dimensions: the SIMD main loop plus a tail
SELECT array_fill(2, ARRAY[17])::vector <-> array_fill(1, ARRAY[17])::vector AS l2_17,
       array_fill(2, ARRAY[33])::vector <#> array_fill(3, ARRAY[33])::vector AS ip_33,
       array_fill(2, ARRAY[33])::vector <+> array_fill(-1, ARRAY[33])::vector AS l1_33;
SELECT '[1,2]'::vector + '[3,4]', '[1,2]'::vector - '[3,5]', '[1,2]'::vector * '[3,5]';
SELECT '[1,2]'::vector || '[3]';
SELECT vector_dims('[1,2,3]'::vector), vector_norm('[3,4]'), vector_norm('[0,0]');
SELECT l2_normalize('[3,4]'::vector), l2_normalize('[0,0]'::vector), l2_normalize('[0,5]'::vector);
SELECT subvector('[1,2,3,4,5]'::vector, 2, 3), subvector('[1,2,3,4,5]'::vector, 4, 10), subvector('[1,2,3,4,5]'::vector, 0, 2);
-- comparison and btree
SELECT '[1,2]'::vector < '[1,3]', '[1,2]'::vector <= '[1,2]', '[1,2]'::vector = '[1,2]',
       '[1,2]'::vector <> '[1,2]', '[1,2]'::vector >= '[1]', '[2]'::vector > '[1,5]';
SELECT vector_cmp('[1,2]', '[1,3]'), vector_cmp('[1,2]', '[1,2]'), vector_cmp('[1,2,0]', '[1,2]');
CREATE TABLE items (id int, v vector);
INSERT INTO items VALUES (1, '[3,1]'), (2, '[1,2]'), (3, '[1,2,0]'), (4, '[1,1]'), (5, NULL);
CREATE INDEX ON items (v);
SET enable_seqscan = off;
SELECT id, v FROM items ORDER BY v;
SELECT id FROM items WHERE v = '[1,2]';
RESET enable_seqscan;
SELECT DISTINCT v FROM (VALUES ('[1,2]'::vector), ('[1,2]'), ('[2,1]')) AS x(v) ORDER BY v;
-- k-NN by exact search
SELECT id, v <-> '[1,1]' AS d FROM items WHERE v IS NOT NULL AND vector_dims(v) = 2 ORDER BY v <-> '[1,1]' LIMIT 2;
DROP TABLE items;

-- Errors: the message, then its SQLSTATE.
-- dimension mismatch between operands (22000)
SELECT '[1,2]'::vector <-> '[1,2,3]';
\echo :LAST_ERROR_SQLSTATE
SELECT '[1,2]'::vector <#> '[1,2,3]';
\echo :LAST_ERROR_SQLSTATE
SELECT '[1,2]'::vector <=> '[1,2,3]';
\echo :LAST_ERROR_SQLSTATE
SELECT '[1,2]'::vector <+> '[1,2,3]';
\echo :LAST_ERROR_SQLSTATE
SELECT '[1,2]'::vector + '[1,2,3]';
\echo :LAST_ERROR_SQLSTATE
SELECT '[1,2]'::vector - '[1]';
\echo :LAST_ERROR_SQLSTATE
SELECT '[1,2]'::vector * '[1]';
\echo :LAST_ERROR_SQLSTATE
-- overflow and underflow (22003)
SELECT '[3e38]'::vector + '[3e38]';
\echo :LAST_ERROR_SQLSTATE
SELECT '[-3e38]'::vector - '[3e38]';
\echo :LAST_ERROR_SQLSTATE
SELECT '[1e30]'::vector * '[1e30]';
\echo :LAST_ERROR_SQLSTATE
SELECT '[1e-30]'::vector * '[1e-30]';
\echo :LAST_ERROR_SQLSTATE
-- concatenation past the limit (54000)
SELECT array_fill(1, ARRAY[16000])::vector || '[1]';
\echo :LAST_ERROR_SQLSTATE
-- subvector with nothing left (22000)
SELECT subvector('[1,2,3]'::vector, 4, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT subvector('[1,2,3]'::vector, 1, 0);
\echo :LAST_ERROR_SQLSTATE
SELECT subvector('[1,2,3]'::vector, -5, 3);
\echo :LAST_ERROR_SQLSTATE
-- products that round to zero sum to 0, not -0, at every width (the AVX2 kernels fuse
-- the multiply and the add); <#> of zero is -0, as pgvector's
SELECT n, inner_product(array_fill(-1e-30::real, ARRAY[n])::vector, array_fill(1e-30::real, ARRAY[n])::vector),
       inner_product(array_fill(-1e-30::real, ARRAY[n])::vector::halfvec, array_fill(1::real, ARRAY[n])::vector::halfvec),
       array_fill(-1e-30::real, ARRAY[n])::vector <#> array_fill(1e-30::real, ARRAY[n])::vector
FROM unnest(ARRAY[3, 16, 40]) n;
