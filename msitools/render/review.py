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


def review_lines(r: dict, md: bool = False) -> list[str]:
    h = (lambda t: f"## {t}") if md else (lambda t: f"\n{t}:")
    bullet = "- " if md else "  - "
    out = [f"# Security review: {r['path']}" if md else f"Security review of {r['path']} ({r['kind']})",
           f"Scope: {r['scope']}"]
    out.append(h("Package signatures"))
    for sig in r["signatures"]:
        out.append(f"{bullet}{sig['package']}: {_sig_line(sig)}")
    out.append(h(f"Payload executables ({len(r['payload_signatures'])})"))
    for p in r["payload_signatures"]:
        out.append(f"{bullet}{p['file']}: {p['status']}" + (f" — {p.get('signer')}" if p.get("signer") else "")
                   + (f" ({p['reason']})" if p.get("reason") and p["status"] != "signed_valid" else ""))
    out.append(h(f"Custom actions ({len(r['custom_actions'])})"))
    for ca in r["custom_actions"]:
        where = "; ".join(f"{s['table']}" + (f" #{s['sequence']}" if s.get("sequence") is not None else "")
                          + (f" if {s['condition']}" if s.get("condition") else "")
                          for s in ca["scheduled"]) or "not scheduled"
        line = (f"{bullet}{ca['action']}{_op(ca)}: {ca['description']} ({ca['type_hex']}, {ca['execution']}); "
                f"source={ca['source']!r} target={ca['target']!r}; {where}")
        if ca.get("embedded"):
            e = ca["embedded"]
            line += (f"; {e['stream']} missing" if e.get("missing") else
                     f"; {e['stream']} {e['size']} bytes sha256 {e['sha256']}"
                     + (f" ({e['signature']['status']})" if e.get("signature") else ""))
        if ca.get("script_sha256"):
            line += f"; inline script sha256 {ca['script_sha256']}"
        out.append(line)
    svc = r["services"]
    out.append(h(f"Services installed ({len(svc['installed'])}) and controlled ({len(svc['controlled'])})"))
    for s in svc["installed"]:
        out.append(f"{bullet}installs {s['service']}{_op(s)} ({s['display_name']}), start {s['start']}, "
                   f"account {s['account'] or 'LocalSystem'}")
    for s in svc["controlled"]:
        out.append(f"{bullet}controls {s['service']}{_op(s)}: {', '.join(s['events']) or 'no events'}")
    out.append(h(f"Registry under sensitive keys ({len(r['registry'])})"))
    for reg in r["registry"]:
        out.append(f"{bullet}{reg['root']}\\{reg['key']} {reg['name'] or '(default)'} = {reg['value']!r}{_op(reg)} "
                   f"({', '.join(reg['why'])})")
    out.append(h(f"Files into system folders ({len(r['system_files'])})"))
    for f in r["system_files"]:
        out.append(f"{bullet}{f['name']}{_op(f)} -> {f['system_folder']} ({f['directory']})")
    return out


def review_html(r: dict) -> str:
    """A self-contained HTML page of the review: a banner with what needs attention, then each section."""
    from msitools.render.html import banner, bullet_list, esc, page

    md = review_lines(r, md=True)
    sections: list[tuple[str, list[str]]] = []
    for line in md[2:]:
        if line.startswith("## "):
            sections.append((line[3:], []))
        elif sections and line.startswith("- "):
            sections[-1][1].append(line[2:])
    attention = _attention(r)
    name = str(r["path"]).replace("\\", "/").rsplit("/", 1)[-1]
    head = banner(not attention, f"Security review of {name} ({r['kind']})",
                  "Needs attention" if attention else "Nothing that needs attention",
                  [f"Scope: {r['scope']}"] + attention)
    body = [head] + [f"<section><h2>{esc(title)}</h2>{bullet_list(items)}</section>" for title, items in sections]
    return page(f"Security review: {name}", "\n".join(body))


def _attention(r: dict) -> list[str]:
    """What a reviewer must look at: altered or unsigned signatures, custom actions, services, system files."""
    out = []
    bad = [p for p in r["payload_signatures"] if p.get("status") not in ("signed_valid", "catalog_signed")]
    if bad:
        out.append(f"{len(bad)} payload executable(s) not signed by a trusted signer")
    altered = [s for s in r["signatures"] if s.get("status") in ("signed_altered", "catalog_altered")]
    if altered:
        out.append(f"{len(altered)} package(s) altered after signing")
    unsigned = [s for s in r["signatures"] if s.get("status") not in ("signed_valid", "signed_altered",
                                                                      "catalog_altered")]
    if unsigned:
        out.append(f"{len(unsigned)} package(s) not signed by a trusted signer")
    for key, label in (("custom_actions", "custom action(s)"), ("registry", "registry value(s) under sensitive keys"),
                       ("system_files", "file(s) into system folders")):
        if r[key]:
            out.append(f"{len(r[key])} {label}")
    services = len(r["services"]["installed"]) + len(r["services"]["controlled"])
    if services:
        out.append(f"{services} service(s) installed or controlled")
    return out


def review_text(r: dict) -> str:
    return "\n".join(review_lines(r))


def review_markdown(r: dict) -> str:
    return "\n".join(review_lines(r, md=True)) + "\n"


REVIEW_RENDERERS: dict[str, Callable[[Any], str]] = {"text": review_text, "markdown": review_markdown,
                                                     "html": review_html}
SIGNATURE_RENDERERS: dict[str, Callable[[Any], str]] = {"text": signature_text}
