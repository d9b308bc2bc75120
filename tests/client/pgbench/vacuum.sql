VACUUM bench_items;
