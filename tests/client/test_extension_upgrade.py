"""ALTER EXTENSION hnsw_pg UPDATE from every earlier release (sql/releases) to this one:
tables and indexes made under the old release keep their rows and answers and take
inserts, VACUUM and hnsw_pg_check; every function of the extension answers as in a fresh
install; and the upgraded schema dump equals a fresh install's."""

import os
import pathlib
import re
import shutil
import subprocess

import numpy as np
import psycopg
import pytest

from server import PG_BIN, fresh_database

REPO = pathlib.Path(__file__).resolve().parents[2]
RELEASES = sorted((REPO / "sql" / "releases").glob("hnsw_pg--*.sql"))
PG_CONFIG = os.environ.get("PG_CONFIG", "/usr/lib/postgresql/15/bin/pg_config")

# One table per index kind, with the same rows in every database.
TABLES = {
    "vec": ("vector(3)", "hnsw (v vector_l2_ops)", "<->"),
    "vec_ivf": ("vector(3)", "ivfflat (v vector_cosine_ops) WITH (lists = 4)", "<=>"),
    "half": ("halfvec(3)", "hnsw (v halfvec_ip_ops)", "<#>"),
    "sparse": ("sparsevec(3)", "hnsw (v sparsevec_l1_ops)", "<+>"),
    "bits": ("bit(3)", "hnsw (v bit_hamming_ops)", "<~>"),
}
ROWS = 400


def test_there_is_an_earlier_release():
    assert RELEASES, "sql/releases holds no earlier release"


@pytest.fixture
def release_scripts():
    """Every earlier release's install script, in the server's extension directory for
    the length of the test (a server that runs a release has it; this one has only the
    current release)."""
    extension_dir = pathlib.Path(subprocess.run([PG_CONFIG, "--sharedir"], check=True, text=True,
                                                capture_output=True).stdout.strip(), "extension")
    added = []
    for script in RELEASES:
        target = extension_dir / script.name
        if not target.exists():
            shutil.copyfile(script, target)
            added.append(target)
    try:
        yield [re.match(r"hnsw_pg--(.+)\.sql", s.name).group(1) for s in RELEASES]
    finally:
        for target in added:
            target.unlink()


def literal(kind, i):
    rng = np.random.default_rng(i)
    x = rng.integers(-5, 6, 3)
    if kind == "sparse":
        return "{" + ",".join(f"{j + 1}:{v}" for j, v in enumerate(x) if v) + "}/3"
    if kind == "bits":
        return "".join("1" if v > 0 else "0" for v in x)
    return "[" + ",".join(str(v) for v in x) + "]"


def create_tables(c, first, last):
    c.execute("CREATE SCHEMA IF NOT EXISTS app")
    for name, (column, index, _) in TABLES.items():
        c.execute(f"CREATE TABLE IF NOT EXISTS app.{name} (id int PRIMARY KEY, v {column})")
        kind = name.split("_")[0]
        with c.cursor() as cur:
            cur.executemany(f"INSERT INTO app.{name} VALUES (%s, %s)",
                            [(i, literal(kind, i)) for i in range(first, last)])
        c.execute(f"CREATE INDEX IF NOT EXISTS {name}_v ON app.{name} USING {index}")


def answers(c):
    """Each table's rows (a digest) and its 10 nearest distances through its index for a
    few queries (distances, not ids: the small integer vectors tie often)."""
    c.execute("SET enable_seqscan = off")
    c.execute("SET ivfflat.probes = 4")
    out = {}
    for name, (column, _, op) in TABLES.items():
        kind = name.split("_")[0]
        out[name] = c.execute(f"SELECT md5(string_agg(id || ':' || v::text, ',' ORDER BY id)) "
                              f"FROM app.{name}").fetchone()[0]
        for q in range(3):
            query = literal(kind, 10_000 + q)
            out[name, q] = [round(r[0], 4) for r in c.execute(
                f"SELECT v {op} %s::{column} FROM app.{name} ORDER BY v {op} %s::{column} LIMIT 10",
                (query, query)).fetchall()]
    return out


SAMPLES = {
    "vector": "'[1,-2,3]'::vector", "halfvec": "'[1,-2,3]'::halfvec",
    "sparsevec": "'{1:1,3:-2}/3'::sparsevec", "bit": "B'101'", "integer": "2",
    "real": "2.5::real", "double precision": "2.5::float8", "numeric": "2.5::numeric",
    "real[]": "'{1,2,3}'::real[]", "double precision[]": "'{1,2,3}'::float8[]",
    "numeric[]": "'{1,2,3}'::numeric[]", "integer[]": "'{1,2,3}'::int[]",
    "vector[]": "ARRAY['[1,2,3]'::vector]", "halfvec[]": "ARRAY['[1,2,3]'::halfvec]",
    "cstring": "'[1,2,3]'::cstring", "cstring[]": "'{3}'::cstring[]", "oid": "0::oid",
    "boolean": "true", "regclass": "'app.vec_v'::regclass",
}


