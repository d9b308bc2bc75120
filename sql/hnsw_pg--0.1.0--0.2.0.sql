-- hnsw_pg 0.1.0 to 0.2.0. The SQL objects are unchanged: 0.2.0 is a new shared
-- library under the same names (it builds for PostgreSQL 15 to 18). The index format
-- is unchanged too (version 4; 0.2.0 reads versions 2 to 4).
\echo Use "ALTER EXTENSION hnsw_pg UPDATE" to load this file. \quit
