"""Security catalogs (``.cat``): a signed list of file hashes that signs those files for Windows.

A catalog is a PKCS#7 SignedData whose content is a certificate trust list (CTL, content
type ``1.3.6.1.4.1.311.10.1``) with the usage "catalog list": one trusted subject per file,
carrying its hash in an ``SpcIndirectDataContent`` (the PE Authenticode digest for PE
images, the flat file hash otherwise; SHA-1 for ``catalogListMember``, SHA-256 for
``catalogListMemberV2``) and, often, the file's name.  signify parses the structure and
verifies the signature and its chain; this module turns that into a :class:`Catalog`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from msitools.errors import SignatureError
from msitools.limits import DEFAULT_LIMITS, Limits
from msitools.pe._signify import (
    all_certificates,
    chain_subjects,
    load_signify,
    one_line,
    self_signed,
    signer_certificate,
    signer_signature_broken,
)
from msitools.pe.trust import SIGNED_ALTERED, SIGNED_UNTRUSTED, SIGNED_UNVERIFIABLE, SIGNED_VALID


@dataclass(frozen=True)
class CatalogMember:
    """One file a catalog signs: its digest, whether it is a PE Authenticode digest, and its name if given."""

    digest: str  # lowercase hex
    algorithm: str  # sha1 / sha256
    pe_image: bool
    name: str | None = None


@dataclass
class Catalog:
    """A parsed catalog: who signed it, whether the signature holds, and the files it signs."""

    name: str
    status: str  # msitools.pe.trust states
    reason: str
    signer: str | None = None
    digest_algorithm: str | None = None
    members: list[CatalogMember] = field(default_factory=list)
    chain: tuple[str, ...] = ()

    def find(self, digest: str) -> CatalogMember | None:
        """The member with this digest (lowercase hex), or None."""
        digest = digest.lower()
        return next((m for m in self.members if m.digest == digest), None)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "reason": self.reason, "signer": self.signer,
                "digest_algorithm": self.digest_algorithm, "members": len(self.members)}


def _member(subject: Any) -> CatalogMember | None:
    indirect = subject.indirect_data
    if indirect is None:
        return None
    try:
        algorithm = indirect.digest_algorithm().name
    except Exception:
        algorithm = "unknown"
    content = str(getattr(indirect, "content_type", "") or "")
    names = subject.catalog_namevalue or {}
    name = names.get("File") or names.get("file")
    return CatalogMember(indirect.digest.hex().lower(), algorithm, "pe_image" in content,
                         str(name) if name else None)


def _verify(ctl: Any, trust_store: Any) -> tuple[str, str, tuple[str, ...]]:
    names = load_signify()
    exceptions = names.exceptions
    store = trust_store if trust_store is not None else names.TRUSTED_CERTIFICATE_STORE
    try:
        chains = list(ctl.verify(trusted_certificate_store=store))
    except exceptions.VerificationError as exc:
        first = one_line(exc)
    except Exception as exc:  # signify/certvalidator internals
        return SIGNED_UNVERIFIABLE, f"the catalog's chain could not be checked: {type(exc).__name__}", ()
    else:
        return SIGNED_VALID, "the catalog's signature holds and its chain reaches a trusted root", \
            chain_subjects(chains)
    if signer_signature_broken(ctl, exceptions):
        return SIGNED_ALTERED, "the catalog's signature does not verify: the catalog was modified", ()
    roots = [cert for cert in all_certificates(ctl) if self_signed(cert)]
    if roots:
        try:
            chains = list(ctl.verify(trusted_certificate_store=names.CertificateStore(roots, trusted=True)))
        except Exception:
            pass
        else:
            return SIGNED_UNTRUSTED, "the catalog's chain ends at a root that is not trusted", chain_subjects(chains)
    return SIGNED_UNVERIFIABLE, f"no chain to a trusted root can be built offline for the catalog: {first}", ()


def read_catalog(data: bytes, name: str, trust_store: Any = None, limits: Limits = DEFAULT_LIMITS) -> Catalog:
    """Parse and verify a ``.cat`` file's bytes (raises :class:`SignatureError` when it is not a catalog)."""
    limits.check("signature_stream_size", len(data), "catalog", name)
    load_signify()
    try:
        from asn1crypto import cms
        from signify.authenticode.trust_list import CertificateTrustList

        info = cms.ContentInfo.load(bytes(data))
        if info["content_type"].native != "signed_data":
            raise SignatureError("not a catalog (no PKCS#7 SignedData)", name)
        ctl = CertificateTrustList(info["content"])
        if not ctl.is_catalog:
            raise SignatureError("a certificate trust list, but not a catalog", name)
        members = [m for m in (_member(s) for s in ctl.subjects) if m is not None]
        algorithm = ctl.subject_algorithm().name
    except SignatureError:
        raise
    except Exception as exc:
        raise SignatureError(f"not a readable catalog: {type(exc).__name__}: {one_line(exc)}", name) from None
    status, reason, chain = _verify(ctl, trust_store)
    cert = signer_certificate(ctl)
    return Catalog(name, status, reason, str(cert.subject) if cert is not None else None, algorithm, members, chain)
