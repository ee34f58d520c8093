"""What decided: the `column OP value` comparisons inside a filter's rule expressions.

A filter's rules are Polars expressions such as `pl.col("gopher_words") < 50`. Polars
serializes an expression to a JSON tree; the comparisons of a signal column with a literal
are read from it. They give a rejected row's generic `detail` (`gopher_words=12 < 50`) and
the thresholds the report draws on each signal's histogram, with no step module written
for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import polars as pl

_OPS = {"Lt": "<", "LtEq": "<=", "Gt": ">", "GtEq": ">=", "Eq": "==", "NotEq": "!="}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


@dataclass(frozen=True)
class Comparison:
    """`column op value`: the row is dropped (in part) because this holds."""

    column: str
    op: str
    value: Any

    def expr(self) -> pl.Expr:
        col, lit = pl.col(self.column), pl.lit(self.value)
        return {
            "<": col < lit,
            "<=": col <= lit,
            ">": col > lit,
            ">=": col >= lit,
            "==": col == lit,
            "!=": col != lit,
        }[self.op]

    def __str__(self) -> str:
        return f"{self.column} {self.op} {_show(self.value)}"


def comparisons(expr: pl.Expr) -> list[Comparison]:
    """The comparisons of a plain column with a literal in `expr`, in the order they appear;
    [] where the expression cannot be read (another Polars version, an opaque function)."""
    try:
        tree = json.loads(expr.meta.serialize(format="json"))
    except Exception:
        return []
    found: list[Comparison] = []
    _walk(tree, found)
    return list(dict.fromkeys(found))


def rule_comparisons(rules: list[tuple[str, pl.Expr]]) -> dict[str, list[Comparison]]:
    """Each rule's reason and its comparisons."""
    return {reason: comparisons(expr) for reason, expr in rules}


def detail_expr(
    step: str, rules: list[tuple[str, pl.Expr]], schema: pl.Schema | dict, reason_column: str
) -> pl.Expr | None:
    """`column=value op threshold` for the first comparison of the deciding rule that holds;
    None where no rule compares a column of `schema` with a literal."""
    branches: list[tuple[pl.Expr, pl.Expr]] = []
    for reason, expr in rules:
        # an equality only restates the reason (`_doc_drop == lorem_ipsum`): not a detail
        cmps = [c for c in comparisons(expr) if c.column in schema and c.op != "=="]
        if not cmps:
            continue
        said = pl.coalesce(
            [
                pl.when(c.expr().fill_null(False)).then(
                    pl.concat_str(
                        pl.lit(f"{c.column}="),
                        _value(c.column, schema[c.column]),
                        pl.lit(f" {c.op} {_show(c.value)}"),
                    )
                )
                for c in cmps
            ]
        )
        branches.append((pl.col(reason_column) == f"{step}:{reason}", said))
    if not branches:
        return None
    (cond, then), *rest = branches
    out = pl.when(cond).then(then)
    for cond, then in rest:
        out = out.when(cond).then(then)
    return out.otherwise(pl.lit(None, pl.String))


def _value(column: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(column)
    if dtype.is_float():
        return col.round_sig_figs(4).cast(pl.String)
    return col.cast(pl.String)


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _walk(node: Any, found: list[Comparison]) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, found)
        return
    if not isinstance(node, dict):
        return
    binary = node.get("BinaryExpr")
    if isinstance(binary, dict) and binary.get("op") in _OPS:
        op = _OPS[binary["op"]]
        left, right = binary.get("left"), binary.get("right")
        column, value = _column(left), _literal(right)
        if column is None:
            column, value, op = _column(right), _literal(left), _FLIP[op]
        if column is not None and value is not None:
            found.append(Comparison(column, op, value))
            return
    for child in node.values():
        _walk(child, found)


def _column(node: Any) -> str | None:
    if isinstance(node, dict):
        if isinstance(node.get("Column"), str):
            return node["Column"]
        cast = node.get("Cast")
        if isinstance(cast, dict):
            return _column(cast.get("expr"))
    return None


def _literal(node: Any) -> Any:
    """The scalar of a Literal node (number, string or bool), else None."""
    if not (isinstance(node, dict) and "Literal" in node):
        return None
    return _scalar(node["Literal"])


def _scalar(node: Any) -> Any:
    if isinstance(node, bool | int | float | str):
        return node
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("Null", "dtype"):
                continue
            got = _scalar(value)
            if got is not None:
                return got
    return None
