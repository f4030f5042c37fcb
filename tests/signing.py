"""Throwaway code-signing certificates (made with cryptography at test time) and osslsigncode signing."""
from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from conftest import require_tool

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _name(cn: str) -> "x509.Name":
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "msitools tests")])


def _cert(subject, issuer, key, signing_key, serial, *, ca=False, eku=ExtendedKeyUsageOID.CODE_SIGNING):
    usage = x509.KeyUsage(digital_signature=not ca, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                          encipher_only=False, decipher_only=False)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
               .public_key(key.public_key()).serial_number(serial)
               .not_valid_before(NOW - dt.timedelta(days=1)).not_valid_after(NOW + dt.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(usage, critical=True))
    if not ca:
        builder = builder.add_extension(x509.ExtendedKeyUsage([eku]),
                                        critical=eku == ExtendedKeyUsageOID.TIME_STAMPING)
    return builder.sign(signing_key, hashes.SHA256())


def _pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_pki(root: Path) -> dict:
    """Self-signed signer; CA + CA-issued signer; self-signed TSA (files *.pem / *.key in *root*)."""
    root.mkdir(parents=True, exist_ok=True)

    def key():
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def write_key(name: str, k) -> None:
        (root / name).write_bytes(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))

    self_key, ca_key, leaf_key, tsa_key = key(), key(), key(), key()
    self_cert = _cert(_name("msitools MSI signer"), _name("msitools MSI signer"), self_key, self_key, 0x0A1B2C3D)
    ca_cert = _cert(_name("msitools MSI test CA"), _name("msitools MSI test CA"), ca_key, ca_key, 0x51, ca=True)
    leaf_cert = _cert(_name("msitools CA-issued MSI signer"), _name("msitools MSI test CA"), leaf_key, ca_key,
                      0x00C0FFEE)
    tsa_cert = _cert(_name("msitools test TSA"), _name("msitools test TSA"), tsa_key, tsa_key, 0x7A,
                     eku=ExtendedKeyUsageOID.TIME_STAMPING)
    for name, cert in (("self", self_cert), ("ca", ca_cert), ("leaf", leaf_cert), ("tsa", tsa_cert)):
        (root / f"{name}.pem").write_bytes(_pem(cert))
    for name, k in (("self", self_key), ("leaf", leaf_key), ("tsa", tsa_key)):
        write_key(f"{name}.key", k)
    return {"dir": root, "self": self_cert, "ca": ca_cert, "leaf": leaf_cert, "tsa": tsa_cert}



def sign(pki, src: Path, out: Path, *, digest="sha256", dse=False, certs="self.pem", key="self.key",
          tsa_time: "int | None" = None) -> Path:
    tool = require_tool("osslsigncode")
    cmd = [tool, "sign", "-certs", str(pki["dir"] / certs), "-key", str(pki["dir"] / key), "-h", digest]
    if dse:
        cmd.append("-add-msi-dse")
    if tsa_time is not None:
        cmd += ["-TSA-certs", str(pki["dir"] / "tsa.pem"), "-TSA-key", str(pki["dir"] / "tsa.key"),
                "-TSA-time", str(tsa_time)]
    subprocess.run(cmd + ["-in", str(src), "-out", str(out)], check=True, capture_output=True)
    return out




def altered_crt_package(vcredist: Path, work: Path) -> Path:
    """The real CRT assembly of vcredist.msi (catalog, manifest, DLLs) repackaged with one byte of
    msvcm80.dll changed: a file its signed catalog names with other bytes."""
    from msitools.extract import extract
    from msitools.testing.writer.package import PayloadFile, build_package

    out = work / "crt-extracted"
    extract(vcredist, out)
    folder = next((out / "SourceDir" / "Windows" / "winsxs").glob("x86_microsoft.vc80.crt_*"))
    files = []
    for path in sorted(folder.iterdir()):
        data = bytearray(path.read_bytes())
        if path.name == "msvcm80.dll":
            data[len(data) // 2] ^= 0x01
        files.append(PayloadFile("ProgramFilesFolder", path.name, bytes(data)))
    package = work / "crt.msi"
    build_package(files).write(package)
    return package
