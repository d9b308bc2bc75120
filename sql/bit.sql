-- hnsw_pg: pgvector's functions on Postgres' own `bit` type, and binary quantization.

CREATE FUNCTION hamming_distance(bit, bit) RETURNS float8
    AS 'MODULE_PATHNAME', 'hamming_distance_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
    SUPPORT hnsw_pg_distance_support;
CREATE FUNCTION jaccard_distance(bit, bit) RETURNS float8
    AS 'MODULE_PATHNAME', 'jaccard_distance_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
    SUPPORT hnsw_pg_distance_support;

CREATE OPERATOR <~> (LEFTARG = bit, RIGHTARG = bit, PROCEDURE = hamming_distance, COMMUTATOR = '<~>');
CREATE OPERATOR <%> (LEFTARG = bit, RIGHTARG = bit, PROCEDURE = jaccard_distance, COMMUTATOR = '<%>');

-- One bit per element, set where the element is greater than zero.
CREATE FUNCTION binary_quantize(vector) RETURNS bit
    AS 'MODULE_PATHNAME', 'binary_quantize_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION binary_quantize(halfvec) RETURNS bit
    AS 'MODULE_PATHNAME', 'halfvec_binary_quantize_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
