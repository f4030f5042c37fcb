"""Our transform/patch READER against the intent of the fixture WRITER (fixtures/patches/expected.json).

expected.json is written by scripts/build_patch_fixtures.py from the builders' target
databases, not from the produced files; the reader must reproduce it row for row.
(The writer's own tests check the files with msidump, msiinfo and cabextract.)
"""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from msitools import open_package
from msitools.cli import cli
from msitools.patch.msp import Msp, apply_patches_and_transforms
from msitools.patch.report import patch_report
from msitools.db.patched import PatchedDatabase
from msitools.db.transform import Transform

from conftest import FIXTURES

PATCHES = FIXTURES / "patches"
EXPECTED = json.loads((PATCHES / "expected.json").read_text())


def as_cell(value):
    """expected.json writes binary cells as {stream, size, crc32, hex}; the reader gives the stream name."""
    if isinstance(value, dict) and "stream" in value:
        return value["stream"]
    return value


def view_rows(view: PatchedDatabase, table: str) -> "list[list]":
    t = view.table(table)
    return sorted(([*r.values] for r in t.iter_rows(include_deleted=False)), key=repr)


def expected_rows(spec: dict) -> "list[list]":
    return sorted(([as_cell(v) for v in row] for row in spec["rows"]), key=repr)


def check_patched(view: PatchedDatabase, patched_tables: dict, dropped: list) -> None:
    for table, spec in patched_tables.items():
        t = view.table(table)
        assert [c.name for c in t.columns] == [c["name"] for c in spec["columns"]], table
        assert [c.type_word for c in t.columns] == [c["type"] for c in spec["columns"]], table
        assert view_rows(view, table) == expected_rows(spec), f"patched table {table} differs"
    for table in dropped:
        assert view.table(table).action == "drop"


PATCH_TARGETS = [(name, target["label"]) for name in ("whole.msp", "delta.msp", "two-targets.msp")
                 for target in EXPECTED[name]["targets"]]


@pytest.mark.parametrize("msp,base", PATCH_TARGETS, ids=[f"{m}@{b}" for m, b in PATCH_TARGETS])
def test_patched_view_equals_the_writers_intent(msp, base):
    target = next(t for t in EXPECTED[msp]["targets"] if t["label"] == base)
    with open_package(PATCHES / base) as pkg, apply_patches_and_transforms(pkg, [PATCHES / msp]) as view:
        check_patched(view, target["patched_tables"], target["dropped_tables"])
        applied = [record.label.split(":", 1)[1] for record in view.applied]
        assert applied == target["transforms"]
        # every applied change is visible as an operation on the row it names
        for transform in ("main", "paired"):
            for change in target[transform]["changes"]:
                if change["op"] in ("insert", "update", "delete"):
                    row = view.table(change["table"]).rows.get(tuple(change["key"]))
                    assert row is not None and row.op in ("insert", "update", "delete"), change


def test_two_target_patch_picks_the_pair_for_each_base():
    for label, other in (("base.msi", "base2.msi"), ("base2.msi", "base.msi")):
        mine = next(t for t in EXPECTED["two-targets.msp"]["targets"] if t["label"] == label)
        with open_package(PATCHES / label) as pkg:
            view = PatchedDatabase(pkg)
            decisions = Msp_from(PATCHES / "two-targets.msp").apply_to(view)
        applied = [d["transform"] for d in decisions if d["applied"]]
        assert applied == [mine["transforms"][0]]
        skipped = [d for d in decisions if not d["applied"]]
        assert skipped and all(any("targets product" in r for r in d["reasons"]) for d in skipped)


def Msp_from(path):
    return Msp(open_package(path))


