-- Runs first: the extension every other file uses.
CREATE EXTENSION hnsw_pg;
