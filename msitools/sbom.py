"""``sbom``: a CycloneDX SBOM (JSON, spec 1.6) of a package and everything it delivers.

Built with the maintained ``cyclonedx-python-lib`` and checked against the CycloneDX JSON
schema before it is returned (when the library's validation extra is installed).

* ``metadata.component``: the package (type ``application``): product name and version,
  manufacturer as supplier, SHA-256 and SHA-1 of the file, and as ``msitools:``
  properties its kind, product, upgrade and package codes and its Authenticode status
  and signer;
* ``components``: every payload file (type ``file``): name, version (PE version
  resource, else File table), SHA-256 and SHA-1 of the real bytes, and as properties its
  install path, size, where it was found, and for PE images the Authenticode status and
  signer; a package inside (an installer or a patch in a hotfix's cabinet) is a
  component of its own whose files are its nested ``components``.

A file whose bytes cannot be read is listed with an ``msitools:error`` property and no
hashes; nothing is left out silently.
"""
from __future__ import annotations

import os
from typing import Any

from msitools.base.fsutil import read_magic
from msitools.db.package import open_package
from msitools.errors import MsiToolsError
from msitools.inventory import Delivered, package_facts, walk
from msitools.limits import DEFAULT_LIMITS, Limits
from msitools.pe.trust import signer_subject

SPEC = "1.6"


def _props(pairs: dict[str, Any]) -> list[Any]:
    from cyclonedx.model import Property

    return [Property(name=f"msitools:{k}", value=str(v)) for k, v in pairs.items() if v not in (None, "")]


def _hashes(sha256: str | None, sha1: str | None) -> list[Any]:
    from cyclonedx.model import HashAlgorithm, HashType

    out = []
    if sha256:
        out.append(HashType(alg=HashAlgorithm.SHA_256, content=sha256))
    if sha1:
        out.append(HashType(alg=HashAlgorithm.SHA_1, content=sha1))
    return out


def _file_hashes(path: str) -> tuple[str, str]:
    import hashlib

    sha256, sha1 = hashlib.sha256(), hashlib.sha1()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha256.update(block)
            sha1.update(block)
    return sha256.hexdigest(), sha1.hexdigest()


def _package_signature(path: str, limits: Limits) -> dict[str, Any]:
    from msitools.pe.authenticode_msi import safe_signature_report

    try:
        with open_package(path, limits) as pkg:
            report = safe_signature_report(pkg)
    except MsiToolsError as exc:
        return {"status": "unreadable", "reason": exc.message}
    return {"status": report.get("status"), "signer": signer_subject(report)}


def _pe_facts(data: bytes, name: str, limits: Limits) -> dict[str, Any]:
    from msitools.pe.authenticode_pe import signature_summary
    from msitools.pe.image import read_pe_info

    facts: dict[str, Any] = {}
    try:
        info = read_pe_info(data, name, limits)
        if info is not None:
            facts["version"] = info.file_version
            facts["machine"] = info.platform
    except MsiToolsError as exc:
        facts["pe_error"] = exc.message
    signature = signature_summary(data, name, limits)
    facts["signature_status"] = signature.get("status")
    facts["signer"] = signature.get("signer")
    return facts


class _Builder:
    def __init__(self, limits: Limits):
        self.limits = limits
        self.refs: set[str] = set()
        self.parents: dict[str, Any] = {}  # " > ".join(inner chain) -> component of a nested package

    def ref(self, base: str) -> str:
        ref, n = base, 1
        while ref in self.refs:
            n += 1
            ref = f"{base}#{n}"
        self.refs.add(ref)
        return ref

    def nested_signature(self, item: Any) -> dict[str, Any]:
        """The Authenticode status of a package inside (its bytes are still spooled)."""
        from msitools.pe.authenticode_msi import safe_signature_report

        try:
            with open_package(item.spool().fileobj(), self.limits, name=item.name) as pkg:
                report = safe_signature_report(pkg)
        except MsiToolsError as exc:
            return {"signature_status": "unreadable", "signature_reason": exc.message}
        return {"signature_status": report.get("status"), "signer": signer_subject(report)}

    def file_component(self, found: Delivered) -> Any:
        from cyclonedx.model.component import Component, ComponentType

        item = found.item
        props: dict[str, Any] = {"install_path": found.path, "found_in": " > ".join(found.where)}
        sha256 = sha1 = None
        version = item.table_version
        if item.error is not None:
            props["error"] = item.error
        else:
            try:
                spool = item.spool()
            except MsiToolsError as exc:
                props["error"] = exc.message
            else:
                sha256, sha1 = spool.sha256, spool.sha1
                props["size"] = spool.size
                if spool.head(2) == b"MZ" and spool.size <= self.limits.pe_read_size:
                    facts = _pe_facts(spool.read(self.limits.pe_read_size), item.name, self.limits)
                    version = facts.pop("version", None) or version
                    props.update(facts)
        if found.member:
            props["member"] = found.member
        if found.nested and item.error is None:
            props.update(self.nested_signature(item))
        kind = ComponentType.APPLICATION if found.nested else ComponentType.FILE
        return Component(type=kind, name=item.name, version=version or None,
                         bom_ref=self.ref(" > ".join(found.where + [item.name])), hashes=_hashes(sha256, sha1),
                         properties=_props(props))


