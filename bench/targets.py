"""The project's targets against pgvector (measured in the same run) and hnswlib, with the
gap to each, and the helpers that read a recall/QPS curve."""

import math

RECALL = 0.95
# Indexes with codes (hnsw_pg only): the sweep's key, its reloptions, a label.
CODES = (("m16_sq8", "quantization = 'sq8'", "SQ8 codes"),
         ("m16_pq", "quantization = 'pq'", "PQ codes"),
         ("m16_compact", "quantization = 'pq', compact = true", "compact PQ"))
# The fast modes (vectors in the index), for the queries/s and server-time targets.
FAST = ("m16_sq8", "m16_pq")


def qps_at_recall(points, target=RECALL):
    """Queries/s where the curve (points by ef) crosses `target` recall, interpolated on
    log(QPS) between the two ef values around it. If even the lowest ef reaches the target,
    the best QPS that does (a lower bound). None if no point reaches it."""
    points = sorted(points, key=lambda p: p["ef"])
    if not points or max(p["recall"] for p in points) < target:
        return None
    if points[0]["recall"] >= target:
        return max(p["qps"] for p in points if p["recall"] >= target)
    for lo, hi in zip(points, points[1:]):
        if lo["recall"] < target <= hi["recall"]:
            f = (target - lo["recall"]) / (hi["recall"] - lo["recall"])
            return math.exp(math.log(lo["qps"]) + f * (math.log(hi["qps"]) - math.log(lo["qps"])))
    return None


def best_qps_at_recall(points, target=RECALL):
    return max((p["qps"] for p in points if p["recall"] >= target), default=None)


def at_ef(points, ef):
    return next((p for p in points if p["ef"] == ef), None)


def gaps(r):
    """Rows of (target, goal text, measured, goal value, met) for the results `r`."""
    rows = []

    def add(name, measured, goal, higher_is_better, fmt):
        if measured is None or goal is None:
            rows.append({"target": name, "measured": None, "goal": goal, "met": False,
                         "text": "not measured"})
            return
        met = measured >= goal if higher_is_better else measured <= goal
        off = abs(measured / goal - 1)
        if higher_is_better:
            verdict = f"met, {off:.0%} above" if met else f"MISSED, {off:.0%} below"
        else:
            verdict = f"met, {off:.0%} under" if met else f"MISSED, {off:.0%} over"
        rows.append({"target": name, "measured": measured, "goal": goal, "met": met,
                     "text": f"{fmt(measured)} vs {'>=' if higher_is_better else '<='} {fmt(goal)} ({verdict})"})

    ours, theirs = r["pg"]["hnsw_pg"], r["pg"].get("pgvector")
    m16 = ours["m16"]["points"]
    build2 = ours["builds"]["m16_2t"]["seconds"]
    p40 = at_ef(m16, 40)
    add("recall@10 >= 0.95 at ef_search 40", p40 and p40["recall"], RECALL, True, lambda v: f"{v:.3f}")
    if theirs:
        add("build (2 threads) >= 3x faster than pgvector's", build2,
            theirs["builds"]["m16_2t"]["seconds"] / 3, False, lambda v: f"{v:.1f} s")
        their_qps = qps_at_recall(theirs["m16"]["points"])
        add("QPS at recall 0.95 (interpolated) >= 2.5x pgvector's", qps_at_recall(m16),
            their_qps and 2.5 * their_qps, True, lambda v: f"{v:,.0f}")
        for key, _, label in CODES:
            if key not in ours or key not in FAST:
                continue
            add(f"{label}: QPS at recall 0.95 (interpolated) >= 2.5x pgvector's",
                qps_at_recall(ours[key]["points"]), their_qps and 2.5 * their_qps, True,
                lambda v: f"{v:,.0f}")
            mine, other = at_ef(ours[key]["points"], 40), at_ef(theirs["m16"]["points"], 40)
            add(f"{label}: server time per query at ef_search 40 <= 1/3 of pgvector's",
                mine and mine["server_ms"], other and other["server_ms"] / 3, False, lambda v: f"{v:.2f} ms")
        add("index at most 0.9x pgvector's", ours["builds"]["m16_2t"]["size_mib"],
            0.9 * theirs["builds"]["m16_2t"]["size_mib"], False, lambda v: f"{v:.0f} MiB")
        if "m16_2t_compact" in ours["builds"]:
            add("compact PQ: index at most 1/4 of pgvector's", ours["builds"]["m16_2t_compact"]["size_mib"],
                theirs["builds"]["m16_2t"]["size_mib"] / 4, False, lambda v: f"{v:.0f} MiB")
    if "m16_compact" in ours:
        p40 = at_ef(ours["m16_compact"]["points"], 40)
        add("compact PQ: recall@10 >= 0.95 at ef_search 40", p40 and p40["recall"], RECALL, True,
            lambda v: f"{v:.3f}")
    for key, which in (("filtered", "no btree"), ("filtered_btree", "a btree on the filter column")):
        worst = max(((label, chosen_against_best(v)) for label, v in ours[key].items()), key=lambda x: x[1])
        add(f"filtered queries, {which}: the plan chosen within 1.5x of the fastest plan (worst: {worst[0]})",
            worst[1], 1.5, False, lambda v: f"{v:.2f}x")
    lib = r.get("hnswlib")
    if lib:
        lib_qps = qps_at_recall(lib["points"])
        add("QPS at recall 0.95 (interpolated) >= 1/2 of hnswlib 1-thread's", qps_at_recall(m16),
            lib_qps and lib_qps / 2, True, lambda v: f"{v:,.0f}")
        lib2 = max(lib["builds"], key=lambda b: b["threads"])
        add(f"build (2 threads) <= 1.2x hnswlib {lib2['threads']}-thread build", build2,
            1.2 * lib2["seconds"], False, lambda v: f"{v:.1f} s")
    return rows


