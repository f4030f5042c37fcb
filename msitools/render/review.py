"""Text and Markdown renderings of the security review and the signature report (strings; no printing)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _sig_line(sig: dict) -> str:
    if sig.get("status") == "not_checked":
        return f"not checked ({sig.get('reason')})"
    if not sig.get("signed"):
        return f"unsigned ({sig.get('reason')})"
    state = "digest matches" if sig.get("digest_matches") else "DIGEST MISMATCH (altered after signing)"
    trust = {True: "chain trusted", False: "chain NOT trusted",
             None: "chain not verifiable offline"}[sig.get("trusted")]
    signer = (sig.get("signer") or {}).get("subject")
    return f"signed by {signer}; {state}; {trust}" + (f" ({sig.get('reason')})" if sig.get("reason") else "")


_OUTCOME = {"ok": "OK", "unsigned": "UNSIGNED", "altered": "ALTERED", "untrusted": "UNTRUSTED (chain not trusted)"}


def signature_text(report: dict) -> str:
    """A signature report as text: the outcome first, then the details."""
    lines = []
    if "outcome" in report:
        lines.append(f"{_OUTCOME.get(report['outcome'], report['outcome'])}: {report.get('path')} "
                     f"({report.get('kind', 'package')}, {report.get('status')})")
    if report.get("kind") in ("pe", "catalog"):
        lines.append(f"  signer: {report.get('signer')}")
        lines.append(f"  reason: {report.get('reason')}")
        if report.get("kind") == "catalog":
            lines.append(f"  members: {report.get('members')} ({report.get('digest_algorithm')})")
        lines += [f"  weakness: {w}" for w in report.get("weaknesses") or []]
        return "\n".join(lines)
    lines.append(f"{report.get('path')}: {_sig_line(report)}")
    if report.get("signed"):
        signer = report.get("signer") or {}
        lines += [
            f"  digest algorithm: {report.get('digest_algorithm')}",
            f"  signed digest:    {report.get('signed_digest')}",
            f"  computed digest:  {report.get('computed_digest')}",
            f"  MsiDigitalSignatureEx: {'present' if report.get('ex_present') else 'absent'}"
            + (f" (pre-hash {'matches' if report.get('ex_matches') else 'does not match'})"
               if report.get("ex_present") else ""),
            f"  signer: {signer.get('subject')}",
            f"  issuer: {signer.get('issuer')}",
            f"  serial: {signer.get('serial')}",
            f"  valid:  {signer.get('not_before')} .. {signer.get('not_after')}",
        ]
        ts = report.get("timestamp")
        if ts:
            lines.append(f"  timestamp: {ts.get('time')} ({ts.get('type')}, by {ts.get('signer')})"
                         + ("" if report.get("signing_time_within_validity") in (None, True)
                            else " — OUTSIDE the certificate's validity"))
        else:
            lines.append("  timestamp: none")
        for subject in report.get("chain") or []:
            lines.append(f"  chain: {subject}")
    lines += [f"  weakness: {w}" for w in report.get("weaknesses") or []]
    if report.get("trust_store") and len(report["trust_store"]) > 1:
        lines.append("  trusted roots: " + ", ".join(report["trust_store"]))
    return "\n".join(lines)


def _op(row: dict) -> str:
    op = row.get("@op")
    return f" [{op}]" if op and op != "none" else ""


def _at(row: dict, top: str) -> str:
    """Where an entry was found, when not in the package reviewed itself."""
    where = row.get("where")
    return f" (in {where})" if where and where != top else ""


def _scheduled(ca: dict) -> str:
    return "; ".join(f"{s['table']}" + (f" #{s['sequence']}" if s.get("sequence") is not None else "")
                     + (f" if {s['condition']}" if s.get("condition") else "") for s in ca["scheduled"]) \
        or "not scheduled"


def _custom_action(ca: dict, top: str) -> str:
    runs = ", ".join(ca.get("runs") or [])
    line = (f"{ca['action']}{_op(ca)}: {ca['description']} ({ca['type_hex']}"
            + (f"; {runs}" if runs else "") + f"); source={ca['source']!r} target={ca['target']!r}; "
            + _scheduled(ca) + _at(ca, top))
    if ca.get("embedded"):
        e = ca["embedded"]
        line += (f"; {e['stream']} missing" if e.get("missing") else
                 f"; {e['stream']} {e['size']} bytes sha256 {e['sha256']}"
                 + (f" ({e['signature']['status']})" if e.get("signature") else ""))
    if ca.get("script_sha256"):
        line += f"; inline script sha256 {ca['script_sha256']}"
    return line


def summary_lines(r: dict) -> list[str]:
    s = r.get("summary") or {}
    counts = s.get("counts") or {}
    verdict = "NEEDS ATTENTION" if s.get("attention") else "nothing unreadable or altered"
    head = [f"{verdict}: {s.get('packages', 0)} package(s) reviewed, {s.get('unreadable', 0)} unreadable part(s), "
            f"{s.get('altered', 0)} altered signature(s)"]
    if s.get("signatures"):
        head.append("signatures: " + ", ".join(f"{n} {k}" for k, n in sorted(s["signatures"].items())))
    if counts:
        head.append(f"custom actions {counts.get('custom_actions', 0)} ({counts.get('as_system', 0)} as SYSTEM), "
                    f"payload executables {counts.get('payload_executables', 0)}, services {counts.get('services', 0)}"
                    f", environment {counts.get('environment', 0)}, upgrades {counts.get('upgrades', 0)}, "
                    f"registry {counts.get('registry', 0)}, system files {counts.get('system_files', 0)}, "
                    f"shortcuts {counts.get('shortcuts', 0)}, INI files {counts.get('ini_files', 0)}, "
                    f"permissions {counts.get('permissions', 0)}, properties {counts.get('properties', 0)}, "
                    f"binaries {counts.get('binaries', 0)}")
    return head


def _sections(r: dict) -> list[tuple[str, list[str]]]:
    top = r["packages"][0]["where"] if r.get("packages") else ""
    out: list[tuple[str, list[str]]] = []
    if r.get("unreadable"):
        out.append((f"Unreadable ({len(r['unreadable'])})", [f"{u['where']}: {u['reason']}" for u in r["unreadable"]]))
    out.append((f"Package signatures ({len(r['signatures'])})",
                [f"{sig['package']}: {_sig_line(sig)}" for sig in r["signatures"]]))
    out.append((f"Payload executables ({len(r['payload_signatures'])})", [
        f"{p['file']}: {p['status']}" + (f" — {p.get('signer')}" if p.get("signer") else "")
        + (f" ({p['reason']})" if p.get("reason") and p["status"] != "signed_valid" else "") + _at(p, top)
        for p in r["payload_signatures"]]))
    out.append((f"Custom actions ({len(r['custom_actions'])}, most serious first)",
                [_custom_action(ca, top) for ca in r["custom_actions"]]))
    svc = r["services"]
    out.append((f"Services installed ({len(svc['installed'])}), controlled ({len(svc['controlled'])}) and "
                f"configured ({len(svc.get('configured', []))})",
                [f"installs {s['service']}{_op(s)} ({s['display_name']}), start {s['start']}, account "
                 f"{s['account'] or 'LocalSystem'}" + (f", arguments {s['arguments']!r}" if s.get("arguments") else "")
                 + _at(s, top) for s in svc["installed"]]
                + [f"controls {s['service']}{_op(s)}: {', '.join(s['events']) or 'no events'}"
                   + (f", arguments {s['arguments']!r}" if s.get("arguments") else "") + _at(s, top)
                   for s in svc["controlled"]]
                + [f"configures {s['service']}{_op(s)} ({s['table']})"
                   + (f": runs {s['command']!r} on failure" if s.get("command") else "")
                   + (f": {s['argument']!r}" if s.get("argument") else "") + _at(s, top)
                   for s in svc.get("configured", [])]))
    out.append((f"Environment ({len(r.get('environment', []))})",
                [f"{e['name']}{_op(e)} = {e['value']!r} ({', '.join(e['how'])})" + _at(e, top)
                 for e in r.get("environment", [])]))
    up = r.get("upgrades") or {"rows": [], "remove_existing_products": []}
    out.append((f"Upgrades ({len(up['rows'])})",
                [f"{u['upgrade_code']}{_op(u)} versions {u['version_min'] or '-'}..{u['version_max'] or '-'}: "
                 + ("removes" if u["removes"] else "only detects") + f" the products found (into "
                 f"{u['action_property']})" + (f"; {', '.join(u['attributes'])}" if u["attributes"] else "")
                 + _at(u, top) for u in up["rows"]]
                + [f"RemoveExistingProducts scheduled in {x['table']} #{x.get('sequence')}" + _at(x, top)
                   for x in up["remove_existing_products"]]))
    out.append((f"Registry under sensitive keys ({len(r['registry'])})",
                [f"{g['root']}\\{g['key']} {g['name'] or '(default)'} = {g['value']!r}{_op(g)} "
                 f"({', '.join(g['why'])})" + _at(g, top) for g in r["registry"]]))
    out.append((f"Files into system folders ({len(r['system_files'])})",
                [f"{f.get('path') or f['name']}{_op(f)} ({f['system_folder']})" + _at(f, top)
                 for f in r["system_files"]]))
    out.append((f"Shortcuts ({len(r.get('shortcuts', []))})",
                [f"{x['path']}{_op(x)} -> {x['target']}" + (f" {x['arguments']}" if x.get("arguments") else "")
                 + _at(x, top) for x in r.get("shortcuts", [])]))
    out.append((f"INI files ({len(r.get('ini_files', []))})",
                [f"{x['file']} [{x['section']}] {x['key']} = {x['value']!r}{_op(x)} ({x['action']})" + _at(x, top)
                 for x in r.get("ini_files", [])]))
    out.append((f"Permissions ({len(r.get('permissions', []))})",
                [f"{x['object_table']} {x['object']}{_op(x)}: "
                 + (f"SDDL {x['sddl']}" if x.get("sddl") else f"{x.get('domain') or ''}\\{x.get('user')} "
                                                               f"{x.get('permission')}") + _at(x, top)
                 for x in r.get("permissions", [])]))
    out.append((f"Security-relevant properties ({len(r.get('properties', []))})",
                [f"{x['property']} = {x['value']!r}{_op(x)} ({x['meaning']})" + _at(x, top)
                 for x in r.get("properties", [])]))
    out.append((f"Binary streams ({len(r.get('binaries', []))})",
                [f"{b['stream']}: " + ("missing" if b.get("missing") else f"{b['kind']}, {b['size']} bytes, sha256 "
                                                                          f"{b['sha256']}")
                 + (f"; used by {', '.join(b['used_by'])}" if b["used_by"] else "; used by no custom action")
                 + (f"; dump: {b['dump']}" if b.get("dump") else "") + _at(b, top)
                 for b in r.get("binaries", [])]))
    if r.get("skipped"):
        out.append((f"Not opened ({len(r['skipped'])})", [f"{x['where']}: {x['reason']}" for x in r["skipped"]]))
    return out


def review_lines(r: dict, md: bool = False) -> list[str]:
    h = (lambda t: f"\n## {t}\n") if md else (lambda t: f"\n{t}:")
    bullet = "- " if md else "  - "
    out = [f"# Security review: {r['path']}" if md else f"Security review of {r['path']} ({r['kind']})",
           "" if md else f"Scope: {r['scope']}"]
    if md:
        out = [out[0], "", f"Scope: {r['scope']}", ""]
    out += [(f"**{line}**" if md and n == 0 else line) for n, line in enumerate(summary_lines(r))]
    for title, items in _sections(r):
        out.append(h(title))
        out += [f"{bullet}{item}" for item in items] or ([] if md else ["    (none)"])
    return out


def review_html(r: dict) -> str:
    """A self-contained HTML page of the review: a banner with the summary, then each section."""
    from msitools.render.html import banner, bullet_list, esc, page

    name = str(r["path"]).replace("\\", "/").rsplit("/", 1)[-1]
    summary = summary_lines(r)
    attention = bool((r.get("summary") or {}).get("attention"))
    head = banner(not attention, f"Security review of {name} ({r['kind']})", summary[0], [f"Scope: {r['scope']}"]
                  + summary[1:])
    body = [head] + [f"<section><h2>{esc(title)}</h2>{bullet_list(items)}</section>" for title, items in _sections(r)]
    return page(f"Security review: {name}", "\n".join(body))


def review_text(r: dict) -> str:
    return "\n".join(review_lines(r))


def review_markdown(r: dict) -> str:
    return "\n".join(review_lines(r, md=True)) + "\n"


REVIEW_RENDERERS: dict[str, Callable[[Any], str]] = {"text": review_text, "markdown": review_markdown,
                                                     "html": review_html}
SIGNATURE_RENDERERS: dict[str, Callable[[Any], str]] = {"text": signature_text}
