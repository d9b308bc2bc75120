"""Writes the results as JSON (everything measured), a markdown summary and a PNG plot of
recall@10 against queries/s."""

import json
import pathlib

import matplotlib

matplotlib.use("Agg")  # no display on a server or in CI
import matplotlib.pyplot as plt  # noqa: E402

from targets import PGVECTOR, at_ef, pgvector_comparable, qps_at_recall  # noqa: E402


def write(r, out_dir, name):
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.json", out_dir / f"{name}.md", out_dir / f"{name}.png"]
    paths[0].write_text(json.dumps(r, indent=1) + "\n")
    paths[1].write_text(markdown(r, paths[2].name))
    plot(r, paths[2])
    return paths


def fmt_point(p):
    return f"{p['recall']:.3f} / {p['qps']:,.0f}" if p else ""


def markdown(r, png):
    c, pg, lib = r["config"], r["pg"], r.get("hnswlib")
    ref = pgvector_comparable(c)
    out = [f"# hnsw_pg benchmark: {c['dataset']}, {c['rows']:,} x {c['dim']} ({c['metric']})", "",
           f"{c['date']}; {c['machine']}; PostgreSQL {c['server']['server']}, shared_buffers "
           f"{c['server']['shared_buffers']}, maintenance_work_mem 2GB; hnsw_pg {c['server']['hnsw_pg']}. "
           f"Data: {c['source']}. {c['queries']:,} queries, recall@10 against exact neighbours "
           f"computed with numpy; queries/s is the median of {c['rounds']} passes over the queries, one "
           f"client connection with prepared statements unless said. "
           f"Total run {r['total_s']:.0f} s.", ""]
    if ref:
        out += [f"pgvector column: {PGVECTOR['label']}.", ""]

    out += ["## Build", "",
            "| index | threads | time | size | peak RSS | peak private (RssAnon) |" + (" pgvector |" if ref else ""),
            "|---|---:|---:|---:|---:|---:|" + ("---:|" if ref else "")]
    for key, b in pg["builds"].items():
        refcol = ""
        if ref:
            refcol = f" {PGVECTOR['build_s']} s, {PGVECTOR['size_mib']} MiB |" if key == "m16_2t" else " |"
        out.append(f"| hnsw_pg m={b['m']} ef_construction={b['ef_construction']} | {b['threads']} | "
                   f"{b['seconds']:.1f} s | {b['size_mib']:.0f} MiB | {b['peak_rss_mib']:.0f} MiB | "
                   f"{b['peak_anon_mib']:.0f} MiB |{refcol}")
    if lib:
        for b in lib["builds"]:
            out.append(f"| hnswlib M={b['m']} ef_construction={b['ef_construction']} | {b['threads']} | "
                       f"{b['seconds']:.1f} s | | | |" + (" |" if ref else ""))
    out += ["", "Peak RSS includes the shared_buffers pages the backend touched; private (RssAnon) is "
                "the build's own memory. Both polled every 20 ms from /proc during CREATE INDEX.",
            "", f"Load (binary COPY, {pg['load']['rows']:,} rows): {pg['load']['seconds']:.1f} s; "
                f"table {pg['load']['table_mib']:.0f} MiB.", ""]

    out += ["## Queries: recall@10 / queries per second", "",
            "| ef_search | hnsw_pg m16 | p50 / p99 ms | hnsw_pg m16, 2 connections | hnsw_pg m32 | hnswlib 1 thread |"
            + (" pgvector |" if ref else ""),
            "|---:|---:|---:|---:|---:|---:|" + ("---:|" if ref else "")]
    for p in pg["m16"]["points"]:
        ef = p["ef"]
        row = (f"| {ef} | {fmt_point(p)} | {p['p50_ms']:.2f} / {p['p99_ms']:.2f} | "
               f"{fmt_point(at_ef(pg['m16_2conn']['points'], ef))} | {fmt_point(at_ef(pg['m32']['points'], ef))} | "
               f"{fmt_point(lib and at_ef(lib['points'], ef))} |")
        if ref:
            row += f" {fmt_point(at_ef(PGVECTOR['points'], ef))} |"
        out.append(row)
    e = pg["exact"]
    out += ["", f"Exact search in Postgres (no index scan, {e['queries']} queries): recall@10 {e['recall']:.3f}, "
                f"{e['qps']:,.1f} queries/s, p50 {e['p50_ms']:.1f} ms.", ""]
    at95 = [("hnsw_pg m16", pg["m16"]["points"]), ("hnsw_pg m32", pg["m32"]["points"]),
            ("hnsw_pg m16, 2 connections", pg["m16_2conn"]["points"])]
    if lib:
        at95.append(("hnswlib 1 thread", lib["points"]))
    if ref:
        at95.append(("pgvector", PGVECTOR["points"]))
    out.append("Queries/s at recall@10 = 0.95 (interpolated between ef values): " + "; ".join(
        f"{n} {q:,.0f}" if (q := qps_at_recall(pts)) else f"{n} not reached" for n, pts in at95) + ".")
    out.append("")

    ins, mt = pg["inserts"], pg["maintenance"]
    out += ["## Writes and maintenance", "", "| measure | hnsw_pg |" + (" pgvector |" if ref else ""),
            "|---|---:|" + ("---:|" if ref else "")]

    def line(name, value, ref_value=""):
        out.append(f"| {name} | {value} |" + (f" {ref_value} |" if ref else ""))

    line(f"single-row inserts ({ins['rows']:,} rows after the build)", f"{ins['rows_per_s']:,.0f} rows/s",
         f"{PGVECTOR['inserts_per_s']} rows/s")
    line(f"DELETE {mt['deleted']:,} rows (every tenth id)", f"{mt['delete_s']:.1f} s")
    line("VACUUM after the DELETE", f"{mt['vacuum_s']:.1f} s", f"{PGVECTOR['vacuum_s']} s")
    for p in mt["points_after"]:
        line(f"recall@10 / QPS after VACUUM, ef_search {p['ef']}", fmt_point(p))
    line("hnsw_pg_check problems after VACUUM", str(len(mt["check_problems"])))
    line(f"REINDEX ({mt['reindex']['threads']} threads)", f"{mt['reindex']['seconds']:.1f} s, "
         f"{mt['reindex']['size_mib']:.0f} MiB", f"{PGVECTOR['reindex_s']} s")
    out.append("")

    out += ["## Targets", "", "| target | measured vs goal |", "|---|---|"]
    out += [f"| {g['target']} | {g['text']} |" for g in r["gaps"]]
    if not ref:
        out += ["", "The pgvector targets apply only to the first 100,000 rows of wordnet "
                    "(`make bench`), where the team measured pgvector."]
    if r["failures"]:
        out += ["", "**Correctness checks failed:** " + "; ".join(r["failures"])]
    out += ["", f"![recall against queries/s]({png})", ""]
    return "\n".join(out)


