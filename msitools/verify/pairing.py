"""Step 2 of verification: pair published rows with delivered files.

Rows and files of one name are paired as a whole: an assignment maximising the
fields that agree (platform, version, size), solved by the Hungarian method,
never by name alone, so two ``Tscore.dll`` rows (x86 and x64) or repeated names
with different sizes pair with the right files.  Each pairing is explained.
"""
from __future__ import annotations

from collections.abc import Sequence

from msitools.kb import NOT_APPLICABLE, PublishedRow
from msitools.verify.delivery import DeliveredFile


def canon_version(value: str | None) -> str:
    if value is None or value == "" or str(value).lower() in ("not applicable", "n/a"):
        return NOT_APPLICABLE
    return str(value)


def _field_agreement(row: PublishedRow, f: DeliveredFile) -> int:
    score = 0
    if row.platform is not None and f.platform is not None and row.platform.lower() == f.platform.lower():
        score += 1
    if row.version is not None and canon_version(row.version) == canon_version(f.pe_version or f.table_version):
        score += 1
    if row.size is not None and row.size in (f.size, f.table_size):
        score += 1
    return score


def _assign(scores: list[list[int]]) -> list[int | None]:
    """Maximum-score assignment of rows to files (Hungarian method on the negated scores)."""
    n_rows = len(scores)
    n_cols = len(scores[0]) if scores else 0
    if not n_rows or not n_cols:
        return [None] * n_rows
    n = max(n_rows, n_cols)
    big = max(max(r) for r in scores) + 1
    cost = [[(big - scores[i][j]) if i < n_rows and j < n_cols else big for j in range(n)] for i in range(n)]
    # O(n^3) Hungarian algorithm (potentials), 1-based internally
    inf = float("inf")
    u = [0.0] * (n + 1)
    v = [0.0] * (n + 1)
    p = [0] * (n + 1)
    way = [0] * (n + 1)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv = [inf] * (n + 1)
        used = [False] * (n + 1)
        while True:
            used[j0] = True
            i0, delta, j1 = p[j0], inf, 0
            for j in range(1, n + 1):
                if not used[j]:
                    cur = cost[i0 - 1][j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j], way[j] = cur, j0
                    if minv[j] < delta:
                        delta, j1 = minv[j], j
            for j in range(n + 1):
                if used[j]:
                    u[p[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while True:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
            if j0 == 0:
                break
    result: list[int | None] = [None] * n_rows
    for j in range(1, n + 1):
        i = p[j] - 1
        if i < n_rows and j - 1 < n_cols:
            result[i] = j - 1
    return result


def _transport(supply: list[int], demand: list[int], cost: list[list[int]]) -> list[list[int]]:
    """Minimum-cost maximum flow from row classes (*supply*) to file classes (*demand*), every class
    pair an arc of cost ``cost[a][b]``: successive shortest paths (Bellman-Ford) on the residual graph."""
    n_r, n_f = len(supply), len(demand)
    source, sink = n_r + n_f, n_r + n_f + 1
    graph: list[list[list[int]]] = [[] for _ in range(n_r + n_f + 2)]  # edge: [to, capacity, cost, reverse]

    def arc(u: int, v: int, capacity: int, c: int) -> None:
        graph[u].append([v, capacity, c, len(graph[v])])
        graph[v].append([u, 0, -c, len(graph[u]) - 1])

    for a in range(n_r):
        arc(source, a, supply[a], 0)
        for b in range(n_f):
            arc(a, n_r + b, supply[a], cost[a][b])
    for b in range(n_f):
        arc(n_r + b, sink, demand[b], 0)
    while True:
        dist = [float("inf")] * len(graph)
        back: list[tuple[int, int] | None] = [None] * len(graph)
        dist[source] = 0
        for _ in range(len(graph)):
            changed = False
            for u, edges in enumerate(graph):
                if dist[u] == float("inf"):
                    continue
                for k, (v, capacity, c, _rev) in enumerate(edges):
                    if capacity > 0 and dist[u] + c < dist[v]:
                        dist[v], back[v], changed = dist[u] + c, (u, k), True
            if not changed:
                break
        if back[sink] is None:
            break
        amount, v = float("inf"), sink
        while v != source:
            u, k = back[v]  # type: ignore[misc]
            amount = min(amount, graph[u][k][1])
            v = u
        v = sink
        while v != source:
            u, k = back[v]  # type: ignore[misc]
            graph[u][k][1] -= int(amount)
            graph[v][graph[u][k][3]][1] += int(amount)
            v = u
    flow = [[0] * n_f for _ in range(n_r)]
    for a in range(n_r):
        for v, _capacity, _c, rev in graph[a]:
            if n_r <= v < n_r + n_f:
                flow[a][v - n_r] = graph[v][rev][1]
    return flow


def _assign_by_class(rows: Sequence[PublishedRow], files: Sequence[DeliveredFile]) -> list[int | None]:
    """The same optimum as :func:`_assign`, computed on classes: rows that publish the same
    (platform, version, size) and files with the same facts are interchangeable, so the
    assignment is a transportation problem between a few classes (a minimum-cost flow by
    successive shortest paths), then spread over the members in their order.  Thousands of
    files of one name (one per folder) pair in milliseconds instead of O(n³)."""
    def row_key(r: PublishedRow) -> tuple:
        return (r.platform.lower() if r.platform else None, canon_version(r.version) if r.version is not None
                else None, r.size)

    def file_key(f: DeliveredFile) -> tuple:
        return (f.platform.lower() if f.platform else None, canon_version(f.pe_version or f.table_version),
                f.size, f.table_size)

    row_classes: dict[tuple, list[int]] = {}
    for i, r in enumerate(rows):
        row_classes.setdefault(row_key(r), []).append(i)
    file_classes: dict[tuple, list[int]] = {}
    for j, f in enumerate(files):
        file_classes.setdefault(file_key(f), []).append(j)
    rk, fk = list(row_classes), list(file_classes)
    rep_rows = [rows[row_classes[k][0]] for k in rk]
    rep_files = [files[file_classes[k][0]] for k in fk]
    score = [[_field_agreement(r, f) for f in rep_files] for r in rep_rows]
    flow = _transport([len(row_classes[k]) for k in rk], [len(file_classes[k]) for k in fk],
                      [[4 - x for x in line] for line in score])
    result: list[int | None] = [None] * len(rows)
    taken = {k: 0 for k in fk}
    for a, key in enumerate(rk):
        members = row_classes[key]
        at = 0
        for b, fkey in enumerate(fk):
            for _ in range(flow[a][b]):
                result[members[at]] = file_classes[fkey][taken[fkey]]
                taken[fkey] += 1
                at += 1
    return result


def match_rows(rows: Sequence[PublishedRow], files: Sequence[DeliveredFile]) -> list[tuple[int | None, str]]:
    """For each published row: the index of its payload file (or None) and why."""
    by_name: dict[str, list[int]] = {}
    for j, f in enumerate(files):
        by_name.setdefault(f.name.lower(), []).append(j)
    rows_by_name: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        rows_by_name.setdefault((row.installed_name or row.name or "").lower(), []).append(i)
    out: list[tuple[int | None, str]] = [(None, "") for _ in rows]
    for name, row_idx in rows_by_name.items():
        candidates = by_name.get(name, [])
        if not candidates:
            for i in row_idx:
                out[i] = (None, "no delivered file has this name")
            continue
        if len(row_idx) * len(candidates) > 64:  # many of one name: solve on classes
            assignment = _assign_by_class([rows[i] for i in row_idx], [files[j] for j in candidates])
        else:
            assignment = _assign([[_field_agreement(rows[i], files[j]) for j in candidates] for i in row_idx])
        for k, i in enumerate(row_idx):
            pick = assignment[k]
            if pick is None:
                out[i] = (None, f"{len(candidates)} delivered file(s) named {rows[i].name}, all paired with "
                                f"other published rows")
                continue
            j = candidates[pick]
            agreeing = _field_agreement(rows[i], files[j])
            if len(candidates) == 1 and len(row_idx) == 1:
                why = "the only delivered file with this name"
            else:
                why = (f"{len(row_idx)} published row(s) and {len(candidates)} delivered file(s) named "
                       f"{rows[i].name}; paired as a whole on platform, version and size "
                       f"({agreeing} of 3 fields agree)")
            out[i] = (j, why)
    return out
