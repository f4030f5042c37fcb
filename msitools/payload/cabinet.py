"""The payload of a bare cabinet, or of the whole set it belongs to.

Given any cabinet of a set, the others are looked for beside it (by the names its
header gives, case-insensitively), back to the first and on to the last, as cabextract
does; the set's members are then yielded in order.  Which cabinets were found, and
which were not, is noted in :attr:`CabinetPayload.findings`.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import BinaryIO

from msitools.cab import Cabinet, CabinetSet, directory_resolver
from msitools.errors import MsiToolsError
from msitools.findings import Finding, Level
from msitools.limits import DEFAULT_LIMITS, Limits
from msitools.payload.items import PayloadItem


class CabinetPayload:
    """Iterate over the members of a cabinet set opened from *path* (any member of the set).

    The set is opened on construction (raises when the given cabinet is unreadable) and
    closed by :meth:`close` or ``with``.  :attr:`members` lists every member in order.
    """

    def __init__(self, path: str | os.PathLike[str], *, backend: str = "auto", limits: Limits = DEFAULT_LIMITS,
                 fileobj: BinaryIO | None = None, label: str | None = None):
        """*fileobj* (with *label*): a cabinet held in memory or inside another file (a cabinet in a
        cabinet, as in an .msu); no other cabinet of its set can then be looked for."""
        self.path = os.fspath(path)
        self.backend = backend
        self.label = label or os.path.basename(self.path)
        self.findings: list[Finding] = []
        if fileobj is not None:
            cab = Cabinet.open(fileobj, self.label, limits=limits)
        else:
            cab = Cabinet.from_path(self.path, limits=limits)
        try:
            resolver = None if fileobj is not None else directory_resolver(os.path.dirname(os.path.abspath(self.path)))
            self.set = CabinetSet(cab, resolver=resolver, limits=limits, from_any_member=resolver is not None)
        except BaseException:
            cab.close()
            raise
        self._cab = cab
        names = [os.path.basename(c.name) for c in self.set.cabinets]
        if len(names) > 1:
            self.findings.append(Finding(self.label, f"cabinet set of {len(names)}: {', '.join(names)}", Level.INFO))
        self.findings.extend(Finding(self.label, note) for note in cab.anomalies + self.set.anomalies)
        self.members = self.set.list_members()
        self.kind = "msu" if is_msu([m.name for m in self.members]) else "cab"


    def own_signature(self, trust_store: object = None) -> dict[str, object]:
        """What can be said of the first cabinet's own signature: ``status`` (``unsigned`` or
        ``not_checked``), ``signed`` and ``reason``.  A signed cabinet keeps its signature's place
        in the header reserve area; msitools does not check cabinet signatures."""
        from msitools.pe.trust import NOT_CHECKED, UNSIGNED

        reserve = self.set.cabinets[0].header.header_reserve
        if reserve.strip(b"\x00"):
            return {"signed": None, "digest_matches": None, "status": NOT_CHECKED, "weaknesses": [],
                    "reason": "a cabinet's own signature (its header reserve area is not empty) is not checked"}
        return {"signed": False, "digest_matches": None, "status": UNSIGNED, "weaknesses": [],
                "reason": "no signature: the cabinet's header reserve area is " + ("empty" if reserve else "absent")}

    def close(self) -> None:
        self.set.close()
        self._cab.close()

    def __enter__(self) -> CabinetPayload:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[PayloadItem]:
        seen: set[int] = set()
        try:
            for member, chunks in self.set.iter_members(backend=self.backend):
                seen.add(id(member))
                cabinet = os.path.basename(member.cabinet)
                yield PayloadItem(member.name, f"{cabinet} > {member.name}", chunks, key=member.name, member=member,
                                  size=member.size, date_time=member.date_time, found_in=[cabinet, member.name])
        except MsiToolsError as exc:
            self.findings.append(Finding(self.label, exc.message, Level.ERROR))
            for member in self.members:
                if id(member) not in seen:
                    cabinet = os.path.basename(member.cabinet)
                    yield PayloadItem(member.name, f"{cabinet} > {member.name}", None, exc.message, key=member.name,
                                      member=member, size=member.size, found_in=[cabinet, member.name])


def is_msu(names: list[str]) -> bool:
    """A Windows update package (.msu): a cabinet holding the update's own cabinet and its .xml description."""
    lowered = [n.lower() for n in names]
    return any(n.endswith(".xml") for n in lowered) and any(n.endswith(".cab") and n != "wsusscan.cab"
                                                            for n in lowered)
