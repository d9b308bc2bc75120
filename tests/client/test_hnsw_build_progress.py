"""A build seen from another session: pg_stat_progress_create_index moves through the
hnsw phases with tuple counts, and a cancelled build stops cleanly."""

import threading
import time

import psycopg
import pytest

ROWS = 40000


@pytest.fixture(scope="module")
def table():
    with psycopg.connect(autocommit=True) as c:
        c.execute("DROP TABLE IF EXISTS progress_items")
        c.execute("CREATE TABLE progress_items (id int, v vector(96))")
        c.execute(
            "INSERT INTO progress_items SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 96) WHERE i > 0)"
            f" FROM generate_series(1, {ROWS}) i"
        )
    yield "progress_items"


def start_build(name, errors):
    def run():
        try:
            with psycopg.connect(autocommit=True) as c:
                c.execute(f"CREATE INDEX {name} ON progress_items USING hnsw (v)")
        except psycopg.Error as e:
            errors.append(e)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def poll(conn, thread):
    seen = []
    while thread.is_alive():
        row = conn.execute(
            "SELECT pid, phase, tuples_done, tuples_total FROM pg_stat_progress_create_index"
        ).fetchone()
        if row:
            seen.append(row)
        time.sleep(0.01)
    return seen


def test_progress_phases_and_counts(table):
    errors = []
    with psycopg.connect(autocommit=True) as observer:
        thread = start_build("progress_idx", errors)
        seen = poll(observer, thread)
        thread.join()
    assert not errors, errors
    phases = [phase for _, phase, _, _ in seen]
    assert "building index: building graph" in phases, phases
    graph = [(done, total) for _, phase, done, total in seen if phase == "building index: building graph"]
    assert all(total == ROWS for _, total in graph)
    assert len({done for done, _ in graph}) >= 2, "tuples_done moves during the graph build"
    assert max(done for done, _ in graph) <= ROWS


def test_cancelled_build_stops_and_leaves_no_index(table):
    errors = []
    with psycopg.connect(autocommit=True) as observer:
        before = observer.execute("SELECT pg_postmaster_start_time()").fetchone()
        thread = start_build("cancelled_idx", errors)
        cancelled = False
        while thread.is_alive() and not cancelled:
            row = observer.execute(
                "SELECT pid, phase FROM pg_stat_progress_create_index"
            ).fetchone()
            if row and row[1] == "building index: building graph":
                observer.execute("SELECT pg_cancel_backend(%s)", (row[0],))
                cancelled = True
            time.sleep(0.005)
        thread.join()
        assert cancelled, "the build finished before it could be cancelled"
        assert len(errors) == 1 and isinstance(errors[0], psycopg.errors.QueryCanceled), errors
        exists = observer.execute("SELECT to_regclass('cancelled_idx')").fetchone()[0]
        assert exists is None
        assert observer.execute("SELECT pg_postmaster_start_time()").fetchone() == before
