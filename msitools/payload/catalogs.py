"""Payload signed through catalogs: the catalogs and manifests a package delivers, and the files they vouch for.

Windows trusts an unsigned file whose hash a signed catalog lists (directly: the PE
Authenticode digest or the flat hash; or through a side-by-side manifest the catalog
lists, which names the file with its digest).  While a job walks a package's payload it
hands every catalog and manifest to a :class:`CatalogCollector` and records the digests
of the other files; :meth:`CatalogCollector.finish` then says, for each recorded file,
whether it is catalog-signed, or altered (a catalog or vouched manifest names it with
another hash).  Manifests vouch only for files in their own folder.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from msitools.errors import MsiToolsError
from msitools.findings import Finding, Level
from msitools.limits import DEFAULT_LIMITS, Limits
from msitools.payload.spool import Spool
from msitools.pe.catalog import Catalog, CatalogMember, read_catalog
from msitools.pe.sxs import LEGACY, MAX_MANIFEST, manifest_files
from msitools.pe.trust import CATALOG_ALTERED, CATALOG_LISTED, CATALOG_SIGNED

CATALOG_SUFFIXES = (".cat",)
MANIFEST_SUFFIXES = (".manifest",)


def has_catalogs(names: list[str]) -> bool:
    """True when a package's file names include a catalog (then digests are worth computing)."""
    return any(n.lower().endswith(CATALOG_SUFFIXES) for n in names)


@dataclass
class FileDigests:
    """The digests a catalog or manifest may name a file by (lowercase hex)."""

    sha1: str
    sha256: str
    pe_sha1: str | None = None  # PE Authenticode digests (unsigned images are listed by these)
    pe_sha256: str | None = None

    def all(self) -> list[str]:
        return [d for d in (self.pe_sha1, self.pe_sha256, self.sha1, self.sha256) if d]


def file_digests(spool: Spool, limits: Limits = DEFAULT_LIMITS) -> FileDigests:
    """The flat digests of a spooled file, and its PE Authenticode digests when it is a PE image."""
    out = FileDigests(spool.sha1, spool.sha256)
    if spool.head(2) != b"MZ" or spool.size > limits.pe_read_size:
        return out
    from msitools.pe._signify import load_signify

    names = load_signify()
    try:
        import hashlib

        image = names.SignedPEFile(io.BytesIO(spool.read(limits.pe_read_size)))
        out.pe_sha1 = image.get_fingerprint(hashlib.sha1).hex()
        out.pe_sha256 = image.get_fingerprint(hashlib.sha256).hex()
    except Exception:
        pass  # not a well-formed image: only its flat digests can be listed
    return out


@dataclass
class _Recorded:
    name: str
    folder: tuple[str, ...] | None
    digests: FileDigests


