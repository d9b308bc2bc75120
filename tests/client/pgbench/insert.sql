-- Copy a source row (wordnet) in under a fresh id.
\set src random(0, 9999)
INSERT INTO bench_items (id, embedding)
  SELECT nextval('bench_ids'), embedding FROM bench_source WHERE id = :src;