def test_change_mst_with_base_shows_exactly_the_intended_changes():
    spec = EXPECTED["change.mst"]
    result = CliRunner().invoke(cli, ["transform", str(PATCHES / "change.mst"), "--base",
                                      str(PATCHES / spec["base"]), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    ours = []
    for table in report["tables"]:
        if table["action"] == "create":
            ours.append(("create_table", table["table"], tuple(c["name"] for c in table["added_columns"])))
        for ch in table["changes"]:
            values = ch["values"] if ch["op"] != "delete" else {}
            if ch["op"] == "update":  # the writer's intent lists only the changed columns
                values = {k: v for k, v in values.items() if k not in table["key_columns"]}
            ours.append((ch["op"], table["table"], tuple(ch["key"]), tuple(sorted(values.items()))))
    theirs = []
    for ch in spec["changes"]:
        if ch["op"] == "create_table":
            theirs.append(("create_table", ch["table"], tuple(c["name"] for c in ch["columns"])))
        else:
            values = {k: as_cell(v) for k, v in ch["values"].items()}
            theirs.append((ch["op"], ch["table"], tuple(ch["key"]), tuple(sorted(values.items()))))
    assert sorted(ours, key=repr) == sorted(theirs, key=repr)
    # updates carry the base's old value
    prop = next(t for t in report["tables"] if t["table"] == "Property")["changes"][0]
    assert prop["old"]["Value"] == "Fixture Product"
    assert prop["values"]["Value"] == "Fixture Product (customised)"


def test_change_mst_patched_view():
    spec = EXPECTED["change.mst"]
    with open_package(PATCHES / spec["base"]) as pkg, \
            apply_patches_and_transforms(pkg, transforms=[PATCHES / "change.mst"]) as view:
        check_patched(view, spec["patched_tables"], spec["dropped_tables"])
        assert view.table("Registry").rows[("RegPath",)].op == "delete"
        assert view.table("Environment").action == "create"
        # the Binary row's data lives in the transform storage
        with open_package(PATCHES / "change.mst") as mst:
            t = Transform(mst.cfb, mst.cfb.root, "change.mst", str(PATCHES / "change.mst"))
            expected_blob = next(c for c in spec["changes"] if c["table"] == "Binary" and c["op"] == "insert")
            data = t.read_stream("Binary.FixtureBlob")
            assert data.hex() == expected_blob["values"]["Data"]["hex"]


@pytest.mark.parametrize("msp", ["whole.msp", "delta.msp", "two-targets.msp"])
def test_patch_report_payload_matches_the_cabinet_written(msp):
    spec = EXPECTED[msp]
    with open_package(PATCHES / msp) as pkg:
        report = patch_report(Msp(pkg))
    assert report["patch_code"] == spec["patch_code"]
    members = report["cabinets"][0]["members"]
    assert [(m["name"], m["size"], m["kind"]) for m in members] == \
        [(m["name"], m["size"], m["kind"]) for m in spec["cabinet"]["members"]]
    for ours, theirs in zip(members, spec["cabinet"]["members"]):
        if theirs["kind"] == "delta":
            info = theirs["info"]
            assert ours["delta"]["format"] == info["format"]
            assert ours["delta"]["new_size"] == info.get("new_size", info.get("target_size"))
            if info["format"] == "PA30":
                assert ours["delta"]["new_hash"] == info["target_hash"]
                assert ours["delta"]["hash_algorithm"] == "MD5" and info["target_hash_alg"] == 0x8003
            if info["format"] == "PA19":
                assert int(ours["delta"]["new_crc32"], 16) == info["new_crc32"]
                assert [o["size"] for o in ours["delta"]["old_files"]] == [o["size"] for o in info["old_files"]]
    assert report["media"][0]["Cabinet"] == "#" + spec["cabinet"]["stream"]


def test_delta_patch_rows_carry_their_headers():
    spec = EXPECTED["delta.msp"]
    with open_package(PATCHES / "delta.msp") as pkg, open_package(PATCHES / "base.msi") as base:
        report = patch_report(Msp(pkg), base)
    files = {f["file"]: f for f in report["files_changed"]}
    for member in spec["cabinet"]["members"]:
        entry = files[member["name"]]
        assert entry["payload"] == "delta"
        row = member["patch_row"]
        if row["header"] is not None and member["info"]["format"] == "PA19":
            header = entry["patch"][0]["header"]
            assert header["new_size"] == member["info"]["new_size"]
            assert int(header["new_crc32"], 16) == member["info"]["new_crc32"]
        assert entry["directory"].startswith("SourceDir\\")
    assert "File" not in files["config.xml"]["changed_columns"]
