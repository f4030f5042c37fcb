"""Every JSON output recorded before the restructure is still produced, key for key.

New keys may appear (finding levels, the new vocabulary of ``verify``); nothing
recorded may change or disappear, except where listed in ``CHANGED`` with the
reason (each one is a documented change in the README).
"""
from __future__ import annotations

import json
from typing import Any

import pytest

from .cases import CORPUS, LAYERS, cases, output_file

# (command, path suffix) -> why its recorded output may differ, and how
CHANGED = {
    # extract of an .msp writes the names verify reports (PE OriginalFilename when the patch carries
    # no FileName) instead of the File key (two images with one name get lessmsi's .duplicateN, with a
    # note under "issues"): compared on the parts that do not name files
    ("extract", ".msp"): "names from the payload layer",
}


def _subset(recorded: Any, now: Any, where: str) -> "list[str]":
    """Where *now* lacks or changes something *recorded* has."""
    if isinstance(recorded, dict):
        if not isinstance(now, dict):
            return [f"{where}: was an object, now {type(now).__name__}"]
        out = []
        for key, value in recorded.items():
            if key not in now:
                out.append(f"{where}.{key}: missing")
            else:
                out.extend(_subset(value, now[key], f"{where}.{key}"))
        return out
    if isinstance(recorded, list):
        if not isinstance(now, list) or len(now) != len(recorded):
            return [f"{where}: was a list of {len(recorded)}, now {now!r:.200}"]
        out = []
        for i, (a, b) in enumerate(zip(recorded, now)):
            out.extend(_subset(a, b, f"{where}[{i}]"))
        return out
    if recorded != now:
        return [f"{where}: was {recorded!r:.200}, now {now!r:.200}"]
    return []


def _signature_policy_changed(data: Any) -> Any:
    """A verify report without what issue 13 changed: the signature findings (payload ones are listed too now)
    and the wording of signature differences on rows."""
    if isinstance(data, dict):
        return {k: _signature_policy_changed(v) for k, v in data.items()
                if k != "signature_findings" and not (k == "differences" and any(
                    isinstance(d, dict) and d.get("field") == "signature" for d in v))}
    if isinstance(data, list):
        return [_signature_policy_changed(v) for v in data]
    return data


def _catalog_signed(before: Any, after: Any) -> "tuple[Any, Any]":
    """Issue 13: an unsigned payload image that a delivered catalog signs is reported as such now;
    compare such entries without their signature facts."""
    if isinstance(before, dict) and isinstance(after, dict):
        if str(after.get("status", "")).startswith("catalog") and before.get("status") == "unsigned":
            keep = {k: v for k, v in before.items() if k not in ("status", "reason", "signer")}
            return keep, {k: v for k, v in after.items() if k in keep}
        pairs = {k: _catalog_signed(v, after.get(k)) for k, v in before.items()}
        return {k: b for k, (b, _a) in pairs.items()}, {**after, **{k: a for k, (_b, a) in pairs.items()}}
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        pairs = [_catalog_signed(b, a) for b, a in zip(before, after)]
        return [b for b, _a in pairs], [a for _b, a in pairs]
    return before, after


def _damaged_now_exit_1(args: "list[str]", before: dict, after: dict) -> "tuple[dict, dict]":
    """Issue 16: extract exits 1 (not 2) when some files of a damaged package could not be written;
    the files named in the old error line are failures of the new report."""
    old = before.get("stderr", "")
    if args[0] != "extract" or before.get("exit") != 2 or after.get("exit") != 1 or "could not be extracted" not in old:
        return before, after
    failed = {f["file"] for f in after.get("json", {}).get("failures", [])}
    named = old.split("could not be extracted: ", 1)[1]
    if not failed or not any(name in named for name in failed):
        return before, after
    return {}, {}


