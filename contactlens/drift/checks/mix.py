"""Mix drift: each description's and group's share of the suggestions against its share in training."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from contactlens.drift import stats as ds
from contactlens.drift.base import Check, DriftConfig, Row, Window, _r, p_text, pct, png, reference_shares
from contactlens.drift.result import DriftReport


class MixDrift(Check):
    keys = ("mix_drift",)
    section = "mix.html"

    def compute(self, w: Window, cfg: DriftConfig, corrections: list[tuple[str, str]]) -> dict[str, Any]:
        return {"mix_drift": mix_drift(w, cfg)}

    def reasons(self, report: DriftReport) -> list[str]:
        out = []
        mix = report.section("mix_drift")
        increase = mix.get("increase_test") or {}
        significant = any(r["significant"] for r in mix["descriptions"] + mix["groups"])
        if increase.get("detected") and not significant:
            rows = {r["id"]: r for r in mix["descriptions"]}
            grown = "; ".join(
                f"'{rows[i]['name']}' {rows[i]['count']} contacts where "
                f"{rows[i]['expected']:.0f} were expected"
                for i in increase["grown"][:3]
            )
            out.append(
                f"The mix of descriptions has changed: several grew together (one-sided test over all "
                f"{len(mix['descriptions'])} descriptions, {p_text(increase['p_value'])}), "
                f"most clearly {grown}"
            )
        for r in mix["descriptions"] + mix["groups"]:
            if (
                r["significant"] and r["count"] > 0.2 * r["expected"]
            ):  # near-zero shares are reported as unused
                change = f"{r['ratio']:.1f} times" if r["ratio"] and r["ratio"] >= 1 else "a fraction of"
                was = pct(r["reference_share"])
                out.append(
                    f"'{r['name']}' now takes {pct(r['window_share'])} of contacts against {was} in training "
                    f"({change} its share; {p_text(r['p_adjusted'])}, "
                    "corrected for the number of descriptions)"
                )
        return out

    def evidence(self, report: DriftReport) -> Row:
        mix = report.section("mix_drift")
        return Row(
            "Mix drift",
            mix["detected"],
            f"Jensen-Shannon distance {mix['js_distance']:.3f} (without drift "
            f"95% below {mix['js_distance_no_drift_p95']:.3f}); "
            f"chi-square p {mix['chi_square']['p_value']:.2g}",
        )

    def charts(self, report: DriftReport) -> dict[str, str]:
        out = {"share_change": share_change_chart(report.section("mix_drift")["descriptions"])}
        mix = report.mix_by_month
        if mix and len(mix["months"]) > 1:
            out["over_time"] = mix_over_time_chart(mix)
        return out


def _share_rows(
    counts: np.ndarray, shares: np.ndarray, n: int, ids: list[str], names: list[str], cfg: DriftConfig
) -> list[dict[str, Any]]:
    p = ds.binomial_pvalues(counts, n, shares)
    adjusted = ds.benjamini_hochberg(p)
    rows = []
    for i, key in enumerate(ids):
        window_share = counts[i] / n
        ratio = window_share / shares[i] if shares[i] > 0 else math.inf
        material = ratio >= cfg.min_ratio or ratio <= 1 / cfg.min_ratio
        rows.append(
            {
                "id": key,
                "name": names[i],
                "count": int(counts[i]),
                "expected": _r(shares[i] * n, 1),
                "reference_share": _r(shares[i]),
                "window_share": _r(window_share),
                "ratio": _r(ratio, 3) if math.isfinite(ratio) else None,
                "p_value": float(p[i]),
                "p_adjusted": float(adjusted[i]),
                "significant": bool(adjusted[i] < cfg.alpha and material),
            }
        )
    rows.sort(key=lambda r: (r["p_value"], r["id"]))
    return rows


def mix_drift(w: Window, cfg: DriftConfig) -> dict[str, Any]:
    """Each description's and group's share of the suggestions against its share in the training data.

    Two ways to find a changed mix, each at level `alpha`: per description and group, a binomial test
    (Benjamini-Hochberg over the descriptions) with a change of at least `min_ratio`; and over all
    descriptions at once, a one-sided test of growing shares (`increase_test`), which catches several
    moderate increases that no single corrected test can, provided one of the grown descriptions changed by
    `min_ratio` with an uncorrected p below `alpha`.
    """
    shares = reference_shares(w.reference)
    counts = np.bincount(w.predicted, minlength=len(w.classes))
    desc_rows = _share_rows(counts, shares, w.n, w.classes, [w.name(c) for c in w.classes], cfg)
    group_of = [w.taxonomy.group_of(c).id if c in w.taxonomy.descriptions else "?" for c in w.classes]
    groups = sorted(set(group_of))
    g_idx = np.array([groups.index(g) for g in group_of])
    g_counts = np.bincount(g_idx, weights=counts, minlength=len(groups))
    g_shares = np.bincount(g_idx, weights=shares, minlength=len(groups))
    g_names = {g.id: g.name for g in w.taxonomy.groups}
    group_rows = _share_rows(g_counts, g_shares, w.n, groups, [g_names.get(g, g) for g in groups], cfg)
    rng = np.random.default_rng(cfg.seed)
    null = [ds.js_distance(rng.multinomial(w.n, shares / shares.sum()), shares) for _ in range(200)]
    increase = ds.increase_test(counts, shares, cfg.mix_simulations, cfg.seed)
    # The global test needs something to show: the descriptions that grew materially and clearly.
    grown = [
        r
        for r in desc_rows
        if r["count"] > r["expected"]
        and r["p_value"] < cfg.alpha
        and (r["ratio"] is None or r["ratio"] >= cfg.min_ratio)
    ]
    increase["detected"] = bool(increase["p_value"] < cfg.alpha and grown)
    increase["grown"] = [r["id"] for r in sorted(grown, key=lambda r: (r["p_value"], r["id"]))[:5]]
    detected = increase["detected"] or any(r["significant"] for r in desc_rows + group_rows)
    return {
        "detected": bool(detected),
        "increase_test": increase,
        "js_distance": _r(ds.js_distance(counts, shares)),
        "js_distance_no_drift_p95": _r(np.quantile(null, 0.95)),
        "chi_square": ds.chi_square_test(counts, shares),
        "descriptions": desc_rows,
        "groups": group_rows if len(groups) > 1 else [],
    }


def mix_over_time_chart(mix: dict[str, Any]) -> str:
    """Groups' shares per month (stacked, summing to 100%) and the commonest descriptions' shares as lines."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

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
    return png(fig)


def share_change_chart(rows: list[dict[str, Any]], top: int = 15) -> str:
    """Window against training share for the descriptions that changed most."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

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
    return png(fig)
