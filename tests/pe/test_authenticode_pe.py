"""msitools.pe.authenticode_pe: Authenticode status of PE images, checked against osslsigncode.

Fixture images come from msitools.testing.writer.pe and are signed at test time by
``osslsigncode sign`` with throwaway certificates made with ``cryptography``.
``osslsigncode verify`` is the independent reference for "digest intact or
not" (its Current/Calculated message digest lines) and, given the test CA as
-CAfile, for the whole signature.
"""
from __future__ import annotations

import datetime as dt
import re
import struct
import subprocess
from pathlib import Path

import pytest

from conftest import corpus_file, require_tool
from msitools.pe.authenticode_pe import (
    SIGNED_ALTERED,
    SIGNED_UNTRUSTED,
    SIGNED_UNVERIFIABLE,
    SIGNED_VALID,
    STATUSES,
    UNSIGNED,
    pe_signature_status,
)
from msitools.errors import SignatureError
from msitools.testing.writer.pe import build_pe

pytest.importorskip("signify")
x509 = pytest.importorskip("cryptography.x509")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

from signing import NOW, _cert, _name  # noqa: E402


# --------------------------------------------------------------------------- certificates





def _pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """Self-signed signer, and a CA-issued signer (files: *.pem, *.key)."""
    root = tmp_path_factory.mktemp("pki")

    def key():
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def write_key(path: Path, k):
        path.write_bytes(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()))

    self_key = key()
    self_cert = _cert(_name("msitools self-signed signer"), _name("msitools self-signed signer"),
                      self_key, self_key, 0x1234ABCD, ca=False)
    (root / "self.pem").write_bytes(_pem(self_cert))
    write_key(root / "self.key", self_key)

    ca_key, leaf_key = key(), key()
    ca_cert = _cert(_name("msitools test root CA"), _name("msitools test root CA"), ca_key, ca_key, 0x77, ca=True)
    leaf_cert = _cert(_name("msitools CA-issued signer"), _name("msitools test root CA"), leaf_key, ca_key,
                      0x0BADC0DE, ca=False)
    (root / "ca.pem").write_bytes(_pem(ca_cert))
    (root / "leaf.pem").write_bytes(_pem(leaf_cert))
    (root / "chain.pem").write_bytes(_pem(leaf_cert) + _pem(ca_cert))
    write_key(root / "leaf.key", leaf_key)
    return {"dir": root, "self": self_cert, "ca": ca_cert, "leaf": leaf_cert}


def _sign(pki, image: bytes, certs: str, key: str, out: Path, digest: str = "sha256") -> Path:
    tool = require_tool("osslsigncode")
    unsigned = out.with_suffix(".unsigned")
    unsigned.write_bytes(image)
    subprocess.run([tool, "sign", "-certs", str(pki["dir"] / certs), "-key", str(pki["dir"] / key),
                    "-h", digest, "-in", str(unsigned), "-out", str(out)], check=True, capture_output=True)
    return out


def _ossl_verify(path: Path, cafile: "Path | None" = None) -> "tuple[bool, bool | None, str]":
    """(verify succeeded, digest intact or None when no digest lines, output) from osslsigncode."""
    tool = require_tool("osslsigncode")
    cmd = [tool, "verify", "-in", str(path)]
    if cafile is not None:
        cmd[2:2] = ["-CAfile", str(cafile)]
    run = subprocess.run(cmd, capture_output=True, text=True)
    out = run.stdout + run.stderr
    current = re.findall(r"Current message digest\s*:\s*([0-9A-F]+)", out)
    calculated = re.findall(r"Calculated message digest\s*:\s*([0-9A-F]+)", out)
    intact = None if not current else current == calculated
    return run.returncode == 0, intact, out


def _image(machine="x64", size=20_000) -> bytes:
    return build_pe(machine, "6.3.9600.17031", None, size, dt.datetime(2014, 3, 18, tzinfo=dt.timezone.utc),
                    True, {"CompanyName": "Contoso"})


def _name_parts(text: str) -> "set[str]":
    return {part.strip() for part in re.split(r"[,/]", text) if part.strip()}


# --------------------------------------------------------------------------- fixtures signed at test time

def test_unsigned(tmp_path):
    path = tmp_path / "u.dll"
    path.write_bytes(_image())
    status = pe_signature_status(path)
    assert status.status == UNSIGNED and not status.is_signed and status.signatures == ()
    ok, intact, out = _ossl_verify(path)
    assert not ok and intact is None


