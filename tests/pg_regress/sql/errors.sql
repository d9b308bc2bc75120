-- Every error a user can reach, one statement each, with its SQLSTATE, DETAIL and HINT.
-- The server runs with RUST_BACKTRACE=1 (scripts/regress.sh), so a Rust backtrace in any
-- message would show here. Errors without DETAIL or HINT that other files show with their
-- SQLSTATE (the binary format's, in binary_copy) are not repeated.
\set VERBOSITY default
\set SHOW_CONTEXT never

-- The text format.
SELECT 'x'::vector;
\echo :LAST_ERROR_SQLSTATE
SELECT '[1,2'::vector;
\echo :LAST_ERROR_SQLSTATE
SELECT '[1,2] x'::vector;
\echo :LAST_ERROR_SQLSTATE
SELECT '[1,,2]'::vector;
\echo :LAST_ERROR_SQLSTATE
SELECT '[1e99]'::vector;
\echo :LAST_ERROR_SQLSTATE
SELECT '[NaN]'::vector;
\echo :LAST_ERROR_SQLSTATE
SELECT '[-Infinity]'::vector;
\echo :LAST_ERROR_SQLSTATE
SELECT '[]'::vector;
\echo :LAST_ERROR_SQLSTATE
SELECT ('[' || repeat('1,', 16000) || '1]')::vector;
\echo :LAST_ERROR_SQLSTATE

-- Type modifiers.
SELECT '[1]'::vector(0);
\echo :LAST_ERROR_SQLSTATE
SELECT '[1]'::vector(16001);
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE bad_typmod (v vector(1, 2));
\echo :LAST_ERROR_SQLSTATE
SELECT '[1,2,3]'::vector(2);
\echo :LAST_ERROR_SQLSTATE

-- Arithmetic and distances.
SELECT '[1,2]'::vector <-> '[1,2,3]';
\echo :LAST_ERROR_SQLSTATE
SELECT '[3e38]'::vector + '[3e38]';
\echo :LAST_ERROR_SQLSTATE
SELECT '[1e-30]'::vector * '[1e-30]';
\echo :LAST_ERROR_SQLSTATE

-- Array casts.
SELECT '{{1,2},{3,4}}'::real[]::vector;
\echo :LAST_ERROR_SQLSTATE
SELECT '{1,NULL}'::real[]::vector;
\echo :LAST_ERROR_SQLSTATE
SELECT '{}'::real[]::vector;
\echo :LAST_ERROR_SQLSTATE

-- The avg(vector) state.
SELECT vector_avg('{-1,2}');
\echo :LAST_ERROR_SQLSTATE
SELECT vector_avg('{1,2,NULL}');
\echo :LAST_ERROR_SQLSTATE
SELECT vector_combine('{1,2}', '{1,2,3}');
\echo :LAST_ERROR_SQLSTATE

-- Index definitions.
CREATE TABLE items (id int, v vector(3), dimless vector, n int);
INSERT INTO items SELECT i, ARRAY[i, i % 7, 1], NULL, i FROM generate_series(1, 200) i;
CREATE INDEX ON items USING hnsw (v) WITH (m = 1);
\echo :LAST_ERROR_SQLSTATE
CREATE INDEX ON items USING hnsw (v) WITH (ef_construction = 2001);
\echo :LAST_ERROR_SQLSTATE
CREATE INDEX ON items USING hnsw (v) WITH (m = 40);
\echo :LAST_ERROR_SQLSTATE
CREATE INDEX ON items USING hnsw (v) WITH (lists = 100);
\echo :LAST_ERROR_SQLSTATE
CREATE INDEX ON items USING hnsw (dimless);
\echo :LAST_ERROR_SQLSTATE
CREATE INDEX ON items USING hnsw (n);
\echo :LAST_ERROR_SQLSTATE
CREATE INDEX ON items USING hnsw (v, v);
\echo :LAST_ERROR_SQLSTATE
CREATE UNIQUE INDEX ON items USING hnsw (v);
\echo :LAST_ERROR_SQLSTATE
CREATE OPERATOR CLASS unknown_support FOR TYPE vector USING hnsw AS
    OPERATOR 1 <-> (vector, vector) FOR ORDER BY float_ops,
    FUNCTION 1 l2_distance(vector, vector);
CREATE INDEX ON items USING hnsw (v unknown_support);
\echo :LAST_ERROR_SQLSTATE
DROP OPERATOR CLASS unknown_support USING hnsw;
CREATE INDEX items_v ON items USING hnsw (v);
ALTER INDEX items_v SET (m = 40);
\echo :LAST_ERROR_SQLSTATE

-- Settings.
SET hnsw.ef_search = 0;
\echo :LAST_ERROR_SQLSTATE
SET hnsw.max_scan_tuples = -1;
\echo :LAST_ERROR_SQLSTATE
SET hnsw.iterative_scan = sideways;
\echo :LAST_ERROR_SQLSTATE
SET hnsw.scan_mem_multiplier = 1001;
\echo :LAST_ERROR_SQLSTATE

-- Index scans: a query of the wrong dimensions is refused by the scan itself.
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <-> '[1,2]' LIMIT 1;
SELECT id FROM items ORDER BY v <-> '[1,2]' LIMIT 1;
\echo :LAST_ERROR_SQLSTATE
RESET enable_seqscan;

-- A build that spills to temporary files counts them against temp_file_limit (the
-- message is PostgreSQL's own, worded differently by version: its SQLSTATE is shown).
CREATE TABLE wide (v vector(64));
INSERT INTO wide SELECT (SELECT array_agg(((i * 31 + j * 17) % 100003)::real) FROM generate_series(1, 64) j)
FROM generate_series(1, 4500) i;
SET maintenance_work_mem = '1MB';
SET temp_file_limit = '64kB';
\set VERBOSITY sqlstate
CREATE INDEX ON wide USING hnsw (v);
\set VERBOSITY default
RESET temp_file_limit;
RESET maintenance_work_mem;
SELECT count(*) AS temporary_files_left FROM pg_ls_tmpdir() WHERE name LIKE '%.hnsw%';

-- A build cancelled while its threads run stops them and leaves nothing (4,500 distinct
-- vectors at ef_construction 400 take far longer than the timeout).
SET max_parallel_maintenance_workers = 1;
SET statement_timeout = '50ms';
CREATE INDEX wide_v ON wide USING hnsw (v) WITH (ef_construction = 400);
\echo :LAST_ERROR_SQLSTATE
RESET statement_timeout;
RESET max_parallel_maintenance_workers;
SELECT count(*) AS indexes_left FROM pg_indexes WHERE tablename = 'wide';
DROP TABLE wide;

-- halfvec and bit: the same errors with their type's name, and the same SQLSTATEs.
SELECT '[1,x]'::halfvec;
\echo :LAST_ERROR_SQLSTATE
SELECT '[65520]'::halfvec;
\echo :LAST_ERROR_SQLSTATE
SELECT '[inf]'::halfvec;
\echo :LAST_ERROR_SQLSTATE
SELECT '[]'::halfvec;
\echo :LAST_ERROR_SQLSTATE
SELECT array_fill(1, ARRAY[16001])::halfvec;
\echo :LAST_ERROR_SQLSTATE
SELECT '[1]'::halfvec(0);
\echo :LAST_ERROR_SQLSTATE
SELECT '[1,2]'::halfvec(3);
\echo :LAST_ERROR_SQLSTATE
SELECT '[1,2]'::halfvec <-> '[1]';
\echo :LAST_ERROR_SQLSTATE
SELECT '[60000]'::halfvec + '[60000]';
\echo :LAST_ERROR_SQLSTATE
SELECT '[0.0001]'::halfvec * '[0.0001]';
\echo :LAST_ERROR_SQLSTATE
SELECT '[1e5]'::vector::halfvec;
\echo :LAST_ERROR_SQLSTATE
SELECT '{NULL}'::real[]::halfvec;
\echo :LAST_ERROR_SQLSTATE
SELECT halfvec_avg('{1,NaN}');
\echo :LAST_ERROR_SQLSTATE
SELECT '101'::bit(3) <~> '01';
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE halves (v halfvec(2), b bit(4), w bit(64001), u halfvec);
INSERT INTO halves VALUES ('[1,2]', '1010', NULL, '[1]');
CREATE INDEX halves_v ON halves USING hnsw (v halfvec_l2_ops);
SET enable_seqscan = off;
SELECT * FROM halves ORDER BY v <-> '[1,2,3]' LIMIT 1;
\echo :LAST_ERROR_SQLSTATE
RESET enable_seqscan;
CREATE INDEX ON halves USING hnsw (u halfvec_l2_ops);
\echo :LAST_ERROR_SQLSTATE
CREATE INDEX ON halves USING hnsw (w bit_hamming_ops);
\echo :LAST_ERROR_SQLSTATE
CREATE INDEX ON halves USING hnsw (v vector_l2_ops);
\echo :LAST_ERROR_SQLSTATE
CREATE INDEX ON halves USING hnsw (b bit_jaccard_ops);
INSERT INTO halves (b) VALUES ('101');
\echo :LAST_ERROR_SQLSTATE
DROP TABLE halves;

-- hnsw_pg_check.
SELECT * FROM hnsw_pg_check(0::oid::regclass);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM hnsw_pg_check('items');
\echo :LAST_ERROR_SQLSTATE
CREATE INDEX items_n ON items (n);
SELECT * FROM hnsw_pg_check('items_n');
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE parted (k int, v vector(3)) PARTITION BY RANGE (k);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (10);
CREATE INDEX parted_v ON parted USING hnsw (v);
SELECT * FROM hnsw_pg_check('parted_v');
\echo :LAST_ERROR_SQLSTATE
CREATE ROLE errors_nobody;
GRANT EXECUTE ON FUNCTION hnsw_pg_check(regclass) TO errors_nobody;
SET ROLE errors_nobody;
SELECT * FROM hnsw_pg_check('items_v');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'items_v'::regclass;
SELECT * FROM hnsw_pg_check('items_v');
\echo :LAST_ERROR_SQLSTATE
UPDATE pg_index SET indisvalid = true WHERE indexrelid = 'items_v'::regclass;
-- An index built in this transaction over a HOT chain it had to break.
BEGIN ISOLATION LEVEL REPEATABLE READ;
CREATE TABLE hot (id int PRIMARY KEY, v vector(3));
INSERT INTO hot VALUES (1, '[1,1,1]'), (2, '[2,2,2]');
UPDATE hot SET v = '[9,9,9]' WHERE id = 1;
CREATE INDEX hot_v ON hot USING hnsw (v);
SELECT * FROM hnsw_pg_check('hot_v');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

REVOKE EXECUTE ON FUNCTION hnsw_pg_check(regclass) FROM errors_nobody;
DROP ROLE errors_nobody;
DROP TABLE items, parted;