def call_every_function(c):
    """The outcome (value or SQLSTATE) of each extension function that takes only
    arguments SAMPLES has, called on them: aggregates over two rows."""
    functions = c.execute("""
        SELECT p.oid::regprocedure::text, p.proname, p.prokind, p.proretset,
               array(SELECT format_type(t, NULL) FROM unnest(p.proargtypes) t)
        FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
        JOIN pg_extension e ON d.refobjid = e.oid AND e.extname = 'hnsw_pg' AND d.deptype = 'e'
        ORDER BY 1""").fetchall()
    outcomes = {}
    for signature, name, kind, returns_set, args in functions:
        if not all(a in SAMPLES for a in args):
            continue
        values = [SAMPLES[a] for a in args]
        if kind == "a":
            sql = (f"SELECT public.{name}({', '.join(f'x{i}' for i in range(len(values)))})::text "
                   f"FROM (VALUES ({', '.join(values)}), ({', '.join(values)})) t("
                   f"{', '.join(f'x{i}' for i in range(len(values)))})")
        elif returns_set:
            sql = f"SELECT count(*)::text FROM public.{name}({', '.join(values)})"
        else:
            sql = f"SELECT public.{name}({', '.join(values)})::text"
        try:
            with c.transaction():
                outcomes[signature] = c.execute(sql).fetchone()[0]
        except psycopg.Error as e:
            outcomes[signature] = f"ERROR {e.sqlstate}"
    return outcomes


def schema_dump(dbname):
    """The extension's objects as pg_dump --binary-upgrade writes them (it lists every
    member), without the OIDs, comments and the session keys that differ between two
    databases, as a sorted list of statements."""
    command = [f"{PG_BIN}/pg_dump", "--schema-only", "--binary-upgrade", "--exclude-schema=app",
               "-h", os.environ.get("PGHOST", "127.0.0.1"), "-p", os.environ["PGPORT"],
               "-U", "postgres", dbname]
    text = subprocess.run(command, check=True, text=True, capture_output=True).stdout
    statements = []
    for block in re.split(r";\n", text):
        lines = [l for l in block.splitlines() if l and not l.startswith("--")
                 and not l.startswith("\\") and "binary_upgrade_set_next" not in l]
        if lines:
            statements.append("\n".join(lines))
    return sorted(statements)


def test_update_from_each_release(release_scripts):
    with fresh_database("ext_fresh") as fresh:
        fresh.execute("CREATE EXTENSION hnsw_pg")
        current = fresh.execute("SELECT extversion FROM pg_extension WHERE extname = 'hnsw_pg'").fetchone()[0]
        create_tables(fresh, 0, ROWS)
        fresh_answers = answers(fresh)
        fresh_functions = call_every_function(fresh)
        assert len(fresh_functions) >= 100, sorted(fresh_functions)
        fresh_schema = schema_dump("ext_fresh")
        for version in release_scripts:
            assert version != current
            with fresh_database("ext_upgraded") as old:
                old.execute(f"CREATE EXTENSION hnsw_pg VERSION '{version}'")
                create_tables(old, 0, ROWS)
                before = answers(old)
                old.execute("ALTER EXTENSION hnsw_pg UPDATE")
                assert old.execute("SELECT extversion FROM pg_extension "
                                   "WHERE extname = 'hnsw_pg'").fetchone()[0] == current
                old.execute("RESET ALL")
                assert answers(old) == before == fresh_answers
                assert call_every_function(old) == fresh_functions
                assert schema_dump("ext_upgraded") == fresh_schema
                # The old indexes keep working: inserts, a DELETE, VACUUM, the checker.
                create_tables(old, ROWS, ROWS + 200)
                for name in TABLES:
                    old.execute(f"DELETE FROM app.{name} WHERE id % 5 = 0")
                    old.execute(f"VACUUM app.{name}")
                    if not name.endswith("ivf"):
                        assert old.execute(f"SELECT count(*) FROM hnsw_pg_check('app.{name}_v')").fetchone() == (0,)
                old.execute("SET enable_seqscan = off")
                got = old.execute("SELECT count(*) FROM (SELECT id FROM app.vec ORDER BY v <-> '[0,0,0]' "
                                  "LIMIT 100000) t").fetchone()[0]
                assert got == old.execute("SELECT count(*) FROM app.vec").fetchone()[0]
