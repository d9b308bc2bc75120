# hnsw_pg: the two set-up commands are `make demo` and `make test` (see README.md).
# Both run as root on Debian 12 and install what is missing first.

PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
RUNAS     ?= postgres
export PG_CONFIG RUNAS
# cargo-pgrx's default -Wl,--no-gc-sections RUSTFLAGS would rebuild every dependency a
# second time; build.rs passes the same flag to the cdylib alone.
export CARGO_PGRX_DISABLE_GC_SECTIONS_WORKAROUND = 1

.PHONY: setup install demo test test-core test-pgrx test-regress test-client bench bench-kernels bench-hnsw fmt

setup:
	bash scripts/setup.sh

install: setup
	cargo pgrx install --release --pg-config $(PG_CONFIG)

demo: install
	bash scripts/with_cluster.sh 55432 "$$(bash scripts/pyenv.sh)" scripts/demo.py

test: setup test-core test-pgrx install test-regress test-client
	@echo "make test: all suites passed"

# Pure-Rust core: kernels, text format, arithmetic.
test-core:
	cargo test -p hnsw_core

# In-backend Rust tests; Postgres runs as $(RUNAS).
test-pgrx: setup
	rm -rf /tmp/hnsw_pg-pgrx-test && install -d -o $(RUNAS) -g $(RUNAS) /tmp/hnsw_pg-pgrx-test
	cargo pgrx test pg15 --runas $(RUNAS) --pgdata /tmp/hnsw_pg-pgrx-test

# SQL surface against the installed (release) extension.
test-regress:
	bash scripts/regress.sh

# Real clients: psycopg 3 + the pgvector Python package, text and binary.
test-client:
	bash scripts/with_cluster.sh 55433 "$$(bash scripts/pyenv.sh)" -m pytest -q tests/client

bench: bench-kernels bench-hnsw

# The index on 100k x 384 real vectors: build, size, recall/QPS by ef_search, inserts.
bench-hnsw: install
	bash scripts/with_cluster.sh 55434 "$$(bash scripts/pyenv.sh)" bench/hnsw_100k.py

# Criterion kernel benches, then a scalar vs AVX2 summary table.
bench-kernels:
	cargo bench -p hnsw_core --bench kernels -- --noplot
	python3 bench/kernel_summary.py target/criterion

fmt:
	cargo fmt --all
