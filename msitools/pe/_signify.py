"""The one place that imports ``signify`` (Authenticode parsing and chain checks).

``signify`` needs ``oscrypto``, and oscrypto 1.3.0 (the newest release) reads the
OpenSSL version with a regex that cannot match a two-digit patch level such as
"3.0.19": it raises ``LibraryNotFoundError`` at import time.  Upstream fixed the
pattern after the release; :func:`_load_oscrypto_openssl` applies the same fix
to the binding's source before importing it.

:func:`load_signify` imports everything the Authenticode modules use, once,
and turns any import problem into :class:`~msitools.errors.SignatureError`.
"""
from __future__ import annotations

import sys
import threading
from types import SimpleNamespace

from msitools.errors import SignatureError

__all__ = ["load_signify", "one_line"]

_IMPORT_LOCK = threading.Lock()
_SIGNIFY: SimpleNamespace | None = None
_OSCRYPTO_BAD_PATTERN = "'\\\\b(\\\\d\\\\.\\\\d\\\\.\\\\d[a-z]*)\\\\b'"
_OSCRYPTO_FIXED_PATTERN = "'\\\\b(\\\\d+\\\\.\\\\d+\\\\.\\\\d+[a-z]*)\\\\b'"


def one_line(value) -> str:
    """Any message squeezed onto one line."""
    return " ".join(str(value).split())


def _load_oscrypto_openssl() -> None:
    """Import oscrypto's OpenSSL binding, working around its version-detection bug."""
    import importlib
    import importlib.util

    import oscrypto
    from oscrypto.errors import LibraryNotFoundError

    if oscrypto.backend() != "openssl":
        return
    try:
        importlib.import_module("oscrypto._openssl._libcrypto")
        return
    except LibraryNotFoundError as exc:
        if "version" not in str(exc):
            raise
    name = "oscrypto._openssl._libcrypto_cffi" if oscrypto.ffi() == "cffi" else "oscrypto._openssl._libcrypto_ctypes"
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise LibraryNotFoundError("oscrypto cannot detect the OpenSSL version and its binding was not found")
    with open(spec.origin, encoding="utf-8") as handle:
        source = handle.read()
    if _OSCRYPTO_BAD_PATTERN not in source:
        raise LibraryNotFoundError("oscrypto cannot detect the OpenSSL version (unknown oscrypto release)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        exec(compile(source.replace(_OSCRYPTO_BAD_PATTERN, _OSCRYPTO_FIXED_PATTERN), spec.origin, "exec"),
             module.__dict__)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    importlib.import_module("oscrypto._openssl._libcrypto")


def load_signify() -> SimpleNamespace:
    """The signify names the toolkit uses, imported once.

    Attributes: ``SignedPEFile``, ``AuthenticodeSignature``, ``RFC3161SignedData``,
    ``CertificateStore``, ``TRUSTED_CERTIFICATE_STORE``, ``exceptions`` (the
    ``signify.exceptions`` module).  Raises :class:`SignatureError` when signify
    (or its crypto backend) cannot be imported.
    """
    global _SIGNIFY
    if _SIGNIFY is not None:
        return _SIGNIFY
    with _IMPORT_LOCK:
        if _SIGNIFY is not None:
            return _SIGNIFY
        try:
            _load_oscrypto_openssl()
            from signify import exceptions
            from signify.authenticode import TRUSTED_CERTIFICATE_STORE
            from signify.authenticode.signed_data import AuthenticodeSignature
            from signify.authenticode.signed_file import SignedPEFile
            from signify.authenticode.tsp import RFC3161SignedData
            from signify.x509 import CertificateStore
        except ImportError as exc:
            raise SignatureError(f"Authenticode checks need the 'signify' package ({one_line(exc)})") from None
        except Exception as exc:
            raise SignatureError(f"signify cannot be loaded: {type(exc).__name__}: {one_line(exc)}") from None
        _SIGNIFY = SimpleNamespace(
            SignedPEFile=SignedPEFile,
            AuthenticodeSignature=AuthenticodeSignature,
            RFC3161SignedData=RFC3161SignedData,
            CertificateStore=CertificateStore,
            TRUSTED_CERTIFICATE_STORE=TRUSTED_CERTIFICATE_STORE,
            exceptions=exceptions,
        )
        return _SIGNIFY


# -- helpers shared by the MSI and PE Authenticode checks ------------------------------------------
def all_certificates(sig) -> list:
    """The signature's certificates plus those an RFC 3161 timestamp token carries."""
    certs = list(sig.certificates)
    countersigner = getattr(sig.signer_info, "countersigner", None)
    certs.extend(getattr(countersigner, "certificates", None) or [])
    return certs


def self_signed(cert) -> bool:
    try:
        return cert.asn1.self_signed in ("yes", "maybe")
    except Exception:
        return False


def signer_certificate(sig):
    """The certificate (among those the signature carries) that signed it, or None."""
    signer = sig.signer_info
    for cert in sig.certificates:
        if cert.issuer == signer.issuer and cert.serial_number == signer.serial_number:
            return cert
    return None


def signer_signature_broken(sig, exceptions) -> bool:
    """True when the signer certificate is present and its signature over the attributes fails."""
    cert = signer_certificate(sig)
    signer = sig.signer_info
    attributes = getattr(signer, "_encoded_authenticated_attributes", None)
    if cert is None or attributes is None:
        return False
    try:
        cert.verify_signature(signer.encrypted_digest, attributes, signer.digest_algorithm, allow_legacy=True)
    except exceptions.VerificationError:
        return True
    except Exception:
        return False
    return False


def chain_subjects(chains) -> tuple[str, ...]:
    """Subjects of the first chain signify built, signer first (signify gives the root first)."""
    for chain in chains:
        return tuple(str(cert.subject) for cert in reversed(list(chain)))
    return ()
