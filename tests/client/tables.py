"""Test tables of real vectors, loaded with binary COPY as pgvector's clients do."""


def create_and_load(c, table, dim, rows):
    """(Re)creates `table (id int PRIMARY KEY, embedding vector(dim))` holding `rows`,
    pairs of id and vector; `c` has pgvector's types registered."""
    c.execute(f"DROP TABLE IF EXISTS {table}")
    c.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, embedding vector({dim}))")
    copy_rows(c, table, rows)


def copy_rows(c, table, rows):
    with c.cursor() as cur:
        with cur.copy(f"COPY {table} (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "vector"])
            for i, v in rows:
                copy.write_row((i, v))


def format_version(c, index):
    """The format version on the index's meta page (after the 24-byte page header and the
    magic number)."""
    c.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
    page = c.execute("SELECT get_raw_page(%s, 0)", (index,)).fetchone()[0]
    return int.from_bytes(page[28:32], "little")
