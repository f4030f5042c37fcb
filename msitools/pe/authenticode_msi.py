"""Authenticode on Windows Installer compound files (MSI, MSP, MST, MSM ...), offline.

The signature lives in ``\\x05DigitalSignature`` (PKCS#7 SignedData over an MSI SIP
``SpcIndirectDataContent``) and optionally ``\\x05MsiDigitalSignatureEx`` (a pre-hash of
the directory metadata).  The package digest is recomputed as osslsigncode's ``msi.c``
does (children in ``dirent_cmp_hash`` order, both signature streams skipped at the root,
a storage's CLSID after its children), streaming 1 MiB at a time; the chain is checked
offline by signify fed with *our* digest.  The whole design, with its sources and the
Windows behaviour for MsiDigitalSignatureEx, is in ``docs/authenticode-msi.md``.
"""
from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Union

from msitools.container.cfb import KIND_ROOT, KIND_STORAGE, KIND_STREAM, CompoundFile, Entry
from msitools.errors import MsiToolsError, SignatureError
from msitools.limits import DEFAULT_LIMITS, Limits
from msitools.pe._signify import (
    all_certificates as _all_certificates,
)
from msitools.pe._signify import (
    chain_subjects as _chain_subjects,
)
from msitools.pe._signify import load_signify, one_line
from msitools.pe._signify import (
    self_signed as _self_signed,
)
from msitools.pe._signify import (
    signer_certificate as _signer_certificate,
)
from msitools.pe._signify import (
    signer_signature_broken as _signer_signature_broken,
)
from msitools.pe.trust import (
    INTACT,
    SIGNED_ALTERED,
    SIGNED_UNTRUSTED,
    SIGNED_UNVERIFIABLE,
    SIGNED_VALID,
    UNREADABLE,
    UNSIGNED,
    weaknesses,
)

__all__ = [
    "DIGITAL_SIGNATURE",
    "DIGITAL_SIGNATURE_EX",
    "MSI_SIP_GUID",
    "MsiSignature",
    "compute_digest",
    "compute_digests",
    "compute_prehash",
    "hash_order",
    "read_signature",
    "signature_report",
    "trust_store_from_pem",
]

DIGITAL_SIGNATURE = "\x05DigitalSignature"
DIGITAL_SIGNATURE_EX = "\x05MsiDigitalSignatureEx"
_SKIPPED_AT_ROOT = (DIGITAL_SIGNATURE.encode("utf-16-le"), DIGITAL_SIGNATURE_EX.encode("utf-16-le"))
#: the SIP GUID as 16 bytes, in the order the SpcSipInfo octet string stores them
MSI_SIP_GUID = bytes.fromhex("F1100C0000000000C000000000000046")
_CHUNK = 1 << 20

Source = Union["os.PathLike[str]", str, bytes, CompoundFile, object]  # a path, bytes, a CompoundFile or a Package


# --------------------------------------------------------------------------- traversal

def _cmp_hash(a: Entry, b: Entry) -> int:
    """osslsigncode ``dirent_cmp_hash``: memcmp over the shorter nameLen (terminator included)."""
    ka = a.name_utf16 + b"\x00\x00"
    kb = b.name_utf16 + b"\x00\x00"
    n = min(len(ka), len(kb))
    if ka[:n] != kb[:n]:
        return -1 if ka[:n] < kb[:n] else 1
    if len(ka) == len(kb):
        return 0
    return -1 if len(ka) > len(kb) else 1  # "apparently the longer wins"


_HASH_KEY = functools.cmp_to_key(_cmp_hash)


def hash_order(storage: Entry) -> list[Entry]:
    """The children of *storage* in the order the MSI digest visits them (signature
    streams included; :func:`compute_digest` skips them at the root)."""
    return sorted(storage.children, key=_HASH_KEY)


_ENTER, _STREAM, _LEAVE = "enter", "stream", "leave"


