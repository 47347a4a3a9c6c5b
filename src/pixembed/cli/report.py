"""One self-contained HTML page for a dedup or cluster run: contact sheets and a 2-D map, nothing external.

Thumbnails are inline base64 JPEGs and the map is inline SVG, so the file opens offline and can be mailed.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from typing import Any

from PIL import Image

THUMB = 128
PALETTE = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
    "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354",
]  # fmt: skip
STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222}
.sheet{border:1px solid #ddd;border-radius:6px;padding:10px;margin:12px 0}
.tiles{display:flex;flex-wrap:wrap;gap:8px}
figure{margin:0;width:136px;font-size:11px;text-align:center}
figure img{max-width:128px;max-height:128px;border:3px solid transparent}
figure.keep img{border-color:#2ca02c} figure.drop img{border-color:#d62728;opacity:.75}
figure.borderline img{border-color:#e6a700}
.mark{font-weight:bold} .keep .mark{color:#2ca02c} .drop .mark{color:#d62728} .borderline .mark{color:#b07d00}
.rule{font-size:13px;color:#555}
figcaption{word-break:break-all} table{border-collapse:collapse} td,th{padding:2px 8px;text-align:left}
"""


def thumbnail_uri(image: Image.Image) -> str:
    """A small JPEG of ``image`` as a data URI."""
    thumb = image.convert("RGB")
    thumb.thumbnail((THUMB, THUMB), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    thumb.save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def _tile(uri: str, caption: str, css: str = "", mark: str = "") -> str:
    mark_html = f'<div class="mark">{html.escape(mark)}</div>' if mark else ""
    return (
        f'<figure class="{css}"><img src="{uri}" alt="">{mark_html}'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def map_svg(
    points: Sequence[tuple[float, float]], colours: Sequence[int | None], titles: Sequence[str]
) -> str:
    """An inline SVG scatter plot; points coloured by cluster (grey for none)."""
    if not points:
        return ""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    span_x, span_y = (max(xs) - min(xs)) or 1.0, (max(ys) - min(ys)) or 1.0
    size, pad = 560, 20
    dots = []
    for (x, y), colour, title in zip(points, colours, titles, strict=True):
        cx = pad + (x - min(xs)) / span_x * (size - 2 * pad)
        cy = pad + (max(ys) - y) / span_y * (size - 2 * pad)
        fill = "#bbbbbb" if colour is None else PALETTE[colour % len(PALETTE)]
        dots.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="{fill}" stroke="#333" stroke-width=".5">'
            f"<title>{html.escape(title)}</title></circle>"
        )
    return f'<svg width="{size}" height="{size}" style="border:1px solid #ddd">{"".join(dots)}</svg>'


def _page(title: str, summary: str, body: str) -> str:
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1><p>{summary}</p>{body}</body></html>"
    )


def _evidence(copy: dict[str, Any]) -> str:
    parts = []
    if copy["distance"] is not None:
        parts.append(f"{copy['distance']} bits")
    if copy["similarity"] is not None:
        parts.append(f"cos {copy['similarity']:.3f}")
    return ", ".join(parts)


def dedup_report(result: dict[str, Any], thumbs: dict[str, str]) -> str:
    """Contact sheets of duplicate groups: keeper in green, safe drops in red, borderline copies in amber,
    each copy with its distance to the keeper; the grouping and safety rules stated at the top."""
    names = {item["id"]: item["name"] or item["id"] for item in result["items"]}
    sheets = []
    for number, group in enumerate(result["groups"], start=1):
        tiles = [_tile(thumbs[group["keep"]], names[group["keep"]], "keep", "KEEP")]
        rows = []
        for copy in group["copies"]:
            css, mark = ("drop", "DROP") if copy["safe"] else ("borderline", "BORDERLINE")
            tiles.append(_tile(thumbs[copy["id"]], names[copy["id"]], css, f"{mark} · {_evidence(copy)}"))
            rows.append(
                f"<tr><td>{html.escape(names[copy['id']])}</td>"
                f"<td>{'' if copy['distance'] is None else copy['distance']}</td>"
                f"<td>{'' if copy['similarity'] is None else format(copy['similarity'], '.4f')}</td>"
                f"<td>{html.escape(copy['reason'])}</td></tr>"
            )
        table = (
            f"<table><tr><th>copy of {html.escape(names[group['keep']])}</th><th>Hamming bits</th>"
            f"<th>cosine</th><th>why</th></tr>{''.join(rows)}</table>"
        )
        sheets.append(
            f'<div class="sheet"><h3>Group {number} ({len(group["members"])} images)</h3>'
            f'<div class="tiles">{"".join(tiles)}</div>{table}</div>'
        )
    thresholds = ", ".join(
        f"{label} {result[key]}"
        for label, key in (("hash threshold", "hash_threshold"), ("cosine threshold", "similarity_threshold"))
        if result[key] is not None
    )
    summary = (
        f"method <b>{html.escape(result['method'])}</b> ({html.escape(thresholds)}), {len(result['items'])} "
        f"images, {len(result['groups'])} duplicate groups, {len(result['drop'])} to drop, "
        f"{len(result['borderline'])} borderline (not dropped)</p>"
        f'<p class="rule">Groups: {html.escape(result["group_rule"])}.</p>'
        f'<p class="rule">Drops: {html.escape(result["safe_rule"])}.'
    )
    return _page("pixembed dedup", summary, "".join(sheets) or "<p>No duplicates found.</p>")


def cluster_report(result: dict[str, Any], thumbs: dict[str, str]) -> str:
    """Contact sheets per cluster (medoid first) with cohesion and labels, and the 2-D map."""
    items = {item["id"]: item for item in result["items"]}
    sheets = []
    for cluster in result["clusters"]:
        order = [cluster["medoid"]] + [m for m in cluster["members"] if m != cluster["medoid"]]
        tiles = [
            _tile(thumbs[m], items[m]["name"] or m, "keep" if m == cluster["medoid"] else "",
                  "medoid" if m == cluster["medoid"] else "")
            for m in order
        ]  # fmt: skip
        label = ""
        if cluster["label"] is not None:
            label = f" — {html.escape(cluster['label'])} (confidence {cluster['label_confidence']:.2f})"
        colour = PALETTE[cluster["id"] % len(PALETTE)]
        sheets.append(
            f'<div class="sheet" style="border-left:8px solid {colour}">'
            f"<h3>Cluster {cluster['id']}{label}</h3>"
            f"<p>{len(cluster['members'])} images, cohesion {cluster['cohesion']:.3f}</p>"
            f'<div class="tiles">{"".join(tiles)}</div></div>'
        )
    if result["noise"]:
        tiles = [_tile(thumbs[m], items[m]["name"] or m) for m in result["noise"]]
        sheets.append(f'<div class="sheet"><h3>Noise</h3><div class="tiles">{"".join(tiles)}</div></div>')
    points = [(item["x"], item["y"]) for item in result["items"]]
    svg = map_svg(
        points, [i["cluster"] for i in result["items"]], [i["name"] or i["id"] for i in result["items"]]
    )
    summary = (
        f"method <b>{html.escape(result['method'])}</b>, {len(result['items'])} images, k = {result['k']}, "
        f"{len(result['noise'])} noise; a name whose probability is below {result['label_threshold']:.2f} "
        'reads "unknown" (its confidence is shown beside every name)'
    )
    return _page("pixembed clusters", summary, f"<h2>Map (PCA)</h2>{svg}<h2>Clusters</h2>{''.join(sheets)}")
