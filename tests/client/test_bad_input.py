"""Random and hostile input to every vector input path must give an ERROR, never a crash.

A backend crash restarts the postmaster's children, so the test compares the server's
start time and the backend's pid before and after."""

import random
import struct

import psycopg
import pytest

ROUNDS = 2000


def server_identity(conn):
    return conn.execute("SELECT pg_postmaster_start_time(), pg_backend_pid()").fetchone()


def random_literal(rng):
    alphabet = "[]0123456789.,-+eE naNifINFty\t\\x\x01é"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))


def random_binary(rng):
    dim = rng.choice([0, 1, 2, 3, -1, 16000, 16001, 32767, -32768])
    unused = rng.choice([0, 0, 0, 1, -1])
    floats = [rng.choice([0.0, 1.0, -2.5, float("nan"), float("inf"), 3.4e38])
              for _ in range(rng.randint(0, 4))]
    payload = struct.pack(">hh", dim, unused) + b"".join(struct.pack(">f", x) for x in floats)
    return payload[: rng.randint(0, len(payload))] if rng.random() < 0.3 else payload


@pytest.fixture
def conn():
    with psycopg.connect(autocommit=True) as c:
        yield c


def test_text_input_never_crashes(conn):
    before = server_identity(conn)
    rng = random.Random(1)
    errors = 0
    for _ in range(ROUNDS):
        try:
            conn.execute("SELECT %s::text::vector", (random_literal(rng),))
        except psycopg.errors.DataError:
            errors += 1
        except psycopg.errors.ProgramLimitExceeded:
            errors += 1
    assert errors > ROUNDS // 2
    assert server_identity(conn) == before


def test_binary_input_never_crashes(conn):
    before = server_identity(conn)
    rng = random.Random(2)
    conn.execute("DROP TABLE IF EXISTS fuzz_raw, fuzz_sink")
    conn.execute("CREATE TABLE fuzz_raw (b bytea)")
    conn.execute("CREATE TABLE fuzz_sink (v vector)")
    loaded = failed = 0
    for _ in range(ROUNDS):
        conn.execute("TRUNCATE fuzz_raw")
        conn.execute("INSERT INTO fuzz_raw VALUES (%s)", (random_binary(rng),))
        with conn.cursor() as cur:
            with cur.copy("COPY fuzz_raw TO STDOUT WITH (FORMAT BINARY)") as copy:
                data = b"".join(bytes(chunk) for chunk in copy)
        try:
            with conn.cursor() as cur:
                with cur.copy("COPY fuzz_sink FROM STDIN WITH (FORMAT BINARY)") as copy:
                    copy.write(data)
            loaded += 1
        except psycopg.Error:
            failed += 1
    assert loaded > 0 and failed > 0
    # Everything that loaded is a valid vector that prints and reads back.
    bad = conn.execute(
        "SELECT count(*) FROM fuzz_sink WHERE v::text::vector <> v OR vector_dims(v) < 1"
    ).fetchone()[0]
    assert bad == 0
    assert server_identity(conn) == before


def test_array_casts_never_crash(conn):
    before = server_identity(conn)
    cases = [
        "SELECT ARRAY[]::int[]::vector",
        "SELECT ARRAY[[1]]::int[]::vector",
        "SELECT ARRAY[NULL]::float8[]::vector",
        "SELECT array_fill(1, ARRAY[20000])::vector",
        "SELECT ARRAY['NaN']::numeric[]::vector",
        "SELECT ARRAY[1e-50]::float8[]::vector",
        "SELECT ('[1,2]'::vector)::real[]::vector(3)",
        "SELECT subvector('[1,2,3]', -2147483648, 2147483647)",
        "SELECT subvector('[1,2,3]', 2147483647, 2147483647)",
        "SELECT vector_avg('{1e308,1e308}')",
        "SELECT vector_combine('{1,2}', '{1,2,3}')",
        "SELECT vector_accum('{2,1}', '[1,2]')",
    ]
    for sql in cases:
        try:
            conn.execute(sql)
        except psycopg.Error:
            pass
    assert server_identity(conn) == before