def _walk(root: Entry) -> Iterator[tuple[str, Entry]]:
    """(event, entry) in digest order: ``enter`` a storage, each ``stream``, ``leave`` the storage.

    Iterative (no recursion limit on deep storage nesting).  Entries that are
    neither streams nor storages are ignored, as osslsigncode does.
    """
    yield _ENTER, root
    stack = [(root, iter(_children(root, True)))]
    while stack:
        storage, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            yield _LEAVE, storage
        elif child.kind == KIND_STREAM:
            yield _STREAM, child
        elif child.kind == KIND_STORAGE:
            yield _ENTER, child
            stack.append((child, iter(_children(child, False))))


def _children(storage: Entry, is_root: bool) -> list[Entry]:
    kids = hash_order(storage)
    if is_root:
        kids = [kid for kid in kids if kid.name_utf16 not in _SKIPPED_AT_ROOT]
    return kids


# --------------------------------------------------------------------------- digests

def _new_hash(algorithm: str):
    try:
        return hashlib.new(algorithm)
    except (ValueError, TypeError):
        raise SignatureError(f"unsupported digest algorithm {algorithm!r}") from None


def _le(value: int, size: int) -> bytes:
    return (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")


def _metadata(entry: Entry) -> bytes:
    """osslsigncode ``prehash_metadata`` for one entry."""
    if entry.kind == KIND_ROOT:
        return entry.clsid + _le(entry.state_bits, 4)
    if entry.kind == KIND_STREAM:
        middle = _le(entry.size, 4)  # the low half of the 8-byte size field
    else:
        middle = entry.clsid
    return (entry.name_utf16 + middle + _le(entry.state_bits, 4)
            + _le(entry.created, 8) + _le(entry.modified, 8))


def compute_prehash(source: Source, algorithm: str = "sha256") -> bytes:
    """The MsiDigitalSignatureEx pre-hash (H0) of a compound file (metadata only)."""
    with _opened(source) as cfb:
        hasher = _new_hash(algorithm)
        for event, entry in _walk(cfb.root):
            if event != _LEAVE:
                hasher.update(_metadata(entry))
        return hasher.digest()


def compute_digests(source: Source, requests: Sequence[tuple[str, bytes | None]]) -> list[bytes]:
    """Several package digests in one pass over the streams.

    Each request is ``(algorithm, prefix)``: the digest is
    ``algorithm(prefix || content digest input)``; *prefix* is ``None`` (or
    empty) without MsiDigitalSignatureEx, else the pre-hash to prepend.
    """
    with _opened(source) as cfb:
        hashers = []
        for algorithm, prefix in requests:
            hasher = _new_hash(algorithm)
            if prefix:
                hasher.update(prefix)
            hashers.append(hasher)
        if not hashers:
            return []
        for event, entry in _walk(cfb.root):
            if event == _LEAVE:
                for hasher in hashers:
                    hasher.update(entry.clsid)
            elif event == _STREAM and entry.size:
                with cfb.open_stream(entry) as reader:
                    while True:
                        chunk = reader.read(_CHUNK)
                        if not chunk:
                            break
                        for hasher in hashers:
                            hasher.update(chunk)
        return [hasher.digest() for hasher in hashers]


def compute_digest(source: Source, algorithm: str = "sha256", prehash: bytes | None = None) -> bytes:
    """The Authenticode digest of a package: ``algorithm([prehash ||] content)``."""
    return compute_digests(source, [(algorithm, prehash)])[0]


class _opened:
    """Context manager: a CompoundFile from a path / Package / CompoundFile (closed only if we opened it)."""

    def __init__(self, source: Source, limits: Limits = DEFAULT_LIMITS):
        self._own = False
        if isinstance(source, CompoundFile):
            self.cfb = source
        elif isinstance(package_cfb := getattr(source, "cfb", None), CompoundFile):
            self.cfb = package_cfb  # a Package
        elif isinstance(source, (str, os.PathLike, bytes, bytearray)):
            self.cfb = CompoundFile(source, limits=limits)
            self._own = True
        else:
            raise SignatureError(f"cannot check the signature of a {type(source).__name__}")

    def __enter__(self) -> CompoundFile:
        return self.cfb

    def __exit__(self, *exc) -> None:
        if self._own:
            self.cfb.close()


# --------------------------------------------------------------------------- the signature streams

@dataclass
class MsiSignature:
    """The raw signature streams of a package and the parsed Authenticode structure."""

    der: bytes  # \x05DigitalSignature
    ex: bytes | None  # \x05MsiDigitalSignatureEx, when present
    signed_data: object  # signify AuthenticodeSignature (primary)
    nested: list[Any]  # further (nested) signify AuthenticodeSignature objects (signify is loaded lazily)


def _read_small_stream(cfb: CompoundFile, entry: Entry, limits: Limits, what: str) -> bytes:
    if entry.kind != KIND_STREAM:
        raise SignatureError(f"{what} is a {entry.kind}, not a stream", cfb.name)
    limits.check("signature_stream_size", entry.size, what, cfb.name)
    return cfb.read_stream(entry)


def read_signature(source: Source, limits: Limits = DEFAULT_LIMITS) -> MsiSignature | None:
    """The parsed signature of a package, or ``None`` when it has no DigitalSignature stream.

    Raises :class:`SignatureError` when the stream is not a readable Authenticode
    SignedData (empty, not DER, wrong content type, more than one signer ...).
    """
    with _opened(source, limits) as cfb:
        entry = cfb.root.child(DIGITAL_SIGNATURE)
        if entry is None:
            return None
        der = _read_small_stream(cfb, entry, limits, "DigitalSignature")
        ex_entry = cfb.root.child(DIGITAL_SIGNATURE_EX)
        ex = _read_small_stream(cfb, ex_entry, limits, "MsiDigitalSignatureEx") if ex_entry is not None else None
        if not der:
            raise SignatureError("DigitalSignature stream is empty", cfb.name)
        names = load_signify()
        try:
            signed = names.AuthenticodeSignature.from_envelope(der)
            chain = list(signed.iter_recursive_nested())
            for sig in chain:  # touch what the report needs, so parse errors surface here
                sig.indirect_data.digest_algorithm  # noqa: B018 (parsed on access)
                sig.indirect_data.digest  # noqa: B018 (parsed on access)
        except MsiToolsError:
            raise
        except Exception as exc:  # asn1crypto / signify parse errors never escape
            raise SignatureError(f"DigitalSignature is not a readable Authenticode signature: "
                                 f"{type(exc).__name__}: {one_line(exc)}", cfb.name) from None
        return MsiSignature(der, ex, chain[0], chain[1:])


# --------------------------------------------------------------------------- the report

def _hex(data: bytes | None) -> str | None:
    return data.hex() if data is not None else None


def _iso(value) -> str | None:
    if not isinstance(value, _dt.datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    return value.astimezone(_dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _algorithm_name(sig) -> str:
    return sig.indirect_data.digest_algorithm().name


def _sip_guid(sig) -> bytes | None:
    indirect = sig.indirect_data
    if indirect.content_type != "microsoft_spc_siginfo":
        return None
    try:
        return uuid.UUID(indirect.content_asn1["sip_guid"].native).bytes
    except Exception:
        return None




def _serial(number: int) -> str:
    """A serial number in hex, whole bytes (as osslsigncode and signtool print it)."""
    text = f"{number:X}"
    return text if len(text) % 2 == 0 else "0" + text


def _cert_facts(cert) -> dict:
    return {
        "subject": str(cert.subject),
        "issuer": str(cert.issuer),
        "serial": _serial(cert.serial_number),
        "not_before": _iso(cert.valid_from),
        "not_after": _iso(cert.valid_to),
    }




def _issuer_walk(sig, start) -> list[str]:
    """Subjects from *start* up through the certificates the signature carries (best effort)."""
    certs = list(sig.certificates)
    chain: list[str] = []
    current, seen = start, set()
    while current is not None and id(current) not in seen and len(chain) < 16:
        seen.add(id(current))
        chain.append(str(current.subject))
        if _self_signed(current):
            break
        current = next((c for c in certs if c.subject == current.issuer and id(c) not in seen), None)
    return chain


def _timestamp(sig) -> dict | None:
    countersigner = getattr(sig.signer_info, "countersigner", None)
    if countersigner is None:
        return None
    names = load_signify()
    if isinstance(countersigner, names.RFC3161SignedData):
        info = countersigner.signer_info
        kind = "rfc3161"
        time = countersigner.signing_time
        certs = list(countersigner.certificates)
    else:
        info = countersigner
        kind = "authenticode"
        time = countersigner.signing_time
        certs = list(sig.certificates)
    issuer = str(info.issuer)
    serial = info.serial_number
    signer = next((c for c in certs if c.issuer == info.issuer and c.serial_number == serial), None)
    return {
        "type": kind,
        "time": _iso(time),
        "signer": str(signer.subject) if signer is not None else None,
        "issuer": issuer,
        "serial": _serial(serial),
    }








def _trust(sig: Any, computed: bytes, digest_ok: bool, sip_ok: bool, trust_store: Any) -> \
        tuple[str, str, list[str] | None]:
    """``(status, reason, chain)`` of a signature whose digest was recomputed (statuses: msitools.pe.trust)."""
    names = load_signify()
    exceptions = names.exceptions
    if not sip_ok:
        return (SIGNED_ALTERED, "the signature is not an MSI signature (SpcIndirectDataContent lacks the MSI SIP "
                                "GUID)", None)
    if not digest_ok:
        return (SIGNED_ALTERED, "the package digest does not match the signed digest: the package was modified "
                                "after signing", None)
    store = trust_store if trust_store is not None else names.TRUSTED_CERTIFICATE_STORE
    try:
        chains = list(sig.verify(expected_hash=computed, trusted_certificate_store=store))
    except exceptions.AuthenticodeInvalidDigestError as exc:
        return SIGNED_ALTERED, f"signed content digest mismatch: {one_line(exc)}", None
    except exceptions.AuthenticodeInconsistentDigestAlgorithmError as exc:
        return SIGNED_ALTERED, f"inconsistent digest algorithms: {one_line(exc)}", None
    except exceptions.VerificationError as exc:
        first = one_line(exc)
    except Exception as exc:  # signify/certvalidator internals
        return SIGNED_UNVERIFIABLE, f"the chain could not be checked: {type(exc).__name__}: {one_line(exc)}", None
    else:
        return (SIGNED_VALID, "digest matches and the chain reaches a trusted root (offline trust store)",
                list(_chain_subjects(chains)))

    if _signer_signature_broken(sig, exceptions):
        return SIGNED_ALTERED, ("the signer's signature over the signed attributes does not verify: "
                                "the signature was modified"), None
    roots = [cert for cert in _all_certificates(sig) if _self_signed(cert)]
    if roots:
        try:
            chains = list(sig.verify(expected_hash=computed,
                                     trusted_certificate_store=names.CertificateStore(roots, trusted=True)))
        except Exception:
            pass
        else:
            subjects = list(_chain_subjects(chains))
            root = subjects[-1] if subjects else str(roots[0].subject)
            return SIGNED_UNTRUSTED, (f"digest matches; the chain ends at the self-signed root '{root}', "
                                      "which is not in the offline trust store"), subjects
    return (SIGNED_UNVERIFIABLE, f"digest matches but no chain to a trusted root can be built offline: {first}",
            None)


def trust_store_from_pem(data: bytes) -> Any:
    """A trust store (for :func:`signature_report`'s *trust_store*) holding the PEM certificates in *data*."""
    from msitools.pe.trust import store_of_pem

    return store_of_pem(data)


def _unsigned_report(path: str | None, reason: str) -> dict:
    return {
        "path": path, "signed": False, "digest_algorithm": None, "signed_digest": None,
        "computed_digest": None, "digest_matches": None, "ex_present": None, "ex_matches": None,
        "ex_stored": None, "ex_computed": None, "digest_with_stored_ex": None,
        "digest_with_stored_ex_matches": None, "sip_guid": None, "signer": None, "chain": None,
        "timestamp": None, "signing_time_within_validity": None, "program_name": None,
        "nested_signatures": None, "trusted": None, "reason": reason, "status": UNSIGNED, "weaknesses": [],
    }


def signature_report(source: Source, *, limits: Limits = DEFAULT_LIMITS, trust_store=None) -> dict:
    """Authenticode report of a package (a path, the file's bytes, a
    :class:`~msitools.db.package.Package` or a :class:`~msitools.container.cfb.CompoundFile`), as a JSON-ready dict::

        {"path", "signed", "digest_algorithm", "signed_digest", "computed_digest",
         "digest_matches", "ex_present", "ex_matches", "ex_stored", "ex_computed",
         "digest_with_stored_ex", "digest_with_stored_ex_matches", "sip_guid",
         "signer": {"subject", "issuer", "serial", "not_before", "not_after"},
         "chain": [subjects, signer first], "timestamp": {"type", "time", "signer",
         "issuer", "serial"} | None, "signing_time_within_validity", "program_name",
         "nested_signatures": [{"digest_algorithm", "signed_digest", "computed_digest",
         "digest_matches"}], "trusted": True | False | None, "reason"}

    Digests are lowercase hex; times ISO 8601 UTC.  *trust_store* replaces
    signify's shipped store (a ``signify.x509.CertificateStore``).  Raises
    :class:`SignatureError` when the signature data is unreadable (and the
    compound-file errors of :mod:`msitools.container.cfb` when the container is).
    """
    with _opened(source, limits) as cfb:
        path = getattr(source, "path", None) or cfb.name
        try:
            return _report(cfb, path, limits, trust_store)
        except MsiToolsError as exc:
            raise exc.with_path(path) from None


def _report(cfb: CompoundFile, path: str, limits: Limits, trust_store) -> dict:
    signature = read_signature(cfb, limits)
    if signature is None:
        orphan = cfb.root.child(DIGITAL_SIGNATURE_EX) is not None
        return _unsigned_report(path, "the package has no DigitalSignature stream"
                                + (" (but it has an orphan MsiDigitalSignatureEx stream)" if orphan else ""))
    sig = signature.signed_data
    try:
        return _signed_report(cfb, path, signature, sig, trust_store)
    except MsiToolsError:
        raise
    except Exception as exc:  # signify / asn1crypto surprises on odd certificates or attributes
        raise SignatureError(f"DigitalSignature is not a readable Authenticode signature: "
                             f"{type(exc).__name__}: {one_line(exc)}") from None


def _signed_report(cfb: CompoundFile, path: str, signature: MsiSignature, sig, trust_store) -> dict:
    all_sigs = [sig, *signature.nested]
    algorithms = [_algorithm_name(s) for s in all_sigs]
    ex = signature.ex
    prehashes = {alg: compute_prehash(cfb, alg) for alg in dict.fromkeys(algorithms)} if ex is not None else {}
    requests: list = []
    for alg in dict.fromkeys(algorithms):
        requests.append((alg, prehashes.get(alg)))
    if ex is not None:
        requests.append((algorithms[0], ex))
    digests = compute_digests(cfb, requests)
    computed_by_alg = dict(zip(dict.fromkeys(algorithms), digests))

    algorithm = algorithms[0]
    signed_digest = sig.indirect_data.digest
    computed = computed_by_alg[algorithm]
    digest_ok = computed == signed_digest
    sip = _sip_guid(sig)
    sip_ok = sip == MSI_SIP_GUID

    ex_computed = prehashes.get(algorithm)
    with_stored = digests[-1] if ex is not None else None
    ex_matches = (ex == ex_computed) if ex is not None else None

    cert = _signer_certificate(sig)
    signer = _cert_facts(cert) if cert is not None else None
    status, reason, chain = _trust(sig, computed, digest_ok, sip_ok, trust_store)
    trusted = {SIGNED_VALID: True, SIGNED_UNTRUSTED: False, SIGNED_ALTERED: False}.get(status)
    if chain is None:
        chain = _issuer_walk(sig, cert) if cert is not None else []
    if cert is None and trusted is not False:
        reason = "the signer's certificate is not in the signature; " + reason
    timestamp = _timestamp(sig)
    within = None
    if timestamp is not None and timestamp["time"] is not None and cert is not None:
        time = _dt.datetime.fromisoformat(timestamp["time"].replace("Z", "+00:00"))
        within = _aware(cert.valid_from) <= time <= _aware(cert.valid_to)
    if within is False:
        reason += "; the timestamp lies outside the signer certificate's validity period"
    if ex is not None and not ex_matches:
        reason += ("; the stored MsiDigitalSignatureEx differs from the recomputed metadata pre-hash"
                   + (f" (it is {len(ex)} bytes, the {algorithm} digest size is {len(computed)})"
                      if len(ex) != len(computed) else "")
                   + ("; Windows, which prepends the stored value as it is (osslsigncode #262), "
                      + ("would accept the content digest" if with_stored == signed_digest
                         else "would reject it too")))
    nested = [{
        "digest_algorithm": alg,
        "signed_digest": _hex(s.indirect_data.digest),
        "computed_digest": _hex(computed_by_alg[alg]),
        "digest_matches": computed_by_alg[alg] == s.indirect_data.digest,
    } for s, alg in zip(signature.nested, algorithms[1:])]
    program = getattr(sig.signer_info, "program_name", None)
    return {
        "path": path,
        "signed": True,
        "digest_algorithm": algorithm,
        "signed_digest": _hex(signed_digest),
        "computed_digest": _hex(computed),
        "digest_matches": digest_ok,
        "ex_present": ex is not None,
        "ex_matches": ex_matches,
        "ex_stored": _hex(ex),
        "ex_computed": _hex(ex_computed),
        "digest_with_stored_ex": _hex(with_stored),
        "digest_with_stored_ex_matches": (with_stored == signed_digest) if ex is not None else None,
        "sip_guid": "{" + str(uuid.UUID(bytes_le=sip)).upper() + "}" if sip is not None else None,
        "signer": signer,
        "chain": chain,
        "timestamp": timestamp,
        "signing_time_within_validity": within,
        "program_name": program if isinstance(program, str) else None,
        "nested_signatures": nested,
        "trusted": trusted,
        "reason": reason,
        "status": status,
        "weaknesses": (weaknesses(algorithm, cert.valid_to if cert is not None else None,
                                  timestamp["time"] if timestamp is not None else None) if status in INTACT else []),
    }


def _aware(value: _dt.datetime) -> _dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=_dt.timezone.utc)


def safe_signature_report(pkg: Any, trust_store: Any = None) -> dict[str, Any]:
    """:func:`signature_report`, or (when the signature data is unreadable) a report saying so.

    ``signed`` and ``digest_matches`` are then None: a check that could not be made.
    """
    try:
        return signature_report(pkg, trust_store=trust_store)
    except MsiToolsError as exc:
        return {"signed": None, "digest_matches": None, "reason": f"signature unreadable: {exc.message}",
                "status": UNREADABLE, "weaknesses": []}
