"""Connected components of the duplicate graph, and which member of a cluster survives.

Components: vectorized union-find over the edge arrays. Every round hooks each component
root onto the smallest root it shares an edge with (`np.minimum.at`), then pointer jumping
compresses every label to its root; a component ends labelled by its smallest node, i.e.
its first document in corpus order. A handful of rounds for any realistic graph, each a few
numpy passes over the edges: no Python loop over pairs, no dict of all pairs.

Survivors: `first` (corpus order), `longest` (most characters, ties to the first), `field`
(largest or smallest value of a column or meta key, missing values last, ties to the
first); `drop_all` keeps no member. Deterministic for a given corpus order.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl

Keep = Literal["first", "longest", "field", "drop_all"]


def connected_components(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(nodes, component) for the graph with edges u[i]-v[i]; component = smallest node."""
    if len(u) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    nodes, inverse = np.unique(np.concatenate([u, v]), return_inverse=True)
    a, b = inverse[: len(u)], inverse[len(u) :]
    label = np.arange(len(nodes))
    while True:
        la, lb = label[a], label[b]
        differ = la != lb
        if not differ.any():
            break
        la, lb = la[differ], lb[differ]
        np.minimum.at(label, np.maximum(la, lb), np.minimum(la, lb))
        while True:  # pointer jumping until every label is a root
            jumped = label[label]
            if np.array_equal(jumped, label):
                break
            label = jumped
    return nodes, nodes[label]


def components_frame(edges: pl.DataFrame) -> pl.DataFrame:
    """`row`, `cluster` (the smallest row of its component) for every row with an edge."""
    nodes, comp = connected_components(edges["u"].to_numpy(), edges["v"].to_numpy())
    return pl.DataFrame(
        {"row": nodes.astype(np.uint32), "cluster": comp.astype(np.uint32)},
        schema={"row": pl.UInt32, "cluster": pl.UInt32},
    )


def numeric_if_possible(values: pl.Series) -> pl.Series:
    """Strings (e.g. meta values) as Float64 when every non-null value parses as a number."""
    if values.dtype != pl.String:
        return values
    parsed = values.cast(pl.Float64, strict=False)
    return parsed if parsed.null_count() == values.null_count() else values


def survivors(
    members: pl.DataFrame, keep: Keep, prefer: Literal["max", "min"] = "max"
) -> pl.DataFrame:
    """`cluster`, `survivor` (row) per cluster; members has row, cluster, length, key."""
    if keep in ("first", "drop_all"):
        return members.group_by("cluster").agg(pl.col("row").min().alias("survivor"))
    if keep == "longest":
        by, descending = ["length", "row"], [True, False]
    else:
        by, descending = ["key", "row"], [prefer == "max", False]
    return (
        members.sort(by, descending=descending, nulls_last=True)
        .group_by("cluster", maintain_order=True)
        .agg(pl.col("row").first().alias("survivor"))
    )


def cluster_state(
    comps: pl.DataFrame,
    info: pl.DataFrame,
    keep: Keep,
    prefer: Literal["max", "min"] = "max",
) -> pl.DataFrame:
    """The per-document decisions for every member of a cluster of two or more.

    comps: row, cluster. info: row, id, and `length` / `key` when the policy needs them.
    Returns id, dup_cluster (id of the cluster's first document), dup_cluster_size, and
    `drop` (null for the survivor, else the survivor's id, or with drop_all the cluster id).
    """
    members = comps.join(info, on="row", how="left")
    if "key" in members.columns:
        members = members.with_columns(key=numeric_if_possible(members["key"]))
    chosen = survivors(members, keep, prefer)
    ids = info.select("row", "id")
    out = (
        members.select("row", "id", "cluster")
        .join(chosen, on="cluster")
        .join(ids.rename({"row": "cluster", "id": "dup_cluster"}), on="cluster", how="left")
        .join(ids.rename({"row": "survivor", "id": "survivor_id"}), on="survivor", how="left")
        .with_columns(dup_cluster_size=pl.len().over("cluster").cast(pl.Int64))
    )
    if keep == "drop_all":
        drop = pl.col("dup_cluster")
    else:
        drop = pl.when(pl.col("row") != pl.col("survivor")).then(pl.col("survivor_id"))
    return out.select("row", "id", "dup_cluster", "dup_cluster_size", drop.alias("drop")).sort(
        "row"
    )
