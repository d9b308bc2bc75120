-- hnsw_pg 0.2.0 to 0.3.0: the distance functions get a planner support function, which
-- costs a distance by the vectors' dimensions and out-of-line reads (so the planner
-- weighs an exact scan-and-sort against the index by what it costs). The index format is
-- unchanged (version 4).
\echo Use "ALTER EXTENSION hnsw_pg UPDATE" to load this file. \quit

CREATE FUNCTION hnsw_pg_distance_support(internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'hnsw_pg_distance_support_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

ALTER FUNCTION l2_distance(vector, vector) SUPPORT hnsw_pg_distance_support;
ALTER FUNCTION inner_product(vector, vector) SUPPORT hnsw_pg_distance_support;
ALTER FUNCTION cosine_distance(vector, vector) SUPPORT hnsw_pg_distance_support;
ALTER FUNCTION l1_distance(vector, vector) SUPPORT hnsw_pg_distance_support;
ALTER FUNCTION vector_l2_squared_distance(vector, vector) SUPPORT hnsw_pg_distance_support;
ALTER FUNCTION vector_negative_inner_product(vector, vector) SUPPORT hnsw_pg_distance_support;
ALTER FUNCTION vector_spherical_distance(vector, vector) SUPPORT hnsw_pg_distance_support;
ALTER FUNCTION l2_distance(halfvec, halfvec) SUPPORT hnsw_pg_distance_support;
ALTER FUNCTION inner_product(halfvec, halfvec) SUPPORT hnsw_pg_distance_support;
ALTER FUNCTION cosine_distance(halfvec, halfvec) SUPPORT hnsw_pg_distance_support;
ALTER FUNCTION l1_distance(halfvec, halfvec) SUPPORT hnsw_pg_distance_support;
ALTER FUNCTION halfvec_l2_squared_distance(halfvec, halfvec) SUPPORT hnsw_pg_distance_support;
ALTER FUNCTION halfvec_negative_inner_product(halfvec, halfvec) SUPPORT hnsw_pg_distance_support;
ALTER FUNCTION halfvec_spherical_distance(halfvec, halfvec) SUPPORT hnsw_pg_distance_support;
ALTER FUNCTION l2_distance(sparsevec, sparsevec) SUPPORT hnsw_pg_distance_support;
ALTER FUNCTION inner_product(sparsevec, sparsevec) SUPPORT hnsw_pg_distance_support;
ALTER FUNCTION cosine_distance(sparsevec, sparsevec) SUPPORT hnsw_pg_distance_support;
ALTER FUNCTION l1_distance(sparsevec, sparsevec) SUPPORT hnsw_pg_distance_support;
ALTER FUNCTION sparsevec_l2_squared_distance(sparsevec, sparsevec) SUPPORT hnsw_pg_distance_support;
ALTER FUNCTION sparsevec_negative_inner_product(sparsevec, sparsevec) SUPPORT hnsw_pg_distance_support;
ALTER FUNCTION hamming_distance(bit, bit) SUPPORT hnsw_pg_distance_support;
ALTER FUNCTION jaccard_distance(bit, bit) SUPPORT hnsw_pg_distance_support;
