"""`sbom` (CycloneDX 1.6 through cyclonedx-python-lib) and `files --hash`: every SBOM validates, hashes agree."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from msitools.sbom import sbom_json, validation_error

from conftest import FIXTURES, corpus_file

KB = FIXTURES / "kb2586709"
HOTFIX = KB / "SCCM2007-SP2-2586709-X86-ENU.msi"


def _run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "msitools", *map(str, args)], capture_output=True, text=True)


def _components(node: dict) -> list[dict]:
    out = []
    for c in node.get("components", []):
        out.append(c)
        out.extend(_components(c))
    return out


def _props(component: dict) -> dict[str, str]:
    return {p["name"]: p["value"] for p in component.get("properties", [])}


def _sha256(component: dict) -> str | None:
    return next((h["content"] for h in component.get("hashes", []) if h["alg"] == "SHA-256"), None)


def test_the_validator_is_installed_and_rejects_a_broken_document():
    assert validation_error('{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [{"type": "nonsense"}]}')
    assert validation_error(sbom_json(HOTFIX, validate=False)) is None


@pytest.mark.parametrize("package", [HOTFIX, KB / "Sccm2007ac-sp2-kb2586709-x86-enu.msp",
                                     FIXTURES / "patches" / "base.msi", *sorted((KB / "tampered").glob("*.msi"))],
                         ids=lambda p: p.name)
def test_every_sbom_validates_and_its_hashes_equal_files_hash(tmp_path, package):
    out = tmp_path / "bom.json"
    proc = _run("sbom", package, "-o", out)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert validation_error(text) is None
    bom = json.loads(text)
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.6"
    listed = _run("files", package, "--hash", "sha256", "--recursive", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)["files"]
    by_place = {(r["where"], r["name"], r.get("member")): r["sha256"] for r in rows}
    assert len(by_place) == len(rows)
    components = _components(bom)
    assert len(components) == len(rows)
    for c in components:
        props = _props(c)
        assert by_place[(props["msitools:found_in"], c["name"], props.get("msitools:member"))] == _sha256(c)
        assert int(props["msitools:size"]) > 0 or c["name"].endswith(".txt")
    top = bom["metadata"]["component"]
    assert _sha256(top) == hashlib.sha256(package.read_bytes()).hexdigest()


def test_the_replica_sbom_names_the_product_and_nests_the_packages_inside():
    bom = json.loads(sbom_json(HOTFIX))
    top = bom["metadata"]["component"]
    assert top["name"] == "System Center Configuration Manager 2007 SP2 KB2586709 hotfix"
    assert top["supplier"]["name"] == "Microsoft Corporation"
    props = _props(top)
    assert props["msitools:product_code"] == "{A35C4E21-7C0F-4D2B-9A43-2586709000F1}"
    assert props["msitools:signature_status"] == "unsigned" and props["msitools:kind"] == "msi"
    nested = {c["name"]: c for c in bom["components"]}
    assert set(nested) == {"Mcs.msi", "Pxe.msi", "Sccm2007ac-sp2-kb2586709-x86-enu.msp"}
    patch = nested["Sccm2007ac-sp2-kb2586709-x86-enu.msp"]
    assert patch["type"] == "application" and len(patch["components"]) == 6
    assert {c["version"] for c in patch["components"]} == {"4.0.6487.2192"}
    assert {_props(c)["msitools:machine"] for c in patch["components"]} == {"x86", "x64"}
    assert _props(nested["Mcs.msi"])["msitools:product_name"] == "Configuration Manager 2007 SP2 Mcs replica"
    depends = {d["ref"]: d.get("dependsOn", []) for d in bom["dependencies"]}
    assert set(depends[top["bom-ref"]]) == {c["bom-ref"] for c in bom["components"]}


def test_a_signed_package_and_its_signed_payload_name_their_signer():
    path = corpus_file("putty-0.68-installer.msi")
    bom = json.loads(sbom_json(path))
    top = _props(bom["metadata"]["component"])
    assert top["msitools:signature_status"] in ("signed_valid", "signed_untrusted", "signed_unverifiable")
    assert "Simon Tatham" in top["msitools:signer"]
    signed = [c for c in _components(bom) if _props(c).get("msitools:signer")]
    assert signed and all("Simon Tatham" in _props(c)["msitools:signer"] for c in signed)
    assert validation_error(json.dumps(bom)) is None


def test_files_hash_digests_are_the_bytes_extract_writes(tmp_path):
    package = FIXTURES / "patches" / "base.msi"
    assert _run("extract", package, "-o", tmp_path / "out").returncode == 0
    written = {p.name: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    for algorithm in ("sha256", "sha1", "md5"):
        rows = json.loads(_run("files", package, "--hash", algorithm, "--format", "json").stdout)["files"]
        assert {r["name"]: r[algorithm] for r in rows} == {
            name: hashlib.new(algorithm, data).hexdigest() for name, data in written.items()}


def test_files_hash_of_a_damaged_package_names_the_unreadable_file(tmp_path):
    from review.test_review import build_review_fixture

    path = build_review_fixture(tmp_path / "review.msi")
    data = bytearray(path.read_bytes())
    data[data.find(b"MSCF") + 400] ^= 0x01
    path.write_bytes(bytes(data))
    rows = json.loads(_run("files", path, "--hash", "sha256", "--format", "json").stdout)["files"]
    assert any(r.get("error") and "checksum" in r["error"] and r["sha256"] is None for r in rows)
