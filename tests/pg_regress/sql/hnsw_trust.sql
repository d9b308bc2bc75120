-- What a hostile user must not get: hnsw_pg_check running someone else's code, open to
-- every role or trusting its argument, false alarms after HOT updates; ALTER INDEX
-- storing options the index then refuses; malformed avg states accepted.
\set VERBOSITY sqlstate

-- 1. search_path. The extension in schema ext; the database owner plants
-- public.vector_norm(ext.vector) that makes them superuser when a superuser calls it.
CREATE ROLE trust_owner LOGIN;
CREATE DATABASE trust_db OWNER trust_owner;
\c trust_db
CREATE SCHEMA ext;
CREATE EXTENSION hnsw_pg SCHEMA ext;
GRANT USAGE ON SCHEMA ext TO trust_owner;
SET ROLE trust_owner;
CREATE TABLE public.docs (id int, v ext.vector(3));
INSERT INTO public.docs SELECT i, ARRAY[i % 5 + 1, i % 7, i % 3] FROM generate_series(1, 200) i;
CREATE INDEX docs_cos ON public.docs USING hnsw (v ext.vector_cosine_ops);
CREATE FUNCTION public.vector_norm(ext.vector) RETURNS float8 LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    ALTER ROLE trust_owner SUPERUSER;
  END IF;
  RETURN 1;
END $$;
-- An expression index whose function escalates the same way when a superuser runs it.
CREATE FUNCTION public.sneaky(ext.vector) RETURNS ext.vector LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    ALTER ROLE trust_owner SUPERUSER;
  END IF;
  RETURN $1;
END $$;
CREATE INDEX docs_expr ON public.docs USING hnsw ((public.sneaky(v)::ext.vector(3)) ext.vector_l2_ops);
-- A predicate the planner folds to a constant (an immutable function without arguments)
-- is evaluated when the checker reads the index's definition: as the owner too.
CREATE FUNCTION public.sneaky_pred() RETURNS bool LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    ALTER ROLE trust_owner SUPERUSER;
  END IF;
  RETURN true;
END $$;
CREATE INDEX docs_pred ON public.docs USING hnsw (v ext.vector_l2_ops) WHERE public.sneaky_pred();
RESET ROLE;
SET search_path = public, ext;
SELECT count(*) FROM ext.hnsw_pg_check('public.docs_cos');
SELECT count(*) FROM ext.hnsw_pg_check('public.docs_expr');
SELECT count(*) FROM ext.hnsw_pg_check('public.docs_pred');
SELECT rolsuper FROM pg_roles WHERE rolname = 'trust_owner';
-- An empty search_path: the check still works.
SET search_path = '';
SELECT count(*) FROM ext.hnsw_pg_check('public.docs_cos');
SELECT proconfig FROM pg_catalog.pg_proc WHERE proname = 'hnsw_pg_check';
RESET search_path;
\c hnsw_pg_regress
DROP DATABASE trust_db;

-- 2. Who may run the check, and on what.
CREATE TABLE secret (id int, v vector(3), note text) WITH (fillfactor = 50);
INSERT INTO secret SELECT i, ARRAY[i % 5, i % 7, i % 11], 'n' FROM generate_series(1, 300) i;
CREATE INDEX secret_v ON secret USING hnsw (v);
CREATE INDEX secret_part ON secret USING hnsw (v) WHERE id > 100;
CREATE INDEX secret_id ON secret (id);
CREATE VIEW secret_view AS SELECT * FROM secret;
CREATE TABLE parted (id int, v vector(3)) PARTITION BY RANGE (id);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (1000);
CREATE INDEX parted_v ON parted USING hnsw (v);
SELECT has_function_privilege('public', 'hnsw_pg_check(regclass)', 'EXECUTE') AS public_may_run;
CREATE ROLE trust_nobody;
SET ROLE trust_nobody;
SELECT * FROM hnsw_pg_check('secret_part');
\echo :LAST_ERROR_MESSAGE
RESET ROLE;
GRANT EXECUTE ON FUNCTION hnsw_pg_check(regclass) TO trust_nobody;
SET ROLE trust_nobody;
SELECT * FROM hnsw_pg_check('secret_part');
\echo :LAST_ERROR_MESSAGE
RESET ROLE;
GRANT SELECT ON secret TO trust_nobody;
SET ROLE trust_nobody;
SELECT count(*) FROM hnsw_pg_check('secret_part');
RESET ROLE;
-- Wrong kinds of object: 42809, never a read of their pages.
SELECT * FROM hnsw_pg_check('secret');
\echo :LAST_ERROR_MESSAGE
SELECT * FROM hnsw_pg_check('secret_id');
\echo :LAST_ERROR_MESSAGE
SELECT * FROM hnsw_pg_check('secret_view');
SELECT * FROM hnsw_pg_check('parted_v');
\echo :LAST_ERROR_MESSAGE
SELECT * FROM hnsw_pg_check('pg_authid');
\echo :LAST_ERROR_MESSAGE
SELECT count(*) FROM hnsw_pg_check((SELECT indexrelid FROM pg_index WHERE indrelid = 'parted_1'::regclass));

