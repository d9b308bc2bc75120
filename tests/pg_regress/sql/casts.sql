-- Array casts both ways and their errors.
\set VERBOSITY terse
SELECT ARRAY[1,2,3]::vector, ARRAY[1.5,2.5]::real[]::vector, ARRAY[1.25,-2]::float8[]::vector,
       ARRAY[1.5,2]::numeric[]::vector;
SELECT '[1,2.5,3]'::vector::real[];
SELECT ARRAY[1,2,3]::vector(3);
SELECT '{1,2}'::int[]::vector;
CREATE TABLE c (v vector(2));
INSERT INTO c VALUES (ARRAY[1,2]), (ARRAY[3.5,4]::real[]), (ARRAY[5,6]::float8[]), (ARRAY[7,8]::numeric[]);
SELECT v, v::real[] AS reals FROM c ORDER BY 1;
DROP TABLE c;
-- Errors: the message, then its SQLSTATE.
SELECT ARRAY[[1,2],[3,4]]::vector;
\echo :LAST_ERROR_SQLSTATE
SELECT ARRAY[1,NULL,3]::vector;
\echo :LAST_ERROR_SQLSTATE
SELECT '{}'::int[]::vector;
\echo :LAST_ERROR_SQLSTATE
SELECT ARRAY['NaN']::float8[]::vector;
\echo :LAST_ERROR_SQLSTATE
SELECT ARRAY['Infinity']::real[]::vector;
\echo :LAST_ERROR_SQLSTATE
SELECT ARRAY[1e300]::float8[]::vector;
\echo :LAST_ERROR_SQLSTATE
SELECT ARRAY[1e39]::numeric[]::vector;
\echo :LAST_ERROR_SQLSTATE
SELECT ARRAY[1,2]::vector(3);
\echo :LAST_ERROR_SQLSTATE
-- The dimensions are checked before the elements, as pgvector checks them.
SELECT ARRAY['NaN',1,2]::float8[]::vector(2);
\echo :LAST_ERROR_SQLSTATE
SELECT ARRAY[1e39,1,2]::numeric[]::vector(2);
\echo :LAST_ERROR_SQLSTATE
SELECT array_fill(1, ARRAY[16001])::vector;
\echo :LAST_ERROR_SQLSTATE
SELECT ARRAY['a']::text[]::vector;
\echo :LAST_ERROR_SQLSTATE
-- Arrays to sparsevec: the non-zero elements after conversion to float4, checked as
-- pgvector checks them (the count and the dimensions first, then the elements).
SELECT ARRAY[1,0,2,0,3,0]::sparsevec, ARRAY[1.5,0,-2]::numeric[]::sparsevec,
       '{0,0,0}'::float8[]::sparsevec, '{1e-46,1}'::float8[]::sparsevec,
       '{1,0,2}'::real[]::sparsevec(3), array_to_sparsevec(ARRAY[0,7], -1, true);
CREATE TABLE sparse_from_arrays (v sparsevec(3));
INSERT INTO sparse_from_arrays VALUES (ARRAY[1,0,2]), ('{0,0.5,0}'::real[]);
SELECT v FROM sparse_from_arrays;
DROP TABLE sparse_from_arrays;
SELECT (array_fill(0, ARRAY[99999]) || 5)::sparsevec;
SELECT '{1,0,2}'::real[]::sparsevec(2);
\echo :LAST_ERROR_SQLSTATE
SELECT array_to_sparsevec('{1,0,2}'::real[], -5, true);
\echo :LAST_ERROR_SQLSTATE
SELECT '{}'::real[]::sparsevec;
\echo :LAST_ERROR_SQLSTATE
SELECT '{{1}}'::real[]::sparsevec;
\echo :LAST_ERROR_SQLSTATE
SELECT '{1,NULL}'::real[]::sparsevec;
\echo :LAST_ERROR_SQLSTATE
SELECT '{0,NaN}'::real[]::sparsevec;
\echo :LAST_ERROR_SQLSTATE
SELECT '{1e300}'::float8[]::sparsevec;
\echo :LAST_ERROR_SQLSTATE
SELECT array_fill(1, ARRAY[16001])::sparsevec;
\echo :LAST_ERROR_SQLSTATE
