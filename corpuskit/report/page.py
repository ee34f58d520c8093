"""The HTML page: sections of tables and charts, styles, and the inlined chart library."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any

from corpuskit.report.bundle import vega_bundle


@dataclass
class Section:
    """A part of the report: its anchor, title, HTML body and the charts its body places."""

    id: str
    title: str
    body: str
    charts: dict[str, dict[str, Any]] = field(default_factory=dict)


class Charts:
    """Hands out chart ids and keeps the specs of one section."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.specs: dict[str, dict[str, Any]] = {}

    def place(self, spec: dict[str, Any]) -> str:
        """A placeholder `div` for `spec`, rendered when the page loads."""
        cid = f"{self.prefix}-{len(self.specs)}"
        self.specs[cid] = spec
        return f'<div class="chart" id="{cid}"></div>'


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def table(header: list[str], rows: list[list[Any]], numeric: set[int] | None = None) -> str:
    """An HTML table; cells are escaped unless given as `Raw`."""
    numeric = numeric or set()
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for i, v in enumerate(row):
            cls = ' class="num"' if i in numeric else ""
            if isinstance(v, int) and not isinstance(v, bool):
                v = f"{v:,}"
            cells.append(f"<td{cls}>{v if isinstance(v, Raw) else esc(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


class Raw(str):
    """HTML that `table` inserts as it is (already escaped by whoever built it)."""


STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222}
header{background:#30638e;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:20px} header p{margin:4px 0 0;opacity:.9}
nav{position:sticky;top:0;background:#f4f6f8;border-bottom:1px solid #ddd;padding:6px 24px;
 z-index:2} nav a{margin-right:14px;color:#30638e;text-decoration:none;font-size:13px}
main{padding:8px 24px 40px;max-width:1280px}
section{margin-top:22px} h2{border-bottom:2px solid #30638e;padding-bottom:4px}
h3{margin:18px 0 6px;font-size:15px}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 8px;vertical-align:top;text-align:left}
th{background:#f4f6f8} td.num{text-align:right;font-variant-numeric:tabular-nums}
.grid{display:flex;flex-wrap:wrap;gap:18px}
.chart{min-height:60px;flex:0 0 auto}
.doc{white-space:pre-wrap;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;background:#fafafa;
 border:1px solid #e4e4e4;padding:6px;max-height:14em;overflow:auto;margin:0;max-width:900px}
del{background:#f8c9cf;text-decoration:line-through;color:#7a1020}
ins{background:#c9f0c2;text-decoration:none}
.note{color:#666;font-size:13px} .warn{color:#a4161a}
details{margin:4px 0} summary{cursor:pointer}
pre.recipe{background:#f4f6f8;padding:8px;overflow:auto;max-width:900px}
"""

SCRIPT = """
const specs = JSON.parse(document.getElementById('specs').textContent);
for (const [id, spec] of Object.entries(specs)) {
  vegaEmbed('#' + id, spec, {actions: false, renderer: 'svg'})
    .catch(err => {
      console.error(id, err);
      document.getElementById(id).textContent = String(err);
    });
}
"""


def render(title: str, subtitle: str, sections: list[Section]) -> str:
    """The whole report as one HTML document with nothing to fetch."""
    specs: dict[str, dict[str, Any]] = {}
    for s in sections:
        specs.update(s.charts)
    nav = "".join(f'<a href="#{s.id}">{esc(s.title)}</a>' for s in sections)
    body = "".join(
        f'<section id="{s.id}"><h2>{esc(s.title)}</h2>{s.body}</section>' for s in sections
    )
    data = json.dumps(specs, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></header>"
        f"<nav>{nav}</nav><main>{body}</main>"
        f'<script type="application/json" id="specs">{data}</script>'
        f"<script>{_inline(vega_bundle())}</script><script>{SCRIPT}</script></body></html>"
    )


def _inline(script: str) -> str:
    """A script made safe inside <script>: no `</script` can close the element early."""
    return script.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")
