-- k-NN through the index, the query vector given as a parameter by an InitPlan.
\set q random(0, 999)
SELECT id FROM bench_items
  ORDER BY embedding <=> (SELECT embedding FROM bench_queries WHERE id = :q) LIMIT 10;
