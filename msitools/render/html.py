"""The page every HTML report shares: self-contained, offline, readable on a phone and on paper.

No external resource of any kind (a Content-Security-Policy that forbids them says so to
the browser too), no script.  Tables turn into one card per row below 700 px, so nothing
scrolls sideways on a 420 px screen; long values (paths, hashes) wrap anywhere.
"""
from __future__ import annotations

import html

CSS = """
:root{--ok:#0a6b2a;--ok-bg:#e3f5e8;--bad:#a30d0d;--bad-bg:#fbe4e4;--warn:#7a5200;--warn-bg:#fff3d6;--line:#d6d6d6}
*{box-sizing:border-box}
body{font-family:system-ui,"Segoe UI",Helvetica,Arial,sans-serif;margin:0 auto;padding:1rem;max-width:1400px;
color:#1b1b1b;line-height:1.4;overflow-wrap:break-word}
code{overflow-wrap:anywhere}
h1{font-size:1.25rem;margin:.2rem 0} h2{font-size:1.05rem;margin:1.2rem 0 .4rem}
.banner{padding:.8rem 1rem;border-radius:.4rem;border-left:.5rem solid}
.banner.pass{background:var(--ok-bg);border-color:var(--ok)}
.banner.fail{background:var(--bad-bg);border-color:var(--bad)}
.banner .verdict{font-weight:700;font-size:1.1rem} .banner.pass .verdict{color:var(--ok)}
.banner.fail .verdict{color:var(--bad)} .banner p{margin:.3rem 0}
.findings li{margin:.2rem 0} .muted{color:#5a5a5a;font-size:.85rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid var(--line);padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}
tr.failing{background:var(--bad-bg)} tr.warning{background:var(--warn-bg)}
td.differs{outline:2px solid var(--bad);outline-offset:-2px;font-weight:600}
.badge{display:inline-block;padding:0 .4rem;border-radius:.3rem;font-weight:700;font-size:.8rem;
text-transform:uppercase;white-space:nowrap}
.badge.pass{color:var(--ok);background:var(--ok-bg)} .badge.mismatch,.badge.missing{color:#fff;background:var(--bad)}
.badge.ambiguous,.badge.unverified{color:#fff;background:var(--warn)}
code{font-size:.8rem} details summary{cursor:pointer;color:#34495e} dl{margin:.3rem 0} dt{font-weight:600}
dd{margin:0 0 .3rem 0}
@media (max-width:700px){
 table,thead,tbody,tr,th,td{display:block;width:100%}
 thead{position:absolute;left:-10000px;top:auto;width:1px;height:1px;overflow:hidden}
 tr{border:1px solid var(--line);border-radius:.4rem;margin:0 0 .6rem;padding:.3rem .4rem}
 td{border:0;padding:.15rem .2rem;display:flex;gap:.5rem}
 td::before{content:attr(data-label);flex:0 0 5.5rem;color:#5a5a5a;font-weight:600}
 td>.v{flex:1 1 auto;min-width:0}
 td.wide{display:block} td.wide::before{display:block}
}
@media print{
 body{max-width:none;padding:0} .banner,tr.failing,tr.warning,.badge{-webkit-print-color-adjust:exact;
 print-color-adjust:exact} details{display:block} details>summary{display:none}
 tr{break-inside:avoid}
}
"""

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value))


def page(title: str, body: str) -> str:
    """A complete HTML document around *body* (already escaped HTML)."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            f"<title>{esc(title)}</title>\n<style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n")


def banner(passed: bool, heading: str, verdict: str, lines: list[str]) -> str:
    """The verdict banner: a heading naming what was checked, the verdict, its reasons."""
    state = "pass" if passed else "fail"
    more = "".join(f"<p>{esc(line)}</p>" for line in lines)
    return (f'<header class="banner {state}" id="verdict"><h1>{esc(heading)}</h1>'
            f'<p class="verdict">{esc(verdict)}</p>{more}</header>')


def bullet_list(items: list[str], css: str = "") -> str:
    if not items:
        return "<p class='muted'>None.</p>"
    return f"<ul class='{css}'>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>"
