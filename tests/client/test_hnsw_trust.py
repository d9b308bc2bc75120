"""Resource and trust defects a hostile review found, each reproduced as it was found:
an allocation failure in CREATE INDEX is an ERROR (53200), never an abort that restarts
the cluster; errors carry no Rust backtrace whatever the postmaster's environment says;
spill files are Postgres temporary files (in temp_tablespaces, capped by temp_file_limit,
removed when a terminated build's process exits); hnsw_pg_check gives no false alarms
under concurrent writers."""

import os
import pathlib
import subprocess
import threading
import time

import psycopg
import pytest

from conftest import own_cluster


@pytest.fixture(scope="module")
def limited_server():
    """A cluster of its own: an address-space limit (as vm.overcommit_memory = 2 gives)
    and RUST_BACKTRACE / RUST_LIB_BACKTRACE set in the postmaster's environment. Its
    connection parameters are passed explicitly; the other tests keep the shared cluster."""
    with own_cluster(55437, ulimit_v="300000", server_env="RUST_BACKTRACE=1 RUST_LIB_BACKTRACE=1",
                     options="-c shared_buffers=32MB", point_env=False) as params:
        yield params


def test_allocation_failure_in_a_build_is_an_error(limited_server):
    with psycopg.connect(**limited_server) as watcher, psycopg.connect(**limited_server) as c:
        started = watcher.execute("SELECT pg_postmaster_start_time()").fetchone()[0]
        c.execute("CREATE TABLE big (id int, v vector(1024))")
        c.execute("INSERT INTO big SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 1024)"
                  " WHERE i > 0) FROM generate_series(1, 30000) i")
        c.execute("SET maintenance_work_mem = '2GB'")
        with pytest.raises(psycopg.errors.OutOfMemory) as failure:
            c.execute("CREATE INDEX ON big USING hnsw (v)")
        assert "out of memory" in str(failure.value)
        # Nothing else was touched: the other session, the postmaster, this session.
        assert watcher.execute("SELECT 1").fetchone()[0] == 1
        assert watcher.execute("SELECT pg_postmaster_start_time()").fetchone()[0] == started
        c.execute("CREATE TABLE small AS SELECT * FROM big WHERE id <= 1000")
        c.execute("CREATE INDEX ON small USING hnsw (v)")
        assert c.execute("SELECT count(*) FROM small").fetchone()[0] == 1000


def test_errors_carry_no_rust_backtrace(limited_server):
    with psycopg.connect(**limited_server) as c:
        c.execute("CREATE TABLE bt (v vector(64))")
        c.execute("INSERT INTO bt SELECT (SELECT array_agg(random()) FROM generate_series(1, 64)"
                  " WHERE i > 0) FROM generate_series(1, 30000) i")
        # A cancel raised inside the build's Rust code passes back through pgrx.
        c.execute("SET statement_timeout = '400ms'")
        with pytest.raises(psycopg.errors.QueryCanceled) as cancel:
            c.execute("CREATE INDEX ON bt USING hnsw (v)")
        c.execute("RESET statement_timeout")
        # An error raised by Postgres under a Rust frame (the checker's privilege test).
        c.execute("CREATE ROLE bt_nobody")
        c.execute("GRANT EXECUTE ON FUNCTION hnsw_pg_check(regclass) TO bt_nobody")
        c.execute("CREATE INDEX bt_v ON bt USING hnsw (v) WITH (m = 4, ef_construction = 8)")
        c.execute("SET ROLE bt_nobody")
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as denied:
            c.execute("SELECT * FROM hnsw_pg_check('bt_v')")
        c.execute("RESET ROLE")
        # A user's mistake reported from Rust.
        with pytest.raises(psycopg.errors.DataException) as wrong_dims:
            c.execute("SELECT '[1,2]'::vector <-> '[1,2,3]'::vector")
    for error in (cancel.value, denied.value, wrong_dims.value):
        text = f"{error.diag.message_primary}\n{error.diag.message_detail}\n{error.diag.context}"
        assert "backtrace" not in text and ".rs:" not in text and "rust_begin_unwind" not in text, text


def tmp_files(c, pid, tablespace=None):
    query = "SELECT name FROM pg_ls_tmpdir()" if tablespace is None else \
        "SELECT name FROM pg_ls_tmpdir((SELECT oid FROM pg_tablespace WHERE spcname = %s))"
    rows = c.execute(query, () if tablespace is None else (tablespace,)).fetchall()
    return [name for (name,) in rows if name.startswith(f"pgsql_tmp{pid}.")]


@pytest.fixture(scope="module")
def spill_table():
    with psycopg.connect(autocommit=True) as c:
        c.execute("DROP TABLE IF EXISTS spill_items")
        c.execute("CREATE TABLE spill_items (v vector(128))")
        c.execute("INSERT INTO spill_items SELECT (SELECT array_agg(random()) FROM generate_series(1, 128)"
                  " WHERE i > 0) FROM generate_series(1, 50000) i")
    yield "spill_items"