def _cabinet_basenames(args: "list[str]", data: Any) -> Any:
    """Issue 16: ``files`` of a cabinet names each member's cabinet by its file name (the set may span several)."""
    if args[0] != "files" or not args[1].lower().endswith(".cab"):
        return data
    if isinstance(data, dict):
        return {k: (v.replace("\\", "/").rsplit("/", 1)[-1] if k == "cabinet" and isinstance(v, str)
                    else _cabinet_basenames(args, v)) for k, v in data.items()}
    if isinstance(data, list):
        return [_cabinet_basenames(args, v) for v in data]
    return data


def _review_descends(args: "list[str]", before: Any, after: Any) -> "tuple[Any, Any]":
    """Issue 15: review walks every package a package delivers and marks each entry with ``where``; entries
    are ordered by risk and packages named by file name.  Compare the reviewed package's own entries,
    in any order."""
    if args[0] != "review" or not isinstance(before, dict) or "json" not in before or "summary" in before["json"]:
        return before, after  # recorded before issue 15 only
    top = args[1].replace("\\", "/").rsplit("/", 1)[-1]

    def canon(data: dict, mine: bool) -> dict:
        out = {}
        for key, value in data.items():
            if key == "signatures" and isinstance(value, list):
                value = [dict(v, package=str(v.get("package", "")).rsplit("/", 1)[-1]) for v in value
                         if not mine or " > " not in str(v.get("package", ""))]
            if isinstance(value, list) and value and isinstance(value[0], dict):
                if mine:
                    value = [{k: x for k, x in v.items() if k != "where"} for v in value if v.get("where", top) == top]
                value = sorted(value, key=lambda v: json.dumps(v, sort_keys=True, default=str))
            elif isinstance(value, dict):
                value = canon(value, mine)
            out[key] = value
        return out

    old, new = dict(before), dict(after)
    old["json"] = canon(before["json"], False)
    new["json"] = canon(after.get("json", {}), True)
    old.pop("exit", None)
    new.pop("exit", None)
    return old, new


def _changed(args: "list[str]") -> "str | None":
    for (command, suffix), why in CHANGED.items():
        if args[0] == command and args[1].lower().endswith(suffix):
            return why
    return None


def _strip_names(data: Any) -> Any:
    """An extraction report without the file names (for the documented renaming of patch payload)."""
    if isinstance(data, dict):
        return {k: _strip_names(v) for k, v in data.items() if k not in ("path", "name", "issues", "findings")}
    if isinstance(data, list):  # an empty placeholder member ("filler") is no longer written
        return [_strip_names(v) for v in data if not (isinstance(v, dict) and v.get("size") == 0)]
    return data


@pytest.mark.parametrize("with_corpus", [False, True], ids=["fixtures", "corpus"])
@pytest.mark.parametrize("layer", LAYERS)
def test_outputs_unchanged(layer: str, with_corpus: bool) -> None:
    if with_corpus and not CORPUS.is_dir():
        pytest.skip(f"{CORPUS} not found (../shared is not beside the project)")
    recorded = json.loads(output_file(layer, with_corpus).read_text())
    now = {json.dumps(c["args"]): c for c in cases(layer, with_corpus)}
    problems = []
    for case in recorded:
        key = json.dumps(case["args"])
        current = now.get(key)
        if current is None:
            problems.append(f"{key}: not run any more")
            continue
        before, after = _damaged_now_exit_1(case["args"], dict(case), dict(current))
        if "stderr" in before and after.get("stderr", "").startswith(before["stderr"].rsplit("; use", 1)[0]):
            before.pop("stderr")  # the error line may carry more advice now
            after.pop("stderr", None)
        if _changed(case["args"]):
            before, after = _strip_names(before), _strip_names(after)
        before, after = _catalog_signed(before, after)
        before, after = _review_descends(case["args"], before, after)
        before, after = _cabinet_basenames(case["args"], before), _cabinet_basenames(case["args"], after)
        if case["args"][0] == "verify" and "--require-signature" in case["args"]:
            before, after = _signature_policy_changed(before), _signature_policy_changed(after)
        for diff in _subset(before, after, " ".join(case["args"][:2])):
            problems.append(diff)
    assert not problems, "\n".join(problems[:40])
