-- Delete one row, if the id drawn is still there.
\set victim random(0, 20000)
DELETE FROM bench_items WHERE id = :victim;