def chosen_against_best(variants):
    """How many times slower the chosen plan of a filtered query ran than the fastest of
    the plans forced (1.0 when it is the fastest)."""
    best = max(p["qps"] for variant, p in variants.items() if variant != "chosen")
    return best / variants["chosen"]["qps"]


def ratios(r):
    """hnsw_pg against pgvector, both measured in this run: (measure, hnsw_pg, pgvector,
    how many times better hnsw_pg is) for each measure, > 1 meaning hnsw_pg is better."""
    ours, theirs = r["pg"]["hnsw_pg"], r["pg"].get("pgvector")
    if not theirs:
        return []
    rows = []

    def add(name, mine, other, higher_is_better, unit):
        if mine is None or other is None or not mine or not other:
            rows.append((name, mine, other, None, unit))
        else:
            rows.append((name, mine, other, mine / other if higher_is_better else other / mine, unit))

    for key, label in (("m16_1t", "build m16, 1 thread"), ("m16_2t", "build m16, 2 threads"),
                       ("m32_2t", "build m32, 2 threads")):
        add(label, ours["builds"][key]["seconds"], theirs["builds"][key]["seconds"], False, "s")
    add("index size (m16)", ours["builds"]["m16_2t"]["size_mib"], theirs["builds"]["m16_2t"]["size_mib"],
        False, "MiB")
    # One thread: pgvector's parallel build keeps its graph in dynamic shared memory, which
    # private memory does not count.
    add("build peak private memory (m16, 1 thread)", ours["builds"]["m16_1t"]["peak_anon_mib"],
        theirs["builds"]["m16_1t"]["peak_anon_mib"], False, "MiB")
    for key, label in (("m16", "m16"), ("m32", "m32"), ("m16_2conn", "m16, 2 connections")):
        add(f"queries/s at recall 0.95, {label}", qps_at_recall(ours[key]["points"]),
            qps_at_recall(theirs[key]["points"]), True, "q/s")
    for key, _, label in CODES:
        if key in ours:
            add(f"queries/s at recall 0.95, m16 with {label} (pgvector: m16)",
                qps_at_recall(ours[key]["points"]), qps_at_recall(theirs["m16"]["points"]), True, "q/s")
    coded = [(key, f"m16 with {label} (pgvector: m16)") for key, _, label in CODES]
    for key, label in [("m16", "m16")] + coded:
        p_ours, p_theirs = at_ef(ours.get(key, {}).get("points", []), 40), at_ef(theirs["m16"]["points"], 40)
        if p_ours and p_theirs:
            add(f"server-side time per query, {label}, ef_search 40", p_ours["server_ms"],
                p_theirs["server_ms"], False, "ms")
    for label in ours.get("filtered_in_index", {}):
        # The same rows as pgvector's filter without a btree, here through the key columns.
        mine, other = ours["filtered_in_index"][label]["chosen"], theirs["filtered"][label]["chosen"]
        add(f"filtered queries/s, {label}, filter columns in hnsw_pg's index (plans chosen: {mine['plan']}, "
            f"{other['plan']})", mine["qps"], other["qps"], True, "q/s")
    for key, which in (("filtered", ""), ("filtered_btree", ", with a btree")):
        for label in ours[key]:
            mine, other = ours[key][label]["chosen"], theirs[key][label]["chosen"]
            add(f"filtered queries/s, {label}{which} (plans chosen: {mine['plan']}, {other['plan']})",
                mine["qps"], other["qps"], True, "q/s")
    add("single-row inserts", ours["inserts"]["rows_per_s"], theirs["inserts"]["rows_per_s"], True, "rows/s")
    add("VACUUM after deleting 10%", ours["maintenance"]["vacuum_s"], theirs["maintenance"]["vacuum_s"],
        False, "s")
    add("REINDEX (2 threads)", ours["maintenance"]["reindex"]["seconds"],
        theirs["maintenance"]["reindex"]["seconds"], False, "s")
    return rows
