-- Run in every database of a Debian PostgreSQL 15.20 cluster, as a superuser, just
-- before stopping it for pg_upgrade to 16, 17 or 18 (docs/upgrading.md). 15.20 stores an
-- attribute option `pg_attver` on every column it creates, which no later server
-- release here knows: pg_upgrade's schema restore stops at the first table with
-- 'unrecognized parameter "pg_attver"', whatever the table holds. This removes the option
-- and keeps every other attribute option.
UPDATE pg_catalog.pg_attribute
SET attoptions = NULLIF(ARRAY(SELECT o FROM pg_catalog.unnest(attoptions) o
                              WHERE o NOT LIKE 'pg_attver=%'), '{}'::text[])
WHERE attoptions::text LIKE '%pg_attver=%';
