"""One walk over a patch's payload: every job sees the same files.

The patch here is the fixture ``whole.msp`` rebuilt with two PatchWiz habits: a
cabinet member named by its File key in upper case (``CORE.DLL`` for the key
``core.dll``) and an empty ``filler`` member that no File row names.  verify,
extract, review, files and the patch report must all find ``core.dll`` (named
from its PE ``OriginalFilename``, as the patch does not carry its FileName) and
none may treat ``filler`` as a delivered file.
"""
from __future__ import annotations

import hashlib
import json
import subprocess

import pytest
from click.testing import CliRunner
from conftest import load_script, require_tool

from msitools.cli import cli
from msitools.db.package import open_package
from msitools.patch.msp import Msp
from msitools.patch.payload import PatchPayload
from msitools.patch.report import cabinet_members, patch_report
from msitools.payload.items import KIND_EMPTY, KIND_FILE, NAME_FILE_TABLE, NAME_PE
from msitools.review import review
from msitools.testing.writer.cab import FileSpec, FolderSpec, build_cabinet
from msitools.verify import walk_delivery


@pytest.fixture(scope="module")
def odd_patch(tmp_path_factory):
    """whole.msp with an upper-case member name and a filler member; and the bytes of each file."""
    script = load_script("build_patch_fixtures")
    builder = script.whole_patch(script.product("base"))

    def cabinet_bytes() -> bytes:
        ordered = sorted(builder.files, key=lambda f: builder._sequences.get(f.file_key, 0))
        specs = [FileSpec(f.file_key.upper() if f.file_key == "core.dll" else f.file_key, f.data) for f in ordered]
        specs.append(FileSpec("filler", b""))
        return build_cabinet([FolderSpec(specs)])

    builder.cabinet_bytes = cabinet_bytes
    path = tmp_path_factory.mktemp("odd") / "odd.msp"
    path.write_bytes(builder.build())
    files = {f.file_key: hashlib.sha256(f.data).hexdigest() for f in builder.files}
    return path, files


def test_cabextract_sees_the_members_we_wrote(odd_patch, tmp_path):
    """Our cabinet writer's output, read by an independent tool."""
    cabextract = require_tool("cabextract")
    path, _files = odd_patch
    with open_package(path) as pkg:
        (tmp_path / "patch.cab").write_bytes(pkg.read_stream(pkg.find_stream("PCW_CAB_Whole").name))
    listing = subprocess.run([cabextract, "-l", str(tmp_path / "patch.cab")], capture_output=True).stdout.decode()
    for name in ("CORE.DLL", "filler", "readme.txt", "plugin.dll"):
        assert name in listing


def test_the_walk_matches_keys_ignoring_case_and_marks_the_filler(odd_patch):
    path, files = odd_patch
    with open_package(path) as pkg:
        items = list(PatchPayload(Msp(pkg)))
        by_key = {i.key: i for i in items}
        assert set(by_key) == {"readme.txt", "core.dll", "plugin.dll", "filler"}
        assert by_key["filler"].kind == KIND_EMPTY
        core = by_key["core.dll"]
        assert core.member.name == "CORE.DLL" and core.kind == KIND_FILE and core.row is not None
        assert (core.name, core.name_source) == ("core.dll", NAME_PE)
        assert by_key["plugin.dll"].name_source == NAME_FILE_TABLE


def _delivered(path) -> "dict[str, str]":
    delivery = walk_delivery(path)
    return {f.name: f.sha256 for f in delivery.files}


def test_every_job_gets_the_same_files(odd_patch, tmp_path):
    path, files = odd_patch
    expected = {"readme.txt": files["readme.txt"], "core.dll": files["core.dll"], "plugin.dll": files["plugin.dll"]}

    assert _delivered(path) == expected  # verify

    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["extract", str(path), "-o", str(out), "--format", "json"])
    assert result.exit_code == 0, result.output
    written = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir()}
    assert written == expected  # extract: real names, no filler

    with open_package(path) as pkg:
        msp = Msp(pkg)
        members, issues, by_key = cabinet_members(msp)  # files X.msp
        assert set(by_key) == {"readme.txt", "core.dll", "plugin.dll", "filler"} and not issues
        assert {m["name"]: m["kind"] for m in members}["filler"] == "empty"
        report = patch_report(msp)
        changed = {f["file"]: f for f in report["files_changed"]}
        assert changed["core.dll"]["payload"] == "whole" and changed["core.dll"]["member_size"] > 0
        signatures = review(pkg)["payload_signatures"]
    pe_names = {s["name"] for s in signatures}
    assert pe_names == {"core.dll", "plugin.dll"}  # review: the PE images, by their real names

    listing = json.loads(CliRunner().invoke(cli, ["files", str(path), "--format", "json"]).output)["files"]
    assert sorted(m["name"] for m in listing) == sorted(["CORE.DLL", "filler", "readme.txt", "plugin.dll"])
