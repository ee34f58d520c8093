"""The report's charts as Vega-Lite specifications, built with Altair.

Vega-Lite is a grammar of statistical graphics: a histogram with its threshold drawn as a
rule, a stacked bar of fates, a tooltip on every mark are a few declarative lines, and
the page renders them with one inlined bundle of Vega (vl-convert ships it, no network).
Data is inlined into each spec as named datasets (Altair deep-copies inline values at every
step of building a chart; a name costs nothing), already aggregated: a chart never holds one
row per document.
"""

from __future__ import annotations

from typing import Any

import altair as alt

FATE_COLORS = {
    "kept": "#4c9a2a",
    "rejected here": "#d1495b",
    "rejected later": "#edae49",
    "rejected earlier": "#bbbbbb",
    "would pass": "#4c9a2a",
    "would be rejected here": "#d1495b",
    "rejected by another step": "#edae49",
    "rejected": "#d1495b",
    "trimmed": "#7fb7d6",
}


def _spec(chart: alt.TopLevelMixin, **datasets: list[dict[str, Any]]) -> dict[str, Any]:
    """The chart's Vega-Lite spec with its named datasets' rows filled in."""
    spec = chart.to_dict(validate=False)
    spec["datasets"] = {**spec.get("datasets", {}), **datasets}
    return spec


def _fate_scale(domain: list[str]) -> alt.Scale:
    return alt.Scale(domain=domain, range=[FATE_COLORS.get(d, "#888888") for d in domain])


def stacked_bars(
    rows: list[dict[str, Any]],
    category: str,
    value: str,
    stack: str,
    *,
    title: str,
    order: list[str] | None = None,
    stack_order: list[str] | None = None,
    width: int = 520,
) -> dict[str, Any]:
    """Horizontal bars of `value` per `category`, stacked by `stack` (e.g. kept / rejected)."""
    domain = stack_order or sorted({r[stack] for r in rows})
    height = max(60, 18 * len({r[category] for r in rows}))
    chart = (
        alt.Chart(alt.NamedData("rows"), title=title, width=width, height=height)
        .mark_bar()
        .encode(
            y=alt.Y(f"{category}:N", sort=order or "-x", title=None),
            x=alt.X(f"sum({value}):Q", title=value),
            color=alt.Color(f"{stack}:N", scale=_fate_scale(domain), title=None),
            order=alt.Order("stack_rank:Q"),
            tooltip=[f"{category}:N", f"{stack}:N", alt.Tooltip(f"sum({value}):Q", format=",")],
        )
        .transform_calculate(stack_rank=f"indexof({domain!r}, datum['{stack}'])".replace("'", '"'))
    )
    return _spec(chart, rows=rows)


def bars(
    rows: list[dict[str, Any]], category: str, value: str, *, title: str, width: int = 520
) -> dict[str, Any]:
    """Horizontal bars of `value` per `category`, largest first."""
    height = max(60, 18 * len(rows))
    chart = (
        alt.Chart(alt.NamedData("rows"), title=title, width=width, height=height)
        .mark_bar(color="#30638e")
        .encode(
            y=alt.Y(f"{category}:N", sort="-x", title=None),
            x=alt.X(f"{value}:Q", title=value),
            tooltip=[f"{category}:N", alt.Tooltip(f"{value}:Q", format=",")],
        )
    )
    return _spec(chart, rows=rows)


def histogram(
    bins: list[dict[str, Any]],
    thresholds: list[dict[str, Any]],
    cumulative: list[dict[str, Any]],
    *,
    title: str,
    fates: list[str],
    width: int = 360,
) -> dict[str, Any]:
    """Binned counts (`lo`, `hi`, `n`, `fate`) stacked by fate, each threshold a rule, and
    per threshold the share of documents it would drop were it at x (right axis)."""
    x_scale = alt.Scale(zero=False, nice=False)
    base = alt.Chart(alt.NamedData("bins"))
    bars_ = base.mark_bar(binSpacing=0).encode(
        x=alt.X("lo:Q", bin="binned", title=title, scale=x_scale),
        x2="hi:Q",
        y=alt.Y("sum(n):Q", title="documents", stack=True),
        color=alt.Color("fate:N", scale=_fate_scale(fates), title=None),
        tooltip=[
            alt.Tooltip("lo:Q", format=".4g"),
            alt.Tooltip("hi:Q", format=".4g"),
            "fate:N",
            alt.Tooltip("sum(n):Q", format=","),
        ],
    )
    layers: list[alt.Chart] = [bars_]
    if thresholds:
        rule = alt.Chart(alt.NamedData("thresholds")).mark_rule(
            color="black", strokeDash=[4, 3], size=2
        )
        layers.append(
            rule.encode(
                x=alt.X("value:Q", scale=x_scale), tooltip=["rule:N", alt.Tooltip("value:Q")]
            )
        )
    chart = alt.layer(*layers)
    if cumulative:
        line = (
            alt.Chart(alt.NamedData("cumulative"))
            .mark_line(point=False, strokeWidth=1.5, color="#555555", interpolate="step-after")
            .encode(
                x=alt.X("x:Q", scale=x_scale),
                y=alt.Y(
                    "share:Q",
                    title="share dropped if the threshold were at x",
                    axis=alt.Axis(format="%"),
                    scale=alt.Scale(domain=[0, 1]),
                ),
                detail="rule:N",
                tooltip=[
                    "rule:N",
                    alt.Tooltip("x:Q", format=".4g", title="threshold"),
                    alt.Tooltip("share:Q", format=".1%"),
                    alt.Tooltip("docs:Q", format=","),
                ],
            )
        )
        chart = alt.layer(chart, line).resolve_scale(y="independent")
    return _spec(
        chart.properties(width=width, height=150),
        bins=bins,
        thresholds=thresholds,
        cumulative=cumulative,
    )
