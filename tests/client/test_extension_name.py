"""hnsw_pg under pgvector's extension name (`make install-vector`): a pgvector
application's first migration, a pgvector dump's statements, and ALTER EXTENSION ... SET
SCHEMA (pgvector is relocatable, and so is hnsw_pg), each in a database of its own."""

import numpy as np
import psycopg
import pytest
from pgvector.psycopg import register_vector

from server import fresh_database


def test_a_pgvector_migration_creates_the_extension_as_vector():
    with fresh_database("ext_name_migration") as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS vector")
        c.execute("CREATE EXTENSION IF NOT EXISTS vector")  # migrations run it again
        name, relocatable = c.execute(
            "SELECT e.extname, e.extrelocatable FROM pg_extension e "
            "JOIN pg_type t ON t.oid = 'vector'::regtype AND t.typnamespace = e.extnamespace "
            "WHERE e.extname = 'vector'").fetchone()
        assert (name, relocatable) == ("vector", True)
        register_vector(c)
        c.execute("CREATE TABLE items (id bigserial PRIMARY KEY, embedding vector(3))")
        rows = np.random.default_rng(3).standard_normal((500, 3)).astype(np.float32)
        with c.cursor() as cur:
            cur.executemany("INSERT INTO items (embedding) VALUES (%s)", [(r,) for r in rows])
        c.execute("CREATE INDEX ON items USING hnsw (embedding vector_cosine_ops)")
        c.execute("SET enable_seqscan = off")
        q = rows[17]
        got = [r[0] for r in c.execute(
            "SELECT id FROM items ORDER BY embedding <=> %s LIMIT 5", (q,)).fetchall()]
        assert got[0] == 18
        # The same extension under the other name cannot be created beside it.
        with pytest.raises(psycopg.errors.DuplicateObject):
            c.execute("CREATE EXTENSION hnsw_pg")


def test_a_pgvector_dump_restores():
    """The statements pg_dump writes for a pgvector database, as pg_dump writes them."""
    with fresh_database("ext_name_dump") as c:
        c.execute("SELECT pg_catalog.set_config('search_path', '', false)")
        c.execute("CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public")
        c.execute("COMMENT ON EXTENSION vector IS "
                  "'vector data type and ivfflat and hnsw access methods'")
        c.execute("CREATE TABLE public.docs (id integer NOT NULL, embedding public.vector(3))")
        with c.cursor() as cur:
            with cur.copy("COPY public.docs (id, embedding) FROM stdin") as copy:
                for i in range(1, 201):
                    copy.write(f"{i}\t[{i},{i % 7},{-i}]\n")
        c.execute("CREATE INDEX docs_embedding_idx ON public.docs USING hnsw "
                  "(embedding public.vector_l2_ops) WITH (m='16', ef_construction='64')")
        c.execute("SET search_path = public")
        c.execute("SET enable_seqscan = off")
        got = c.execute("SELECT id FROM docs ORDER BY embedding <-> '[50,1,-50]' LIMIT 1").fetchone()
        assert got == (50,)
        assert c.execute("SELECT count(*) FROM hnsw_pg_check('docs_embedding_idx')").fetchone() == (0,)


@pytest.mark.parametrize("extension", ["vector", "hnsw_pg"])
def test_the_extension_moves_to_another_schema(extension):
    with fresh_database("ext_name_relocate") as c:
        c.execute(f"CREATE EXTENSION {extension}")
        c.execute("CREATE TABLE items (id int, embedding vector(2))")
        c.execute("INSERT INTO items SELECT i, ARRAY[i, -i] FROM generate_series(1, 300) i")
        c.execute("CREATE INDEX items_embedding ON items USING hnsw (embedding)")
        c.execute("CREATE SCHEMA vectors")
        c.execute(f"ALTER EXTENSION {extension} SET SCHEMA vectors")
        kind = c.execute("SELECT n.nspname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                         "WHERE t.typname = 'vector'").fetchone()
        assert kind == ("vectors",)
        c.execute("SET search_path = public, vectors")
        c.execute("SET enable_seqscan = off")
        plan = "\n".join(r[0] for r in c.execute(
            "EXPLAIN SELECT id FROM items ORDER BY embedding <-> '[7,-7]' LIMIT 3").fetchall())
        assert "items_embedding" in plan
        got = [r[0] for r in c.execute(
            "SELECT id FROM items ORDER BY embedding <-> '[7,-7]' LIMIT 3").fetchall()]
        assert got[0] == 7 and sorted(got) == [6, 7, 8]
        c.execute("INSERT INTO items VALUES (1000, '[1000,-1000]')")
        assert c.execute("SELECT id FROM items ORDER BY embedding <-> '[999,-999]' LIMIT 1").fetchone() == (1000,)
        # Schema-qualified, with nothing on the search_path.
        c.execute("SET search_path = public")
        got = c.execute("SELECT id FROM items ORDER BY embedding OPERATOR(vectors.<->) "
                        "'[5,-5]'::vectors.vector LIMIT 1").fetchone()
        assert got == (5,)
        assert c.execute("SELECT count(*) FROM vectors.hnsw_pg_check('items_embedding')").fetchone() == (0,)
