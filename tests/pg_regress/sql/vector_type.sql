-- Text input and output, typmods, and every input error with its SQLSTATE.
\set VERBOSITY terse
SELECT '[1,2,3]'::vector;
SELECT '  [ 1 , -2.5 ,3e2 ]  '::vector;
SELECT '[1.5e-7,0.00001,0.0001,123456,1234567,-0]'::vector;
SELECT '[3.4028235e38,-3.4028235e38,1e-45]'::vector;
SELECT '[0.1,0.33333334]'::vector;
-- Each element prints as float4out prints it, ties between two shortest forms included
-- (5.19140625 lies exactly between 5.1914062 and 5.1914063).
SELECT '[5.19140625,0.3,1e-45]'::vector, 5.19140625::float4;
SELECT count(*) AS differ FROM (
  SELECT ((CASE WHEN random() < 0.5 THEN -1 ELSE 1 END) * greatest(random(), 0.01)
          * 10 ^ (random() * 74 - 36))::float4 AS f
  FROM generate_series(1, 200000)
  UNION ALL
  SELECT (i % 1000000 / 1000.0)::float4 FROM generate_series(1, 100000) i
) t WHERE ARRAY[f]::vector::text <> '[' || f::text || ']';
SELECT '[1,2,3]'::vector(3);
SELECT vector_dims('[1,2,3,4,5,6,7,8,9]'::vector);
SELECT NULL::vector;
SELECT vector_dims(array_fill(1, ARRAY[16000])::vector);

CREATE TABLE t (v vector(3));
INSERT INTO t VALUES ('[1,2,3]'), (NULL);
SELECT v FROM t ORDER BY v;
SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'v';
SELECT '[1,2]'::vector::vector(2);

-- Errors: the message, then its SQLSTATE.
-- malformed literals (22P02)
SELECT '1,2,3'::vector;
\echo :LAST_ERROR_SQLSTATE
SELECT '[1,2,3'::vector;
\echo :LAST_ERROR_SQLSTATE
SELECT '[1,2,3] x'::vector;
\echo :LAST_ERROR_SQLSTATE
SELECT '[1,,3]'::vector;
\echo :LAST_ERROR_SQLSTATE
SELECT '[1,2,]'::vector;
\echo :LAST_ERROR_SQLSTATE
SELECT '[a]'::vector;
\echo :LAST_ERROR_SQLSTATE
SELECT '[1 2]'::vector;
\echo :LAST_ERROR_SQLSTATE
SELECT ''::vector;
\echo :LAST_ERROR_SQLSTATE
-- NaN and infinity (22000), out of range (22003)
SELECT '[NaN]'::vector;
\echo :LAST_ERROR_SQLSTATE
SELECT '[1,Infinity]'::vector;
\echo :LAST_ERROR_SQLSTATE
SELECT '[-inf]'::vector;
\echo :LAST_ERROR_SQLSTATE
SELECT '[1e39]'::vector;
\echo :LAST_ERROR_SQLSTATE
SELECT '[-1e39]'::vector;
\echo :LAST_ERROR_SQLSTATE
-- empty and too many dimensions (22000, 54000)
SELECT '[]'::vector;
\echo :LAST_ERROR_SQLSTATE
SELECT array_fill(1, ARRAY[16001])::vector;
\echo :LAST_ERROR_SQLSTATE
-- typmod mismatch and bad typmods (22000, 22023)
SELECT '[1,2]'::vector(3);
\echo :LAST_ERROR_SQLSTATE
INSERT INTO t VALUES ('[1,2]');
\echo :LAST_ERROR_SQLSTATE
SELECT '[1,2,3]'::vector::vector(2);
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE bad (v vector(0));
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE bad (v vector(16001));
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE bad (v vector(2, 3));
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE bad (v vector('a'));
\echo :LAST_ERROR_SQLSTATE
-- the error message with its detail, once
\set VERBOSITY default
SELECT '[1,2'::vector;
\set VERBOSITY terse
DROP TABLE t;