@pytest.mark.parametrize("machine,digest", [("x64", "sha256"), ("x86", "sha1")])
def test_self_signed_is_untrusted_with_intact_digest(pki, tmp_path, machine, digest):
    signed = _sign(pki, _image(machine), "self.pem", "self.key", tmp_path / "s.dll", digest)
    status = pe_signature_status(signed)
    assert status.status == SIGNED_UNTRUSTED, status.reason
    assert "self-signed root" in status.reason and "msitools self-signed signer" in status.reason
    assert status.digest_algorithm == digest
    cert = pki["self"]
    assert _name_parts(status.signer_subject) == _name_parts(cert.subject.rfc4514_string())
    assert _name_parts(status.signer_issuer) == _name_parts(cert.issuer.rfc4514_string())
    assert int(status.signer_serial, 16) == cert.serial_number
    assert status.signer_not_before == cert.not_valid_before_utc
    assert status.signer_not_after == cert.not_valid_after_utc
    # osslsigncode: digest intact; untrusted without the CA file, valid with it
    ok, intact, out = _ossl_verify(signed)
    assert intact is True and not ok
    ok, intact, out = _ossl_verify(signed, pki["dir"] / "self.pem")
    assert ok and intact is True, out


def _signed_image_offsets(path: Path) -> "tuple[int, int]":
    """(file offset of the CheckSum field, file offset of the certificate table)."""
    data = path.read_bytes()
    (lfanew,) = struct.unpack_from("<I", data, 0x3C)
    magic = struct.unpack_from("<H", data, lfanew + 24)[0]
    dirs = lfanew + 24 + (112 if magic == 0x20B else 96)
    cert_offset, _cert_size = struct.unpack_from("<II", data, dirs + 4 * 8)
    return lfanew + 24 + 64, cert_offset


@pytest.mark.parametrize("where", ["rsrc", "text", "overlay", "header"])
def test_one_flipped_byte_is_altered(pki, tmp_path, where):
    signed = _sign(pki, _image(), "self.pem", "self.key", tmp_path / "s.dll")
    data = bytearray(signed.read_bytes())
    _checksum, cert_table = _signed_image_offsets(signed)
    offset = {"rsrc": 0x500, "text": 0x200, "overlay": cert_table - 100, "header": 0x40 + 4 + 2}[where]
    data[offset] ^= 0x01
    altered = tmp_path / "a.dll"
    altered.write_bytes(data)
    status = pe_signature_status(altered)
    assert status.status == SIGNED_ALTERED, status.reason
    assert "digest does not match" in status.reason
    ok, intact, out = _ossl_verify(altered, pki["dir"] / "self.pem")
    assert not ok and intact is False, out


def test_checksum_field_is_outside_the_signed_region(pki, tmp_path):
    """Authenticode excludes CheckSum: changing it keeps the digest intact (osslsigncode agrees)."""
    signed = _sign(pki, _image(), "self.pem", "self.key", tmp_path / "s.dll")
    data = bytearray(signed.read_bytes())
    checksum, _ = _signed_image_offsets(signed)
    data[checksum] ^= 0xFF
    changed = tmp_path / "c.dll"
    changed.write_bytes(data)
    assert pe_signature_status(changed).status == SIGNED_UNTRUSTED
    ok, intact, out = _ossl_verify(changed, pki["dir"] / "self.pem")
    assert intact is True


def test_chain_to_a_private_root_carried_in_the_signature(pki, tmp_path):
    signed = _sign(pki, _image(), "chain.pem", "leaf.key", tmp_path / "c.dll")
    status = pe_signature_status(signed)
    assert status.status == SIGNED_UNTRUSTED, status.reason
    assert len(status.primary.chain) == 2 and "msitools test root CA" in status.primary.chain[-1]
    assert "msitools CA-issued signer" in status.signer_subject
    ok, intact, out = _ossl_verify(signed, pki["dir"] / "ca.pem")
    assert ok and intact is True, out


def test_missing_issuer_is_unverifiable(pki, tmp_path):
    signed = _sign(pki, _image(), "leaf.pem", "leaf.key", tmp_path / "l.dll")
    status = pe_signature_status(signed)
    assert status.status == SIGNED_UNVERIFIABLE, status.reason
    assert "no chain" in status.reason
    # the signature itself is sound: osslsigncode accepts it once given the CA
    ok, intact, out = _ossl_verify(signed, pki["dir"] / "ca.pem")
    assert ok and intact is True, out