def plot(r, path):
    pg, lib = r["pg"], r.get("hnswlib")
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=110)
    curves = [("hnsw_pg m16/efc64", pg["m16"]["points"], "o-"),
              ("hnsw_pg m32/efc128", pg["m32"]["points"], "s-"),
              ("hnsw_pg m16, 2 connections", pg["m16_2conn"]["points"], "^-")]
    if lib:
        curves.append(("hnswlib M16/efc64, 1 thread", lib["points"], "D--"))
    if pgvector_comparable(r["config"]):
        curves.append(("pgvector 0.8.6 (team's figures)", PGVECTOR["points"], "x:"))
    for label, pts, style in curves:
        ax.plot([p["recall"] for p in pts], [p["qps"] for p in pts], style, label=label)
        for p in pts:
            ax.annotate(str(p["ef"]), (p["recall"], p["qps"]), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
    e = pg["exact"]
    ax.plot([e["recall"]], [e["qps"]], "k*", markersize=12, label="exact (no index)")
    ax.set_yscale("log")
    ax.set_xlabel("recall@10")
    ax.set_ylabel("queries per second (log)")
    c = r["config"]
    ax.set_title(f"{c['dataset']}: {c['rows']:,} x {c['dim']} ({c['metric']}); labels are ef_search")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
