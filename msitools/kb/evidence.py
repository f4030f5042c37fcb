"""Document-wide evidence that narrows the readings of squashed rows (see the package documentation)."""
from __future__ import annotations

from collections import Counter

from msitools.kb.cells import NOT_APPLICABLE, Candidate, TooMany
from msitools.kb.records import RawRow
from msitools.limits import DEFAULT_LIMITS, Limits

EVIDENCE_MARGIN = 2  # a reading is set aside only if it costs this many more versions


def _size_style(c: Candidate) -> str | None:
    if c.size_text is None:
        return None
    if "," in c.size_text:
        return "grouped"
    return "plain" if c.size is not None and c.size >= 1000 else None


def _version_key(c: Candidate) -> str | None:
    return c.version if c.version and c.version != NOT_APPLICABLE else None


def _build_key(c: Candidate) -> str | None:
    v = _version_key(c)
    return v.rsplit(".", 1)[-1] if v and "." in v else None


def _date_key(c: Candidate) -> str | None:
    return c.date


def resolve(rows: list[RawRow], limits: Limits = DEFAULT_LIMITS) -> None:
    """Narrow the readings of every row with document-wide evidence (see module docs)."""
    if all(len(r.cands) == 1 for r in rows):
        return
    # 1. size style
    certain: Counter[str] = Counter()
    for r in rows:
        styles = {_size_style(c) for c in r.cands}
        only = styles.pop() if len(styles) == 1 else None
        if only is not None:
            certain[only] += 1
    if len(certain) == 1:
        style = next(iter(certain))
        other = "plain" if style == "grouped" else "grouped"
        for r in rows:
            kept = [c for c in r.cands if _size_style(c) != other]
            if kept and len(kept) < len(r.cands):
                r.cands = kept
    # 2-4. fewest versions, then build numbers, then dates, until nothing changes
    changed = True
    while changed:
        changed = False
        for key in (_version_key, _build_key, _date_key):
            if all(len(r.cands) == 1 for r in rows):
                return
            allowed = _cover_evidence([frozenset(key(c) for c in r.cands) for r in rows], limits)
            for r, ok in zip(rows, allowed):
                kept = [c for c in r.cands if key(c) in ok]
                if kept and len(kept) < len(r.cands):
                    r.cands = kept
                    changed = True


def _cover_evidence(row_values: list[frozenset], limits: Limits) -> list[frozenset]:
    """For each row, the values that the table does not rule out.

    The table should need as few distinct values (versions, builds, dates) as possible.  A
    value of a row is kept when either test keeps it:

    (A) it belongs to some smallest set of values that gives every row a reading;
    (B) reading the row as that value *alone* (its other values unused by the table) needs
        fewer than EVIDENCE_MARGIN values more than the row's best such reading, and leaves
        no other row without a reading.

    (A) alone would read two rows ``...14151,234,567`` / ``...14162,345,678`` as the shared
    ``...141`` (one version instead of two); (B) alone would reject the true ``...149`` of a
    row that could also be ``...1`` whenever other rows really use ``...1``.  Keeping what
    either keeps leaves such rows ambiguous.  Rows are solved in groups linked by shared
    values; a group whose search exceeds the budget keeps all its values.
    """
    parent: dict = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for values in row_values:
        first = next(iter(values))
        for v in values:
            parent[find(v)] = find(first)
    groups: dict = {}
    for values in row_values:
        groups.setdefault(find(next(iter(values))), set()).add(values)
    verdict: dict[frozenset, frozenset] = {}
    for sets in groups.values():
        try:
            verdict.update(_group_evidence(sets, limits))
        except TooMany:
            verdict.update({v: v for v in sets})
    return [verdict[v] for v in row_values]


def _group_evidence(sets: set[frozenset], limits: Limits) -> dict[frozenset, frozenset]:
    """Allowed values for every kind of row in one group (see :func:`_cover_evidence`)."""
    if len(sets) == 1:
        return {v: v for v in sets}
    if len(sets) > limits.kb_cover_rows:
        raise TooMany
    minimal = _minimal_sets(sets)
    budget = [limits.kb_cover_steps]
    # (A) values that belong to some smallest explanation of the group
    k = _min_hitting(minimal, budget, len(minimal) + 1)
    in_smallest = set()
    for v in set().union(*sets):
        rest = [t for t in minimal if v not in t]
        if 1 + _min_hitting(rest, budget, k) == k:
            in_smallest.add(v)
    out = {}
    for values in sets:
        if len(values) == 1:
            out[values] = values
            continue
        # (B) cost of reading this row as u alone (its other values unused by the table)
        cost = {}
        for u in values:
            others = values - {u}
            rest = []
            for t in minimal:
                if u in t:
                    continue
                t = t - others
                if not t:
                    break
                rest.append(t)
            else:
                cost[u] = 1 + _min_hitting(_minimal_sets(set(rest)), budget, len(rest) + 1)
        best = min(cost.values()) if cost else 0
        plausible = {u for u, c in cost.items() if c < best + EVIDENCE_MARGIN} if cost else set(values)
        out[values] = frozenset((values & in_smallest) | plausible)
    return out


def _minimal_sets(sets: set[frozenset]) -> list[frozenset]:
    """Drop every set that contains another one (meeting the smaller one meets it too)."""
    ordered = sorted(sets, key=len)
    kept: list[frozenset] = []
    for s in ordered:
        if not any(k <= s for k in kept):
            kept.append(s)
    return kept


def _min_hitting(sets: list[frozenset], budget: list[int], bound: int) -> int:
    """Size of the smallest set meeting all *sets*, or *bound* if it is not below *bound*."""
    if not sets:
        return 0
    if bound <= 1:
        return bound
    budget[0] -= 1
    if budget[0] < 0:
        raise TooMany
    best = bound
    for v in min(sets, key=len):
        rest = [t for t in sets if v not in t]
        size = 1 + _min_hitting(rest, budget, best - 1)
        best = min(best, size)
    return best
