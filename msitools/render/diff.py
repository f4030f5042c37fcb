"""Renderers of ``diff``: text and Markdown (JSON is the report itself)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _value(value: Any) -> str:
    text = "NULL" if value is None else repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _key(key: list[Any]) -> str:
    return "/".join(str(k) for k in key)


def diff_lines(r: dict[str, Any], md: bool = False) -> list[str]:
    h = (lambda t: f"\n## {t}\n") if md else (lambda t: f"\n{t}:")
    b = "- " if md else "  "
    verdict = "identical" if r["identical"] else "different"
    out = [f"# {r['old']} → {r['new']}" if md else f"{r['old']} -> {r['new']}", "",
           f"**{verdict}**" if md else verdict]
    t = r["tables"]
    if t["added"] or t["removed"] or t["changed"]:
        out.append(h(f"Tables ({len(t['added'])} added, {len(t['removed'])} removed, {len(t['changed'])} changed)"))
        out += [f"{b}+ table {name}" for name in t["added"]] + [f"{b}- table {name}" for name in t["removed"]]
        for name, change in t["changed"].items():
            out.append(f"{b}{name}: +{len(change['added'])} -{len(change['removed'])} ~{len(change['changed'])}"
                       + (f"; columns added {', '.join(change['columns_added'])}" if change["columns_added"] else "")
                       + (f"; columns removed {', '.join(change['columns_removed'])}" if change["columns_removed"]
                          else ""))
            out += [f"{b}  + {_key(row['key'])}" for row in change["added"]]
            out += [f"{b}  - {_key(row['key'])}" for row in change["removed"]]
            for row in change["changed"]:
                cells = "; ".join(f"{c}: {_value(v['old'])} -> {_value(v['new'])}" for c, v in row["columns"].items())
                out.append(f"{b}  ~ {_key(row['key'])}: {cells}")
    if r["summary"]:
        out.append(h("Summary information"))
        out += [f"{b}{k}: {_value(v['old'])} -> {_value(v['new'])}" for k, v in r["summary"].items()]
    s = r["streams"]
    if any(s.values()):
        out.append(h("Streams"))
        out += [f"{b}+ {n}" for n in s["added"]] + [f"{b}- {n}" for n in s["removed"]] + [
            f"{b}~ {n}" for n in s["changed"]]
    f = r["files"]
    if any(f.values()):
        out.append(h(f"Payload files ({len(f['added'])} added, {len(f['removed'])} removed, "
                     f"{len(f['changed'])} changed)"))
        out += [f"{b}+ {x['path']} ({x.get('size')} bytes, {x.get('version') or 'no version'})" for x in f["added"]]
        out += [f"{b}- {x['path']}" for x in f["removed"]]
        out += [f"{b}~ {x['path']}: " + "; ".join(f"{k} {_value(v['old'])} -> {_value(v['new'])}"
                                                  for k, v in x["fields"].items()) for x in f["changed"]]
    ca = r["custom_actions"]
    if any(ca.values()):
        out.append(h("Custom actions"))
        out += [f"{b}+ {_key(x['key'])} (type {x['values'].get('Type')}, source {x['values'].get('Source')!r}, "
                f"target {x['values'].get('Target')!r})" for x in ca["added"]]
        out += [f"{b}- {_key(x['key'])}" for x in ca["removed"]]
        out += [f"{b}~ {_key(x['key'])}: " + "; ".join(f"{c} {_value(v['old'])} -> {_value(v['new'])}"
                                                      for c, v in x["columns"].items()) for x in ca["changed"]]
    if r["signatures"]:
        out.append(h("Signatures"))
        for side in ("old", "new"):
            sig = r["signatures"][side]
            signer = f", signed by {sig['signer']}" if sig.get("signer") else ""
            out.append(f"{b}{side}: {sig.get('status')}{signer}")
    if r["unreadable"]:
        out.append(h("Could not be read"))
        out += [f"{b}{u}" for u in r["unreadable"]]
    return out


def diff_text(r: dict[str, Any]) -> str:
    return "\n".join(diff_lines(r))


def diff_markdown(r: dict[str, Any]) -> str:
    return "\n".join(diff_lines(r, md=True)) + "\n"


RENDERERS: dict[str, Callable[[Any], str]] = {"text": diff_text, "markdown": diff_markdown}