def test_tampered_signer_signature_is_altered(pki, tmp_path):
    signed = _sign(pki, _image(), "self.pem", "self.key", tmp_path / "s.dll")
    from msitools.pe.authenticode_pe import _signify  # signify as the module loads it (oscrypto fix-up)

    SignedPE, _store, _exc = _signify()
    with open(signed, "rb") as handle:
        sig = next(SignedPE(handle).iter_embedded_signatures())
        encrypted = bytes(sig.signer_info.encrypted_digest)
    data = bytearray(signed.read_bytes())
    where = data.find(encrypted)
    assert where > 0
    data[where + len(encrypted) // 2] ^= 0x01
    tampered = tmp_path / "t.dll"
    tampered.write_bytes(data)
    status = pe_signature_status(tampered)
    assert status.status == SIGNED_ALTERED, status.reason
    assert "signer's signature" in status.reason
    ok, intact, out = _ossl_verify(tampered, pki["dir"] / "self.pem")
    assert not ok and intact is True  # file digest intact, signature broken


def test_garbage_certificate_table_is_a_signature_error(pki, tmp_path):
    signed = _sign(pki, _image(), "self.pem", "self.key", tmp_path / "s.dll")
    data = bytearray(signed.read_bytes())
    _, cert_table = _signed_image_offsets(signed)
    data[cert_table + 8: cert_table + 40] = b"\xAA" * 32  # inside the PKCS#7 DER
    broken = tmp_path / "b.dll"
    broken.write_bytes(data)
    with pytest.raises(SignatureError) as caught:
        pe_signature_status(broken)
    assert str(caught.value).startswith(str(broken)) and "\n" not in str(caught.value)


def test_not_a_pe_is_a_signature_error(tmp_path):
    with pytest.raises(SignatureError, match="not a PE image"):
        pe_signature_status(corpus_file("msi_with_external_cab.cab"))


# --------------------------------------------------------------------------- real signed files

def _corpus_pes(tmp: Path) -> "list[Path]":
    import olefile

    from msitools.container.streamname import encode_stream_name

    cab = require_tool("cabextract")
    out = []
    for msi, stream in (("vcredist.msi", "_14241_Microsoft_VC80_CRT_x86.msm"), ("putty-0.68-installer.msi", "putty.cab")):
        with olefile.OleFileIO(str(corpus_file(msi))) as ole:
            (tmp / stream).write_bytes(ole.openstream(encode_stream_name(stream, False)).read())
        subprocess.run([cab, "-q", "-d", str(tmp / (stream + ".d")), str(tmp / stream)], check=True)
        out += sorted((tmp / (stream + ".d")).iterdir())
    subprocess.run([cab, "-q", "-d", str(tmp / "vcredis1"), str(corpus_file("vcredis1.cab"))], check=True)
    out += sorted((tmp / "vcredis1").iterdir())
    return [p for p in out if p.read_bytes()[:2] == b"MZ"]


def test_corpus_payloads_agree_with_osslsigncode(tmp_path):
    seen = {}
    for path in _corpus_pes(tmp_path):
        status = pe_signature_status(path)
        assert status.status in STATUSES
        ok, intact, out = _ossl_verify(path)
        if status.status == UNSIGNED:
            assert intact is None, path
        else:
            assert intact is True, (path, out)  # osslsigncode also finds the digest intact
        seen[path.name] = status
    by_prefix = {name.split(".")[0]: s for name, s in seen.items()}
    # Microsoft-signed VC80 CRT DLL, timestamped 2011: valid offline via the countersignature time
    msvcr = next(s for n, s in seen.items() if n.startswith("msvcr80.dll.8"))
    assert msvcr.status == SIGNED_VALID, msvcr.reason
    assert "Microsoft Corporation" in msvcr.signer_subject and msvcr.digest_algorithm == "sha1"
    assert msvcr.signing_time.year == 2011
    # PuTTY 0.68: dual signature (SHA-1 primary + nested SHA-256)
    putty = by_prefix["PuTTY_File"]
    assert putty.status == SIGNED_VALID, putty.reason
    assert [d.digest_algorithm for d in putty.signatures] == ["sha1", "sha256"]
    assert "Simon Tatham" in putty.signer_subject
    # the MSVCM80 (managed) DLL is not signed at all
    assert next(s for n, s in seen.items() if n.startswith("msvcm80.dll.8")).status == UNSIGNED


def test_real_signed_dll_with_one_flipped_byte(tmp_path):
    path = next(p for p in _corpus_pes(tmp_path) if p.name.startswith("msvcr80.dll.8"))
    data = bytearray(path.read_bytes())
    data[0x2000] ^= 0x01
    altered = tmp_path / "msvcr80-altered.dll"
    altered.write_bytes(data)
    assert pe_signature_status(altered).status == SIGNED_ALTERED
    ok, intact, out = _ossl_verify(altered)
    assert intact is False