-- 3. HOT updates are not missing rows; rows really missing are still found.
UPDATE secret SET note = 'x' WHERE id <= 5 OR id > 295;
SELECT pg_stat_force_next_flush();
SELECT n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'secret';
SELECT count(*) FROM hnsw_pg_check('secret_v');
SELECT count(*) FROM hnsw_pg_check('secret_part');
UPDATE secret SET v = '[9,9,9]' WHERE id = 7;
SELECT count(*) FROM hnsw_pg_check('secret_v');
-- A row the index really lacks (inserted while the index was not ready), in both indexes.
UPDATE pg_index SET indisready = false WHERE indexrelid IN ('secret_v'::regclass, 'secret_part'::regclass);
INSERT INTO secret VALUES (1000, '[1,2,3]', 'unindexed');
UPDATE pg_index SET indisready = true WHERE indexrelid IN ('secret_v'::regclass, 'secret_part'::regclass);
SELECT * FROM hnsw_pg_check('secret_v');
SELECT * FROM hnsw_pg_check('secret_part');
DELETE FROM secret WHERE id = 1000;
SELECT count(*) FROM hnsw_pg_check('secret_v');

-- 4. Options are checked when they are set, so ALTER INDEX cannot break the index.
ALTER INDEX secret_v SET (m = 40);
ALTER INDEX secret_v SET (m = 40, ef_construction = 80);
ALTER INDEX secret_v SET (ef_construction = 20);
ALTER INDEX secret_v RESET (ef_construction);
CREATE INDEX ON secret USING hnsw (v) WITH (m = 40);
SELECT reloptions FROM pg_class WHERE relname = 'secret_v';
ALTER INDEX secret_v SET (m = 16);
SET enable_seqscan = off;
SELECT id FROM secret ORDER BY v <-> '[1,1,1]' LIMIT 1;
RESET enable_seqscan;
REINDEX INDEX secret_v;
VACUUM FULL secret;
SELECT count(*) FROM hnsw_pg_check('secret_v');

-- 5. avg states typed in by hand.
SELECT vector_avg('{{1,2},{3,4}}');
SELECT vector_avg('{-2,4,6}');
SELECT vector_avg('{1.5,4,6}');
SELECT vector_avg('{NaN,4}');
SELECT vector_avg('{2,NULL}');
SELECT vector_avg('{}');
SELECT vector_avg('{2,4,6}');
SELECT vector_accum('{{1,2}}', '[1]');
SELECT vector_combine('{-1,2}', '{1,2}');
SELECT vector_combine('{1,2}', '{1,2}');

-- 6. Errors raised by Postgres inside Rust code keep their SQLSTATE, DETAIL and HINT, and
-- carry no Rust backtrace (the server runs with RUST_BACKTRACE=1; see scripts/regress.sh).
\set VERBOSITY default
CREATE INDEX ON secret USING hnsw (v) WITH (m = 1);
CREATE INDEX ON secret USING hnsw (v) WITH (ef_construction = 2000);
CREATE INDEX ON secret USING hnsw (v) WITH (m = 40);
SELECT '[1,2]'::vector(0);
SELECT '[1,2,3]'::vector(2);
SELECT vector_avg('{1,2,NULL}');
SELECT * FROM hnsw_pg_check('secret_view');
UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'secret_v'::regclass;
SELECT * FROM hnsw_pg_check('secret_v');
UPDATE pg_index SET indisvalid = true WHERE indexrelid = 'secret_v'::regclass;
\set VERBOSITY sqlstate

DROP VIEW secret_view;
DROP TABLE secret, parted;
REVOKE EXECUTE ON FUNCTION hnsw_pg_check(regclass) FROM trust_nobody;
DROP ROLE trust_nobody;
DROP ROLE trust_owner;
