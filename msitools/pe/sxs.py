"""Side-by-side assembly manifests: the file hashes a (catalog-signed) manifest vouches for.

A Win32 assembly (``winsxs``) is signed through its catalog, which holds the hash of the
assembly's ``.manifest``; the manifest lists each file of the assembly with its digest::

    <file name="msvcr80.dll" hashalg="SHA1">
      <asmv2:hash><dsig:DigestMethod Algorithm="...#sha1"/><dsig:DigestValue>Q4Uf...=</dsig:DigestValue></asmv2:hash>
    </file>

With the ``HashTransforms.Identity`` transform the digest is that of the whole file.  Older
manifests carry only a ``hash`` attribute (``hashalg="SHA1"``): a digest of a normalised image
whose exact definition is not published (neither the flat SHA-1 nor the Authenticode digest;
32 variations of image hashing were tried on the Visual C++ 2005 runtime and none gives it).
Such entries are returned with the algorithm ``LEGACY``: the file is named, its hash cannot
be checked.
"""
from __future__ import annotations

import base64
import binascii
import re
from xml.etree import ElementTree as ET

from msitools.errors import SignatureError

MAX_MANIFEST = 1 << 20
LEGACY = "sxs-legacy"  # the undocumented hash attribute of older manifests
_ALGORITHMS = {"sha1": "sha1", "sha256": "sha256", "sha384": "sha384", "sha512": "sha512"}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def manifest_files(data: bytes, name: str) -> dict[str, list[tuple[str, str]]]:
    """``{file name (lower case): [(algorithm, hex digest)]}`` of an assembly manifest (empty when it names none)."""
    if len(data) > MAX_MANIFEST:
        raise SignatureError(f"manifest larger than {MAX_MANIFEST} bytes", name)
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise SignatureError("manifest with a document type declaration (refused)", name)
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise SignatureError(f"unreadable manifest: {exc}", name) from None
    out: dict[str, list[tuple[str, str]]] = {}
    for element in root.iter():
        if _local(element.tag) != "file" or not element.get("name"):
            continue
        digests = []
        method = None
        transforms = [t.get("Algorithm", "") for t in element.iter() if _local(t.tag) == "Transform"]
        if any(not t.endswith("HashTransforms.Identity") for t in transforms):
            continue  # a digest of something else than the file's bytes
        for child in element.iter():
            if _local(child.tag) == "DigestMethod":
                method = re.sub(r".*#", "", child.get("Algorithm", "")).lower()
            elif _local(child.tag) == "DigestValue" and child.text and method in _ALGORITHMS:
                try:
                    digests.append((_ALGORITHMS[method], base64.b64decode(child.text.strip(), validate=True).hex()))
                except (binascii.Error, ValueError):
                    raise SignatureError(f"manifest digest of {element.get('name')!r} is not base64", name) from None
        if not digests and element.get("hash"):
            digests.append((LEGACY, element.get("hash", "").lower()))
        if digests:
            out.setdefault(element.get("name", "").lower(), []).extend(digests)
    return out