@dataclass
class CatalogCollector:
    """Collects a package's catalogs, manifests and file digests; :meth:`finish` judges the files."""

    trust_store: Any = None
    limits: Limits = DEFAULT_LIMITS
    catalogs: list[tuple[str, Catalog]] = field(default_factory=list)  # (where, catalog)
    findings: list[Finding] = field(default_factory=list)
    _manifests: list[tuple[str, tuple[str, ...] | None, FileDigests, dict[str, list[tuple[str, str]]]]] = \
        field(default_factory=list)
    _files: dict[Any, _Recorded] = field(default_factory=dict)

    def add(self, key: Any, name: str, folder: tuple[str, ...] | None, where: str, spool: Spool) -> FileDigests:
        """Record a payload file (a catalog and a manifest are also read); returns its digests."""
        digests = file_digests(spool, self.limits)
        lower = name.lower()
        if lower.endswith(CATALOG_SUFFIXES):
            try:
                data = spool.read(self.limits.signature_stream_size, "catalog")
                self.catalogs.append((where, read_catalog(data, name, self.trust_store, self.limits)))
            except MsiToolsError as exc:
                self.findings.append(Finding(where, f"catalog unreadable: {exc.message}", Level.WARNING))
        elif lower.endswith(MANIFEST_SUFFIXES) and spool.size <= MAX_MANIFEST:
            try:
                files = manifest_files(spool.read(MAX_MANIFEST), name)
                for vouched in _vouched_folders(folder, name):
                    self._manifests.append((where, vouched, digests, files))
            except MsiToolsError as exc:
                self.findings.append(Finding(where, f"manifest unreadable: {exc.message}", Level.INFO))
        self._files[key] = _Recorded(name, folder, digests)
        return digests

    def _listed(self, digests: FileDigests) -> tuple[Catalog, CatalogMember] | None:
        for _where, catalog in self.catalogs:
            for digest in digests.all():
                member = catalog.find(digest)
                if member is not None:
                    return catalog, member
        return None

    def finish(self) -> dict[Any, dict[str, Any]]:
        """``{key: signature}`` for every recorded file a catalog vouches for or contradicts."""
        vouching = []  # (where, folder, catalog, files) of manifests a catalog lists
        for where, folder, digests, files in self._manifests:
            found = self._listed(digests)
            if found is not None:
                vouching.append((where, folder, found[0], files))
        out: dict[Any, dict[str, Any]] = {}
        for key, recorded in self._files.items():
            verdict = self._judge(recorded, vouching)
            if verdict is not None:
                out[key] = verdict
        return out

    def _judge(self, recorded: _Recorded, vouching: list[Any]) -> dict[str, Any] | None:
        found = self._listed(recorded.digests)
        if found is not None:
            catalog, member = found
            return _signed(catalog, None, "the catalog lists the file's "
                           + ("Authenticode digest" if member.pe_image else f"{member.algorithm} hash"))
        flat = {"sha1": recorded.digests.sha1, "sha256": recorded.digests.sha256}
        for where, _folder, catalog, files in vouching:  # the bytes a signed manifest vouches for, wherever they lie
            for entries in files.values():
                if any(flat.get(alg) == digest for alg, digest in entries):
                    return _signed(catalog, where, f"the manifest {where.rsplit(' > ', 1)[-1]}, listed in the "
                                                   "catalog, names these bytes by their hash")
        return self._named(recorded, vouching)

    def _named(self, recorded: _Recorded, vouching: list[Any]) -> dict[str, Any] | None:
        """A file a signed manifest in its folder (or a catalog) names, but not with its hash."""
        lower = recorded.name.lower()
        for where, folder, catalog, files in vouching:
            if folder != recorded.folder or lower not in files:
                continue
            manifest = where.rsplit(" > ", 1)[-1]
            facts = {"catalog": catalog.name, "signer": catalog.signer, "catalog_status": catalog.status, "via": where}
            if all(alg == LEGACY for alg, _digest in files[lower]):
                return {"status": CATALOG_LISTED, **facts,
                        "reason": f"the manifest {manifest} (listed in catalog {catalog.name}) names this file only "
                                  "with the legacy side-by-side hash, which cannot be recomputed: not verified"}
            return {"status": CATALOG_ALTERED, **facts,
                    "reason": f"the manifest {manifest} (listed in catalog {catalog.name}) names this file with "
                              "another hash: it was changed after signing"}
        for _where, catalog in self.catalogs:
            if any(m.name and m.name.lower() == lower for m in catalog.members):
                return {"status": CATALOG_ALTERED, "catalog": catalog.name, "signer": catalog.signer,
                        "catalog_status": catalog.status, "via": None,
                        "reason": f"catalog {catalog.name} lists this file name with another hash: it was changed "
                                  "after signing"}
        return None


def _vouched_folders(folder: tuple[str, ...] | None, name: str) -> list[tuple[str, ...] | None]:
    """The folders whose files a manifest speaks for: its own, and for ``winsxs/Manifests/X.manifest``
    (the Windows XP layout) the assembly folder ``winsxs/X``."""
    out: list[tuple[str, ...] | None] = [folder]
    if folder and folder[-1].lower() == "manifests":
        out.append((*folder[:-1], name[: -len(".manifest")]))
    return out


def _signed(catalog: Catalog, via: str | None, how: str) -> dict[str, Any]:
    return {"status": CATALOG_SIGNED, "catalog": catalog.name, "signer": catalog.signer,
            "catalog_status": catalog.status, "via": via, "reason": f"{how}; {catalog.reason}"}
