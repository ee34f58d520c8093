"""Loud failures: a run that rejected (nearly) everything, and inputs that cannot give a
document, said before anyone trains on an empty corpus."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson

from corpuskit.engine.plan import first_documents, plan_run
from corpuskit.readers.base import READ_STEP, ReadBatch
from corpuskit.recipe import Recipe

#: Records read from the start of each input by `peek_inputs`.
PEEK_RECORDS = 50


def rejection_failure(manifest: dict[str, Any], share: float = 1.0) -> str | None:
    """Why the run must fail: no record read, or one step (reading included) rejected at
    least `share` of the records read; None when neither holds. Names the step and its top
    reason."""
    read = manifest["totals"]["read"]
    if read == 0:
        return "no input record was read"
    for row in manifest["ledger"]:
        rejected = row["rejected"]
        if rejected and rejected >= share * read:
            reason, n = max(row["reasons"].items(), key=lambda kv: kv[1], default=("?", 0))
            return (
                f"{row['step']} rejected {rejected:,} of the {read:,} records read "
                f"({rejected / read:.0%}); top reason {reason} ({n:,})"
            )
    return None


def peek_inputs(recipe: Recipe, records: int = PEEK_RECORDS) -> list[str]:
    """Problems with the first `records` records of each input: a text_field or id_field
    that none of them has (naming the fields they do have), or records that all fail to read."""
    plan = plan_run(recipe, limit=None)
    problems: list[str] = []
    by_input: dict[int, tuple[str, list[ReadBatch]]] = {}
    for index, source, batch in first_documents(plan, records):
        by_input.setdefault(index, (source, []))[1].append(batch)
    for index, (source, batches) in by_input.items():
        spec = plan.specs[index]
        docs = [b.documents for b in batches]
        rejects = [b.rejected for b in batches]
        n_docs = sum(d.height for d in docs)
        reasons: Counter = Counter()
        fields: set[str] = set()
        for rej in rejects:
            reasons.update(rej["reason"].to_list())
            for meta in rej["meta"].drop_nulls().head(5).to_list():
                fields.update(_keys(meta))
            if not rej["id"].str.starts_with(f"{source}:").all():
                fields.add(spec.id_field or "id")  # taken as the id, so not in meta
        where = f"input[{index}] ({source})"
        if n_docs == 0 and reasons:
            reason, n = reasons.most_common(1)[0]
            if reason == f"{READ_STEP}:missing_text_field":
                found = ", ".join(sorted(fields)) or "none"
                problems.append(
                    f"{where}: text_field {spec.text_field!r} is missing from the first {n} "
                    f"records (their fields: {found})"
                )
            else:
                problems.append(f"{where}: the first {n} records are all rejected: {reason}")
        if spec.id_field and n_docs:
            ids = [i for d in docs for i in d["id"].to_list()]
            if all(i.startswith(f"{source}:") for i in ids):
                found = set()
                for d in docs:
                    for meta in d["meta"].drop_nulls().head(5).to_list():
                        found.update(_keys(meta))
                problems.append(
                    f"{where}: id_field {spec.id_field!r} is missing from the first {len(ids)} "
                    f"records (their other fields: {', '.join(sorted(found)) or 'none'})"
                )
    return problems


def _keys(meta: str) -> list[str]:
    try:
        obj = orjson.loads(meta)
    except orjson.JSONDecodeError:
        return []
    return list(obj) if isinstance(obj, dict) else []
