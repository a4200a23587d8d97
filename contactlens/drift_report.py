"""The drift report as one self-contained HTML page for analysts: verdict, reasons, charts and examples.

Charts are matplotlib figures (built without pyplot, so safe in a server) embedded as base64 PNGs; every text
that comes from contacts is HTML-escaped. The page needs no network and no other file.
"""

from __future__ import annotations

import base64
import io
from html import escape
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#222;line-height:1.45;padding:0 1rem}
h1{margin-bottom:.2rem} h2{border-bottom:2px solid #ddd;padding-bottom:.2rem;margin-top:2.2rem}
.meta{color:#666} .verdict{padding:1rem 1.2rem;border-radius:6px;margin:1rem 0;font-size:1.1rem}
.yes{background:#fdecea;border-left:6px solid #c62828} .no{background:#e8f5e9;border-left:6px solid #2e7d32}
table{border-collapse:collapse;margin:.6rem 0;width:100%} th,td{border:1px solid #ddd;padding:.35rem .5rem;
text-align:left;vertical-align:top;font-size:.92rem} th{background:#f5f5f5}
.card{border:1px solid #ddd;border-radius:6px;padding:.8rem 1rem;margin:1rem 0}
.kw{display:inline-block;background:#e3f2fd;border-radius:3px;padding:0 .4rem;margin:.1rem;font-size:.88rem}
blockquote{margin:.3rem 0;padding:.3rem .7rem;border-left:3px solid #bbb;background:#fafafa;
white-space:pre-wrap}
img{max-width:100%} .small{font-size:.85rem;color:#555} .num{text-align:right}
"""


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="chart" src="data:image/png;base64,{data}">'


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def mix_over_time_chart(mix: dict[str, Any]) -> str:
    """Groups' shares per month (stacked, summing to 100%) and the commonest descriptions' shares as lines."""
    months = mix["months"]
    fig = Figure(figsize=(11, 4.4))
    ax1, ax2 = fig.subplots(1, 2)
    x = np.arange(len(months))
    groups = mix["groups"]
    ax1.stackplot(
        x, [groups[g] for g in groups], labels=[mix["group_names"].get(g, g)[:30] for g in groups], alpha=0.85
    )
    ax1.set_title("Groups by month (share of suggestions)")
    ax1.set_ylim(0, 1)
    names = mix["description_names"]
    for key, values in mix["descriptions"].items():
        if key != "other":
            ax2.plot(x, values, marker="o", markersize=3, label=names.get(key, key)[:40])
    ax2.set_title("Commonest descriptions by month (share)")
    labels = [f"{m}\nn={n}" for m, n in zip(months, mix["contacts"], strict=True)]
    for ax in (ax1, ax2):
        ax.set_xticks(x, labels, rotation=90 if len(months) > 8 else 0, fontsize=7)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.25), ncol=2, frameon=False)
    fig.tight_layout()
    return _png(fig)


def share_change_chart(rows: list[dict[str, Any]], top: int = 15) -> str:
    """Window against training share for the descriptions that changed most."""
    rows = sorted(rows, key=lambda r: -abs(r["window_share"] - r["reference_share"]))[:top][::-1]
    fig = Figure(figsize=(9, 0.35 * len(rows) + 1.2))
    ax = fig.subplots()
    y = np.arange(len(rows))
    ax.barh(y - 0.2, [r["reference_share"] for r in rows], 0.4, label="training", color="#90a4ae")
    colours = ["#c62828" if r["significant"] else "#1e88e5" for r in rows]
    ax.barh(y + 0.2, [r["window_share"] for r in rows], 0.4, label="this window", color=colours)
    ax.set_yticks(y, [r["name"][:45] for r in rows], fontsize=8)
    ax.set_xlabel("share of suggestions (red: a significant change)")
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return _png(fig)


def clusters_chart(clusters: list[dict[str, Any]]) -> str:
    rows = clusters[:12][::-1]
    fig = Figure(figsize=(8, 0.4 * len(rows) + 1))
    ax = fig.subplots()
    ax.barh(np.arange(len(rows)), [c["size"] for c in rows], color="#8e24aa")
    ax.set_yticks(np.arange(len(rows)), [c["proposed_name"][:50] for c in rows], fontsize=8)
    ax.set_xlabel("contacts that fit no description")
    fig.tight_layout()
    return _png(fig)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cluster_card(c: dict[str, Any]) -> str:
    kws = "".join(f'<span class="kw">{escape(k)}</span>' for k in c["keywords"])
    quotes = "".join(f"<blockquote>{escape(t)}</blockquote>" for t in c["examples"])
    near, filed = c["nearest_description"], c["filed_as"]
    return (
        f'<div class="card"><h3>{escape(c["proposed_name"])} <span class="small">(proposed id '
        f"<code>{escape(c['proposed_id'])}</code>)</span></h3>"
        f"<p>{c['size']} contacts, {_pct(c['share'])} of the window. Keywords: {kws}</p>"
        f"<p>Nearest existing description: <b>{escape(near['name'])}</b> (cosine distance "
        f"{near['distance']:.2f}). The model now files {_pct(filed['share'])} of them as "
        f"<b>{escape(filed['name'])}</b>.</p><p>Examples (redacted, closest to the cluster's centre):</p>"
        f"{quotes}</div>"
    )


def _checks_table(report: dict[str, Any]) -> str:
    inp, mix, conf, nov = (
        report["input_drift"],
        report["mix_drift"],
        report["confidence_drift"],
        report["novelty"],
    )
    dc, mmd = inp["domain_classifier"], inp["mmd"]
    distance_p = (nov.get("distance_test") or {}).get("p_value", 1.0)

    def yes(flag: bool) -> str:
        return "yes" if flag else "no"

    rows = [
        [
            "Input drift",
            yes(inp["detected"]),
            f"domain classifier AUC {dc['auc']:.3f} (alarm above {dc['auc_threshold']:.3f}, permutation p "
            f"{dc['p_value']:.3f}); MMD² {mmd['mmd2']:.5f}, p {mmd['p_value']:.3f}",
        ],
        [
            "Mix drift",
            yes(mix["detected"]),
            f"Jensen-Shannon distance {mix['js_distance']:.3f} (without drift "
            f"95% below {mix['js_distance_no_drift_p95']:.3f}); "
            f"chi-square p {mix['chi_square']['p_value']:.2g}",
        ],
        [
            "Confidence drift",
            yes(conf["detected"]),
            f"{_pct(conf['window_review_rate'])} need review, "
            f"{_pct(conf['reference_review_rate'])} in training (p {conf['p_value']:.2g})",
        ],
        [
            "Fits no description",
            yes(nov["detected"]),
            f"{nov['n_novel']} contacts, {_pct(nov['share'])}; {_pct(nov['reference_share'])} expected "
            f"(p {nov['p_value']:.2g}); distance test p {distance_p:.2g}; "
            f"found by: {', '.join(nov['detected_by']) or 'nothing'}",
        ],
    ]
    return _table(["Check", "Drift?", "Evidence"], rows)


def _sections(report: dict[str, Any]) -> list[str]:
    out = []
    mix = report.get("mix_by_month")
    out.append("<h2>Mix of descriptions</h2>")
    if mix and len(mix["months"]) > 1:
        out.append(mix_over_time_chart(mix))
    elif mix:
        out.append(f"<p class='small'>All contacts fall in {escape(mix['months'][0])}: no trend to draw.</p>")
    else:
        out.append("<p class='small'>The window has no dates (received_at), so no mix over time.</p>")
    out.append(share_change_chart(report["mix_drift"]["descriptions"]))
    clusters = report["novel_clusters"]
    out.append("<h2>New kinds of contact</h2>")
    nov = report["novelty"]
    out.append(
        f"<p>{nov['n_novel']} contacts ({_pct(nov['share'])}) fit no description: low confidence and far "
        f"from every description; {_pct(nov['reference_share'])} of training contacts look like that.</p>"
    )
    if nov.get("examples"):
        quotes = "".join(f"<blockquote>{escape(t)}</blockquote>" for t in nov["examples"])
        out.append(f"<p>Those that fit worst (redacted):</p>{quotes}")
    if clusters:
        out.append("<p>Groups of similar ones, each a candidate for a new description:</p>")
        out.append(clusters_chart(clusters))
        out.extend(_cluster_card(c) for c in clusters)
    else:
        out.append(
            "<p>No group of contacts that fit no description reached the minimum size "
            f"({report['novelty'].get('min_cluster_size', '?')}).</p>"
        )
    out.append("<h2>Descriptions falling out of use</h2>")
    unused = [
        [u["name"], u["id"], u["count"], u["expected"], _pct(u["reference_share"])]
        for u in report["unused_descriptions"]
    ]
    out.append(
        _table(["Description", "id", "Contacts", "Expected", "Training share"], unused)
        if unused
        else "<p>None.</p>"
    )
    out.append("<h2>Confused descriptions (merge candidates)</h2>")
    pairs = [
        [
            p["a_name"],
            p["b_name"],
            _pct(p.get("model_confusion_rate")),
            p.get("review_corrections", 0),
            "yes" if p["merge_candidate"] else "no",
        ]
        for p in report["confused_pairs"]
    ]
    headers = ["Description A", "Description B", "Model confusion", "Reviewer corrections", "Merge candidate"]
    out.append(_table(headers, pairs) if pairs else "<p>None.</p>")
    out.append("<h2>Split candidates</h2>")
    if not report["split_candidates"]:
        out.append("<p>None.</p>")
    for s in report["split_candidates"]:
        parts = "".join(
            f"<p>Part of {p['size']}: "
            + "".join(f'<span class="kw">{escape(k)}</span>' for k in p["keywords"])
            + "</p>"
            + "".join(f"<blockquote>{escape(t)}</blockquote>" for t in p["examples"])
            for p in s["parts"]
        )
        out.append(
            f'<div class="card"><h3>{escape(s["name"])}</h3><p>{s["n"]} contacts, silhouette '
            f"{s['silhouette']:.2f} (training {s['reference_silhouette']:.2f})</p>{parts}</div>"
        )
    return out


def render_html(report: dict[str, Any], title: str = "ContactLens drift report") -> str:
    """The whole report as one HTML page."""
    w = report.get("window", {})
    period = f"{w['from']} to {w['to']}, " if "from" in w else ""
    verdict = report["revisit_taxonomy"]
    reasons = "".join(f"<li>{escape(r)}</li>" for r in report["reasons"]) or "<li>No check found drift.</li>"
    head = (
        f"<h1>{escape(title)}</h1><p class='meta'>{period}{w.get('n_contacts', '?')} contacts; model "
        f"{escape(str(w.get('model_version', '?')))}, "
        f"taxonomy {escape(str(w.get('taxonomy_version', '?')))}</p>"
        f"<div class='verdict {'yes' if verdict else 'no'}'>"
        f"<b>Revisit the taxonomy: {'yes' if verdict else 'no'}</b><ul>{reasons}</ul></div>"
        f"<h2>Checks</h2>{_checks_table(report)}"
    )
    body = head + "".join(_sections(report))
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_CSS}</style></head><body>{body}</body></html>\n"
    )