def test_a_terminated_spilling_build_leaves_no_temp_files(spill_table):
    location = pathlib.Path(os.environ["HNSW_PG_CLUSTER_DIR"]) / "tmp_tablespace"
    location.mkdir(exist_ok=True)
    subprocess.run(["chown", os.environ.get("RUNAS", "postgres"), str(location)], check=True)
    with psycopg.connect(autocommit=True) as c:
        c.execute("DROP TABLESPACE IF EXISTS hnsw_tmp")
        c.execute(f"CREATE TABLESPACE hnsw_tmp LOCATION '{location}'")
        builder = psycopg.connect(autocommit=True)
        pid = builder.execute("SELECT pg_backend_pid()").fetchone()[0]
        builder.execute("SET maintenance_work_mem = '1MB'")
        builder.execute("SET temp_tablespaces = 'hnsw_tmp'")
        errors = []

        def build():
            try:
                builder.execute(f"CREATE INDEX ON {spill_table} USING hnsw (v)")
            except psycopg.Error as e:
                errors.append(e)

        thread = threading.Thread(target=build)
        thread.start()
        deadline = time.time() + 60
        while not tmp_files(c, pid, "hnsw_tmp") and time.time() < deadline and thread.is_alive():
            time.sleep(0.02)
        spilled = tmp_files(c, pid, "hnsw_tmp")
        assert spilled, "the build spilled into temp_tablespaces"
        assert c.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
        thread.join(60)
        assert errors, "the build was terminated"
        deadline = time.time() + 30
        while c.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()[0]:
            assert time.time() < deadline
            time.sleep(0.05)
        assert tmp_files(c, pid, "hnsw_tmp") == [] and tmp_files(c, pid) == []
        builder.close()
        c.execute("DROP TABLESPACE hnsw_tmp")  # fails if anything was left in it


def test_spill_files_count_against_temp_file_limit(spill_table):
    with psycopg.connect(autocommit=True) as c:
        c.execute("SET maintenance_work_mem = '1MB'")
        c.execute("SET temp_file_limit = '64kB'")
        with pytest.raises(psycopg.errors.ConfigurationLimitExceeded):
            c.execute(f"CREATE INDEX ON {spill_table} USING hnsw (v)")
        pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
        assert tmp_files(c, pid) == [], "the failed build's files are gone"
        c.execute("RESET temp_file_limit")
        c.execute(f"CREATE INDEX spill_items_v ON {spill_table} USING hnsw (v)")
        assert c.execute("SELECT hnsw_pg_spilled_builds()").fetchone()[0] >= 1
        assert tmp_files(c, pid) == []
        c.execute("DROP INDEX spill_items_v")


def test_check_has_no_false_alarms_under_concurrent_writers():
    with psycopg.connect(autocommit=True) as c:
        c.execute("DROP TABLE IF EXISTS busy")
        c.execute("CREATE TABLE busy (id serial PRIMARY KEY, v vector(16), note text) WITH (fillfactor = 70)")
        c.execute("INSERT INTO busy (v, note) SELECT (SELECT array_agg(random()) FROM generate_series(1, 16)"
                  " WHERE i > 0), 'n' FROM generate_series(1, 3000) i")
        c.execute("CREATE INDEX busy_v ON busy USING hnsw (v)")
    stop = threading.Event()
    failures = []

    def write():
        try:
            with psycopg.connect(autocommit=True) as w:
                while not stop.is_set():
                    w.execute("INSERT INTO busy (v, note) SELECT (SELECT array_agg(random())"
                              " FROM generate_series(1, 16) WHERE g > 0), 'n' FROM generate_series(1, 5) g")
                    w.execute("UPDATE busy SET note = 'hot' WHERE id = (SELECT max(id) FROM busy) - 3")
                    w.execute("DELETE FROM busy WHERE id = (SELECT min(id) FROM busy)")
        except psycopg.Error as e:
            failures.append(e)

    writers = [threading.Thread(target=write) for _ in range(2)]
    for t in writers:
        t.start()
    problems = []
    try:
        with psycopg.connect(autocommit=True) as c:
            deadline = time.time() + 15
            runs = 0
            while time.time() < deadline:
                problems += [r[0] for r in c.execute("SELECT * FROM hnsw_pg_check('busy_v')").fetchall()]
                runs += 1
    finally:
        stop.set()
        for t in writers:
            t.join()
    assert not failures, failures
    assert runs >= 5
    assert problems == [], problems[:10]
    with psycopg.connect(autocommit=True) as c:
        c.execute("VACUUM busy")
        assert c.execute("SELECT count(*) FROM hnsw_pg_check('busy_v')").fetchone()[0] == 0
