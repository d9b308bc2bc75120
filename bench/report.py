"""Writes the results as JSON (everything measured), a markdown summary and a PNG plot of
recall@10 against queries/s."""

import json
import pathlib

import matplotlib

matplotlib.use("Agg")  # no display on a server or in CI
import matplotlib.pyplot as plt  # noqa: E402

from targets import CODES, at_ef, chosen_against_best, qps_at_recall, ratios  # noqa: E402


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


def engine_label(name, c):
    return f"{name} {c['server'][name]}"


def markdown(r, png):
    c, pg, lib = r["config"], r["pg"], r.get("hnswlib")
    names = c["engines"]
    ours = pg["hnsw_pg"]
    versions = ", ".join(engine_label(n, c) for n in names)
    out = [f"# hnsw_pg benchmark: {c['dataset']}, {c['rows']:,} x {c['dim']} ({c['metric']})", "",
           f"{c['date']}; {c['machine']}; PostgreSQL {c['server']['server']}, shared_buffers "
           f"{c['server']['shared_buffers']}, maintenance_work_mem 2GB; {versions}"
           + (", each in a database of its own in the same cluster, taking turns pass by pass"
              if len(names) > 1 else "") + ". "
           f"Data: {c['source']}. {c['queries']:,} queries, recall@10 against exact neighbours "
           f"computed with numpy; queries/s is the median of {c['rounds']} passes over the queries, one "
           f"client connection with prepared statements unless said; server time is the median "
           f"EXPLAIN ANALYZE execution time of the first queries. Total run {r['total_s']:.0f} s.", ""]

    rows = ratios(r)
    if rows:
        out += ["## hnsw_pg against pgvector, measured in this run", "",
                "| measure | hnsw_pg | pgvector | hnsw_pg better by |", "|---|---:|---:|---:|"]
        for name, mine, other, ratio, unit in rows:
            def show(v):
                if v is None:
                    return "not reached"
                return f"{v:.3f}" if unit == "" else f"{v:,.1f} {unit}" if v < 100 else f"{v:,.0f} {unit}"
            out.append(f"| {name} | {show(mine)} | {show(other)} | "
                       f"{f'{ratio:.2f}x' if ratio is not None else ''} |")
        out.append("")

    out += ["## Build", "",
            "| index | threads | time | size | peak RSS | peak private (RssAnon) |",
            "|---|---:|---:|---:|---:|---:|"]
    for name in names:
        for b in pg[name]["builds"].values():
            options = f", {b['options']}" if b.get("options") else ""
            out.append(f"| {name} m={b['m']} ef_construction={b['ef_construction']}{options} | {b['threads']} | "
                       f"{b['seconds']:.1f} s | {b['size_mib']:.0f} MiB | {b['peak_rss_mib']:.0f} MiB | "
                       f"{b['peak_anon_mib']:.0f} MiB |")
    if lib:
        for b in lib["builds"]:
            out.append(f"| hnswlib M={b['m']} ef_construction={b['ef_construction']} | {b['threads']} | "
                       f"{b['seconds']:.1f} s | | | |")
    out += ["", "Memory is summed over the building backend and its parallel workers (hnsw_pg builds "
                "on threads inside the backend, pgvector in worker processes), polled every 20 ms from "
                "/proc during CREATE INDEX. Peak RSS includes the shared_buffers pages each process "
                "touched; private (RssAnon) is the build's own memory, except that pgvector's parallel "
                "builds keep their graph in dynamic shared memory, which only RSS counts.",
            "", f"Load (binary COPY, {ours['load']['rows']:,} rows): " + "; ".join(
                f"{n} {pg[n]['load']['seconds']:.1f} s, table {pg[n]['load']['table_mib']:.0f} MiB"
                for n in names) + ".", ""]

    curves = [(f"{n} m16", pg[n]["m16"]["points"]) for n in names]
    curves += [(f"{n} m16, 2 connections", pg[n]["m16_2conn"]["points"]) for n in names]
    curves += [(f"{n} m32", pg[n]["m32"]["points"]) for n in names]
    coded = [(f"hnsw_pg m16 {label}", ours[key]["points"]) for key, _, label in CODES if key in ours]
    curves += coded
    if lib:
        curves.append(("hnswlib 1 thread", lib["points"]))
    heap_rows = ours.get("m16_compact", {}).get("heap_rows_per_query")
    if heap_rows is not None:
        out += [f"A compact index's scan returned {heap_rows:.0f} rows a query at ef_search 40, each "
                "fetched from the table for the executor to re-rank.", ""]
    out += ["## Queries: recall@10 / queries per second", "",
            "| ef_search | " + " | ".join(n for n, _ in curves) + " |",
            "|---:|" + "---:|" * len(curves)]
    for p in ours["m16"]["points"]:
        out.append(f"| {p['ef']} | " + " | ".join(fmt_point(at_ef(pts, p["ef"])) for _, pts in curves) + " |")
    timed = [(f"{n} m16", pg[n]["m16"]["points"]) for n in names]
    timed += coded
    out += ["", "| ef_search | " + " | ".join(f"{n} p50 / p99 / server ms" for n, _ in timed) + " |",
            "|---:|" + "---:|" * len(timed)]
    for p in ours["m16"]["points"]:
        cells = []
        for _, pts in timed:
            q = at_ef(pts, p["ef"])
            cells.append(f"{q['p50_ms']:.2f} / {q['p99_ms']:.2f} / {q['server_ms']:.2f}")
        out.append(f"| {p['ef']} | " + " | ".join(cells) + " |")
    e = ours["exact"]
    out += ["", f"Exact search in Postgres (no index scan, {e['queries']} queries): recall@10 {e['recall']:.3f}, "
                f"{e['qps']:,.1f} queries/s, p50 {e['p50_ms']:.1f} ms.", ""]
    out.append("Queries/s at recall@10 = 0.95 (interpolated between ef values): " + "; ".join(
        f"{n} {q:,.0f}" if (q := qps_at_recall(pts)) else f"{n} not reached" for n, pts in curves) + ".")
    out.append("")

    out += ["## Filtered queries (ef_search 40, iterative scan relaxed_order)", "",
            "Filters: `category < bound` (category = id % 1000, uncorrelated with the vectors) and, where the "
            "set has classes, `label = ` each query's own class or another one (its class + 5). Each under the "
            "plan the planner chooses, then under each plan forced: without a btree, the hnsw index "
            "(sequential scans off) and the exact plan (index scans off); with a btree on the filter column, "
            "the hnsw index (sorts off), a bitmap scan of the btree and a sort, and a sequential scan and a "
            "sort. Recall is against exact search over the rows that pass; a forced plan runs for "
            "4 s at most (at least 20 queries).", ""]
    for key, title in (("filtered", "No other index"), ("filtered_btree", "A btree on the filter column"),
                       ("filtered_in_index", "hnsw_pg with the filter columns in its index (no btree)")):
        if key not in ours:
            continue
        variants = [v for v in next(iter(ours[key].values())) if v != "chosen"]
        out += [f"{title}:", "",
                "| filter | engine | chosen plan | chosen: recall / q/s | "
                + " | ".join(f"{v}: q/s" for v in variants) + " | chosen against the fastest |",
                "|---|---|---|---:|" + "---:|" * len(variants) + "---:|"]
        for label in ours[key]:
            for n in (n for n in names if key in pg[n]):
                v = pg[n][key][label]

                def cell(p):
                    return (f"{p['recall']:.3f} / " if p["recall"] is not None else "") + f"{p['qps']:,.0f}"
                out.append(f"| {label} | {n} | {v['chosen']['plan']} | {cell(v['chosen'])} | "
                           + " | ".join(f"{v[x]['qps']:,.0f}" for x in variants)
                           + f" | {chosen_against_best(v):.2f}x |")
        out.append("")

    out += ["## Writes and maintenance", "", "| measure | " + " | ".join(names) + " |",
            "|---|" + "---:|" * len(names)]

    def line(name, cell):
        out.append(f"| {name} | " + " | ".join(cell(pg[n]) for n in names) + " |")

    line(f"single-row inserts ({ours['inserts']['rows']:,} rows after the build)",
         lambda x: f"{x['inserts']['rows_per_s']:,.0f} rows/s")
    line(f"DELETE {ours['maintenance']['deleted']:,} rows (every tenth id)",
         lambda x: f"{x['maintenance']['delete_s']:.1f} s")
    line("VACUUM after the DELETE", lambda x: f"{x['maintenance']['vacuum_s']:.1f} s")
    for p in ours["maintenance"]["points_after"]:
        line(f"recall@10 / QPS after VACUUM, ef_search {p['ef']}",
             lambda x, ef=p["ef"]: fmt_point(at_ef(x["maintenance"]["points_after"], ef)))
    line("hnsw_pg_check problems after VACUUM",
         lambda x: str(len(x["maintenance"]["check_problems"])) if "check_problems" in x["maintenance"] else "")
    line("REINDEX (2 threads)", lambda x: f"{x['maintenance']['reindex']['seconds']:.1f} s, "
                                          f"{x['maintenance']['reindex']['size_mib']:.0f} MiB")
    out.append("")

    out += ["## Targets", "", "| target | measured vs goal |", "|---|---|"]
    out += [f"| {g['target']} | {g['text']} |" for g in r["gaps"]]
    if "pgvector" not in names:
        out += ["", "pgvector was not in this run (it runs beside hnsw_pg on PostgreSQL 18, the default)."]
    if r["failures"]:
        out += ["", "**Correctness checks failed:** " + "; ".join(r["failures"])]
    out += ["", f"![recall against queries/s]({png})", ""]
    return "\n".join(out)


def plot(r, path):
    pg, lib, names = r["pg"], r.get("hnswlib"), r["config"]["engines"]
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=110)
    curves = []
    for name, style in zip(names, ("-", ":")):
        curves += [(f"{name} m16/efc64", pg[name]["m16"]["points"], "o" + style),
                   (f"{name} m32/efc128", pg[name]["m32"]["points"], "s" + style),
                   (f"{name} m16, 2 connections", pg[name]["m16_2conn"]["points"], "^" + style)]
    for (key, _, label), style in zip(CODES, ("v-", "<-")):
        if key in pg["hnsw_pg"]:
            curves.append((f"hnsw_pg m16/efc64, {label}", pg["hnsw_pg"][key]["points"], style))
    if lib:
        curves.append(("hnswlib M16/efc64, 1 thread", lib["points"], "D--"))
    for label, pts, style in curves:
        ax.plot([p["recall"] for p in pts], [p["qps"] for p in pts], style, label=label)
        for p in pts:
            ax.annotate(str(p["ef"]), (p["recall"], p["qps"]), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
    e = pg["hnsw_pg"]["exact"]
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