def build_sbom(path: str | os.PathLike[str], *, recursive: bool = True, limits: Limits = DEFAULT_LIMITS) -> Any:
    """The CycloneDX :class:`~cyclonedx.model.bom.Bom` of the package or cabinet at *path*."""
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType

    path = os.fspath(path)
    builder = _Builder(limits)
    bom = Bom()
    top_facts: dict[str, Any] = {}
    enriched: set[int] = set()
    for found in walk(path, recursive=recursive, limits=limits):
        if not top_facts:
            top_facts = dict(found.package)  # the first file yielded belongs to the package itself
        component = builder.file_component(found)
        owner = None
        for depth in range(len(found.where), 0, -1):
            owner = builder.parents.get(" > ".join(found.where[:depth]))
            if owner is not None:
                break
        if owner is not None and id(owner) not in enriched:  # the package inside, as its own files say
            enriched.add(id(owner))
            _describe_package(owner, found.package)
        (owner.components if owner is not None else bom.components).add(component)
        if found.nested:
            builder.parents[" > ".join(found.where + [found.item.name])] = component
    name = os.path.basename(path)
    if not top_facts:  # no file at all: the package's facts from the package itself
        top_facts = {"kind": "cab"} if read_magic(path)[:4] == b"MSCF" else _facts_of(path, limits)
    sha256, sha1 = _file_hashes(path)
    signature = _package_signature(path, limits) if top_facts.get("kind") != "cab" else {}
    props = {k: top_facts.get(k) for k in ("kind", "product_code", "upgrade_code", "package_code", "patch_code")}
    props.update(file=name, signature_status=signature.get("status"), signer=signature.get("signer"))
    top = Component(type=ComponentType.APPLICATION, name=top_facts.get("product_name") or name,
                    version=top_facts.get("product_version") or None, bom_ref=builder.ref(name),
                    hashes=_hashes(sha256, sha1), properties=_props(props))
    _supplier(top, top_facts)
    bom.metadata.component = top
    bom.register_dependency(top, list(bom.components))  # the package delivers its files and packages
    for component in builder.parents.values():
        bom.register_dependency(component, list(component.components))
    return bom


def _facts_of(path: str, limits: Limits) -> dict[str, Any]:
    try:
        with open_package(path, limits) as pkg:
            return package_facts(pkg)
    except MsiToolsError:
        return {}


def _supplier(component: Any, facts: dict[str, Any]) -> None:
    from cyclonedx.model.contact import OrganizationalEntity

    if facts.get("manufacturer"):
        component.supplier = OrganizationalEntity(name=facts["manufacturer"])


def _describe_package(component: Any, facts: dict[str, Any]) -> None:
    """Product name, version, codes and manufacturer of a package inside, on its component."""
    if facts.get("product_version") and not component.version:
        component.version = facts["product_version"]
    for prop in _props({k: facts.get(k) for k in ("kind", "product_name", "product_code", "upgrade_code",
                                                  "package_code", "patch_code")}):
        component.properties.add(prop)
    _supplier(component, facts)


def sbom_json(path: str | os.PathLike[str], *, recursive: bool = True, limits: Limits = DEFAULT_LIMITS,
              validate: bool = True) -> str:
    """The SBOM as CycloneDX 1.6 JSON text; with *validate*, checked against the schema (SbomError if not)."""
    import warnings

    from cyclonedx.output.json import JsonV1Dot6

    with warnings.catch_warnings():  # the library's advice on dependency graphs is not for our users
        warnings.simplefilter("ignore")
        text = JsonV1Dot6(build_sbom(path, recursive=recursive, limits=limits)).output_as_string(indent=2)
    if validate:
        problem = validation_error(text)
        if problem:
            raise MsiToolsError(f"the SBOM does not validate against the CycloneDX {SPEC} schema: {problem}",
                                os.fspath(path))
    return text + "\n"


def validation_error(text: str) -> str | None:
    """Why *text* is not a valid CycloneDX 1.6 JSON document (None when valid or when the validator
    extra, ``cyclonedx-python-lib[json-validation]``, is not installed)."""
    try:
        from cyclonedx.schema import SchemaVersion
        from cyclonedx.validation.json import JsonStrictValidator

        error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    except ImportError:
        return None
    except Exception as exc:  # the validator's own missing dependencies
        if "MissingOptionalDependency" in type(exc).__name__:
            return None
        raise
    return None if error is None else str(error)
