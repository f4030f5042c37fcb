"""The JSON outputs recorded before the restructure (issue 11), and how to produce them again.

``python tests/golden/cases.py --record`` runs every case through the command line
in-process and writes ``tests/golden/outputs/<layer>.json`` (``--rerecord FRAGMENT``
records again only the cases naming FRAGMENT: done for ``fixtures/kb2586709/`` when
issue 15 gave the replica's installers and patch custom actions); ``test_golden.py`` runs
them again and checks that every recorded key and value is still there (new keys
may be added; documented exceptions are listed in ``test_golden.py``).

Absolute paths are replaced by ``<ROOT>`` (the project), ``<SHARED>`` (``../shared``)
and ``<OUT>`` (the extraction folder), report times by ``<TIME>``; tables are
recorded as a SHA-256 of their canonical JSON (they are large and gain no keys).
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
OUTPUTS = HERE / "outputs"
FIX = ROOT / "fixtures"

PACKAGES = sorted(
    [p for p in FIX.rglob("*") if p.suffix.lower() in (".msi", ".msp", ".mst", ".msm") and "attacks" not in p.parts]
)
CORPUS_PACKAGES = ["msi_with_external_cab.msi", "putty-0.68-installer.msi", "vcredist.msi", "WPF2_32.msp",
                   "SQL2008_AS.msp"]
CABINETS = sorted(FIX.rglob("*.cab"))
CORPUS_CABINETS = ["vcredis1.cab", "msi_with_external_cab.cab"]


def _inputs(with_corpus: bool) -> "list[tuple[str, Path]]":
    out = [(f"<ROOT>/{p.relative_to(ROOT)}", p) for p in PACKAGES]
    if with_corpus:
        out += [(f"<SHARED>/corpus/{n}", CORPUS / n) for n in CORPUS_PACKAGES]
    return out


def _normalise(text: str, out_dir: "str | None" = None) -> str:
    if out_dir:
        text = text.replace(out_dir, "<OUT>")
    return text.replace(str(SHARED), "<SHARED>").replace(str(ROOT), "<ROOT>")


def _run(args: "list[str]") -> "dict":
    from click.testing import CliRunner

    from msitools.cli import cli

    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return {"exit": result.exit_code, "stdout": result.stdout, "stderr": result.stderr}


def _record(args: "list[str]", *, out_dir: "str | None" = None, hash_output: bool = False,
            drop_time: bool = False) -> "dict":
    res = _run(args)
    entry: dict = {"args": [_normalise(a, out_dir) for a in args], "exit": res["exit"]}
    if res["exit"] == 2:
        entry["stderr"] = _normalise(res["stderr"].strip(), out_dir)
        return entry
    try:
        data = json.loads(_normalise(res["stdout"], out_dir))
    except ValueError:
        entry["stdout"] = _normalise(res["stdout"], out_dir)
        return entry
    if drop_time and isinstance(data, dict):
        data.pop("time", None)
    if hash_output:
        entry["sha256"] = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    else:
        entry["json"] = data
    return entry


def _tables_of(path: Path) -> "list[str]":
    res = _run(["tables", str(path), "--format", "json"])
    if res["exit"] != 0:
        return []
    return [t["name"] for t in json.loads(res["stdout"])["tables"]]


def cases(layer: str, with_corpus: bool) -> "list[dict]":
    """Run every case of *layer* (``read``, ``payload``, ``patch``, ``jobs``)."""
    out: list[dict] = []
    items = _inputs(with_corpus)
    if layer == "read":
        for label, path in items:
            for cmd in ("info", "tables", "streams"):
                out.append(_record([cmd, str(path), "--format", "json"]))
            for name in _tables_of(path):
                out.append(_record(["table", str(path), name, "--format", "json"], hash_output=True))
    elif layer == "payload":
        cabs = [(p, p) for p in CABINETS] + ([(CORPUS / n, CORPUS / n) for n in CORPUS_CABINETS] if with_corpus else [])
        for _label, path in items + cabs:
            out.append(_record(["files", str(path), "--format", "json"]))
            with tempfile.TemporaryDirectory() as tmp:
                target = os.path.join(tmp, "out")
                out.append(_record(["extract", str(path), "-o", target, "--format", "json", "--jobs", "1"],
                                   out_dir=target))
    elif layer == "patch":
        for _label, path in items:
            if path.suffix.lower() == ".msp":
                out.append(_record(["patch", str(path), "--format", "json"]))
            if path.suffix.lower() == ".mst":
                out.append(_record(["transform", str(path), "--format", "json"]))
        base = FIX / "patches" / "base.msi"
        for patch in ("whole.msp", "delta.msp", "two-targets.msp"):
            out.append(_record(["patch", str(FIX / "patches" / patch), "--base", str(base), "--format", "json"]))
            out.append(_record(["files", str(base), "--patch", str(FIX / "patches" / patch), "--format", "json"]))
            out.append(_record(["review", str(base), "--patch", str(FIX / "patches" / patch), "--format", "json"]))
        out.append(_record(["transform", str(FIX / "patches" / "change.mst"), "--base", str(base), "--format",
                            "json"]))
        out.append(_record(["tables", str(base), "--transform", str(FIX / "patches" / "change.mst"), "--format",
                            "json"]))
    elif layer == "jobs":
        for _label, path in items:
            out.append(_record(["signature", str(path), "--format", "json"]))
            if path.suffix.lower() != ".mst":
                out.append(_record(["review", str(path), "--format", "json"]))
        kb = FIX / "kb2586709"
        hotfixes = [kb / "SCCM2007-SP2-2586709-X86-ENU.msi", kb / "Sccm2007ac-sp2-kb2586709-x86-enu.msp",
                    *sorted((kb / "tampered").glob("*.msi"))]
        for hotfix in hotfixes:
            for table in ("kb2586709.txt", "kb2586709.html", "kb2586709.csv"):
                out.append(_record(["verify", str(hotfix), "--kb", str(kb / table), "--format", "json"],
                                   drop_time=True))
        out.append(_record(["verify", str(hotfixes[0]), "--kb", str(kb / "kb2586709.txt"), "--format", "json",
                            "--require-signature", "--depth", "1"], drop_time=True))
        for table in sorted((FIX / "kb").iterdir()):
            out.append(_record(["kb", "parse", str(table), "--format", "json"]))
    return out


LAYERS = ("read", "payload", "patch", "jobs")


def output_file(layer: str, with_corpus: bool) -> Path:
    return OUTPUTS / f"{layer}{'-corpus' if with_corpus else ''}.json"


def rerecord(fragment: str) -> None:
    """Record again only the cases whose arguments contain *fragment* (after a deliberate fixture change)."""
    sys.path.insert(0, str(ROOT))
    for layer in LAYERS:
        path = output_file(layer, False)
        recorded = json.loads(path.read_text())
        fresh = {json.dumps(c["args"]): c for c in cases(layer, False)}
        changed = 0
        for n, case in enumerate(recorded):
            if any(fragment in str(a) for a in case["args"]):
                recorded[n] = fresh[json.dumps(case["args"])]
                changed += 1
        path.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
        print(layer, changed)


def main() -> None:
    sys.path.insert(0, str(ROOT))
    OUTPUTS.mkdir(exist_ok=True)
    for with_corpus in (False, True):
        for layer in LAYERS:
            if with_corpus:
                all_cases = cases(layer, True)
                local = {json.dumps(c["args"]) for c in cases(layer, False)}
                data = [c for c in all_cases if json.dumps(c["args"]) not in local]
            else:
                data = cases(layer, False)
            output_file(layer, with_corpus).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
            print(layer, with_corpus, len(data))


if __name__ == "__main__" and "--record" in sys.argv:
    main()
elif __name__ == "__main__" and "--rerecord" in sys.argv:
    rerecord(sys.argv[sys.argv.index("--rerecord") + 1])
