"""Labelled documents for training and evaluation: read through corpuskit's readers, split.

The split is deterministic and the same for `label train` and `label eval`: within each
class, documents are ranked by a stable hash of their text (xxh64 with the seed), and the
first `round(dev_fraction * class size)` form the held-out split. Hashing the text rather
than the id means that exact copies of a text always land on the same side (no copy of a
dev document is trained on), and that the split does not depend on file order, on the path
the file was given by, or on the Polars version (Polars' own hash is not stable).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import xxhash

from corpuskit import registry
from corpuskit.readers.base import InputSpec
from corpuskit.recipe import Recipe, RecipeError

# Bytes per read unit; labelled sets are small, one unit per file is typical.
UNIT_BYTES = 64 << 20


@dataclass(frozen=True)
class LabelledData:
    """Where labelled documents are and how to read them (saved beside a trained model)."""

    path: str
    label_field: str
    # The first field is the reader's text field; further fields (read from the record's
    # other fields) are appended after a newline, e.g. ag_news' title and description.
    text_fields: tuple[str, ...] = ("text",)
    format: str | None = None
    # Column names for CSV/TSV files without a header row.
    columns: tuple[str, ...] | None = None
    # Readable names of label codes (e.g. ag_news' 1..4), applied as the data is read.
    label_names: dict[str, str] | None = None
    # Reader options (InputSpec keys) beyond the above, e.g. {"id_field": "path"}.
    reader: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["text_fields"] = list(self.text_fields)
        d["columns"] = list(self.columns) if self.columns else None
        return d


@dataclass
class LabelledSet:
    """Documents with a label: `id`, `text`, `label`; plus what was left out and why."""

    docs: pl.DataFrame
    unlabelled: int = 0
    unreadable: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    label_names: dict[str, str] | None = None


def read_labelled(data: LabelledData, label_names: str | None = None) -> LabelledSet:
    """Read every record with corpuskit's reader for the format; keep those with a label.

    Labels are renamed by `data.label_names`, else by `label_names` (a `--label-names`
    value, resolved against the codes found; see `load_label_names`).

    Raises RecipeError (a usage error) for unknown formats, missing files or fields.
    """
    spec = InputSpec(
        path=data.path,
        format=data.format,
        text_field=data.text_fields[0],
        columns=list(data.columns) if data.columns else None,
        label_field=data.label_field,
        **(data.reader or {}),
    )
    recipe = Recipe.model_validate({"input": [spec.model_dump()], "output": {"path": "-"}})
    ((spec, files),) = recipe.resolve_inputs()
    reader = registry.get_reader(spec.format)(spec, 0)
    _, units = reader.plan(files, UNIT_BYTES)
    docs: list[pl.DataFrame] = []
    rejected: list[pl.DataFrame] = []
    for unit in units:
        for batch in reader.read(unit):
            docs.append(batch.documents)
            if batch.rejected.height:
                rejected.append(batch.rejected)
    frame = pl.concat(docs) if docs else pl.DataFrame(schema={"id": pl.String, "text": pl.String})
    reasons: dict[str, int] = {}
    if rejected:
        reasons = dict(pl.concat(rejected).group_by("reason").len().iter_rows())
    if frame.height == 0:
        raise RecipeError(f"{data.path}: no readable document ({_describe(reasons)})")
    if data.label_field not in _meta_keys(frame) and spec.format != "labelled_text":
        raise RecipeError(
            f"{data.path}: no field {data.label_field!r} in the records; fields: "
            f"{', '.join(sorted(_meta_keys(frame)))}"
        )
    parts = [pl.col("text")]
    for name in data.text_fields[1:]:
        if name in ("title", "url"):  # document columns (e.g. an e-mail's subject)
            parts.append(pl.col(name))
        elif name in _meta_keys(frame):
            parts.append(_meta_field(name))
        else:
            raise RecipeError(f"{data.path}: no text field {name!r} in the records")
    out = frame.select(
        "id",
        text=pl.concat_str(parts, separator="\n", ignore_nulls=True),
        label=_meta_field(data.label_field).str.strip_chars(),
    )
    has_label = pl.col("label").is_not_null() & (pl.col("label") != "")
    labelled = out.filter(has_label)
    names = data.label_names
    if names is None and label_names is not None:
        names = load_label_names(label_names, labelled["label"].unique().to_list())
    if names:
        unknown = sorted(set(labelled["label"].unique().to_list()) - set(names))
        if unknown:
            raise RecipeError(
                f"{data.path}: labels {', '.join(map(repr, unknown[:10]))} have no name in "
                f"--label-names (names given for {', '.join(sorted(names))})"
            )
        labelled = labelled.with_columns(pl.col("label").replace_strict(names))
    return LabelledSet(
        labelled,
        unlabelled=out.height - labelled.height,
        unreadable=sum(reasons.values()),
        reasons=reasons,
        label_names=names or None,
    )


def load_label_names(value: str, codes: list[str]) -> dict[str, str]:
    """Label code -> name, from `--label-names`.

    `value` is inline (`0=negative,1=positive`) or a file: a JSON object, lines of
    `code<TAB>name` / `code=name` / `code,name`, or one name a line (AG News'
    classes.txt), numbered 1, 2, ... as such files are, or 0, 1, ... when the data's
    codes start at 0.
    """
    path = Path(value).expanduser()
    if not path.is_file():
        if "=" not in value:
            raise RecipeError(f"--label-names {value!r}: no such file, and not code=name pairs")
        pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
        return {k.strip(): v.strip() for k, v in pairs}
    text = path.read_text(encoding="utf-8-sig")
    if text.lstrip().startswith("{"):
        return {str(k): str(v) for k, v in orjson.loads(text).items()}
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for sep in ("\t", "=", ","):
        if lines and all(sep in line for line in lines):
            pairs = [line.split(sep, 1) for line in lines]
            return {k.strip(): v.strip() for k, v in pairs}
    start = 0 if "0" in codes else 1
    return {str(i): name for i, name in enumerate(lines, start=start)}


def fingerprint(docs: pl.DataFrame) -> str:
    """SHA-256 of the labelled documents (label and text, in reading order): two models
    with the same fingerprint were trained and split from the same data."""
    h = hashlib.sha256()
    for label, text in docs.select("label", "text").iter_rows():
        h.update(label.encode("utf-8") + b"\x1f" + text.encode("utf-8") + b"\x1e")
    return h.hexdigest()


def _meta_field(name: str) -> pl.Expr:
    """A field of the `meta` JSON as a string (numbers as written), null where absent."""
    escaped = name.replace("\\", "\\\\").replace("'", "\\'")
    return pl.col("meta").str.json_path_match(f"$['{escaped}']")


def _meta_keys(frame: pl.DataFrame) -> set[str]:
    """The fields present in the first records' meta (enough to name a typo)."""
    keys: set[str] = set()
    for meta in frame["meta"].head(100).drop_nulls().to_list():
        value = orjson.loads(meta)
        if isinstance(value, dict):
            keys.update(value)
    return keys


def _describe(reasons: dict[str, int]) -> str:
    if not reasons:
        return "the input is empty"
    return ", ".join(f"{k}: {v}" for k, v in sorted(reasons.items()))


def split(docs: pl.DataFrame, dev_fraction: float, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(train, dev): per class, the documents whose text hashes lowest go to dev.

    Each class gives `round(dev_fraction * size)` documents to dev, except that copies of
    one text are never separated (the group that starts within the quota goes whole, so a
    class may give a copy or two more). Deterministic for the same documents, seed and
    fraction, whatever their order or ids; each part keeps the input order.
    """
    if not 0.0 <= dev_fraction < 1.0:
        raise ValueError(f"dev_fraction must be in [0, 1), got {dev_fraction}")
    hashes = pl.Series(
        "_h",
        [xxhash.xxh64_intdigest(t.encode("utf-8"), seed=seed) for t in docs["text"].to_list()],
        dtype=pl.UInt64,
    )
    ranked = (
        docs.with_row_index("_row")
        .with_columns(hashes)
        .sort("_h", "_row")
        .with_columns(
            _rank=pl.int_range(pl.len()).over("label"),
            _size=pl.len().over("label"),
        )
        .with_columns(_first=pl.col("_rank").min().over("label", "_h"))
        .with_columns(_dev=pl.col("_first") < (pl.col("_size") * dev_fraction).round())
        .sort("_row")
    )
    dev = ranked["_dev"]
    keep = list(docs.columns)
    return ranked.filter(~dev).select(keep), ranked.filter(dev).select(keep)


def oversample(docs: pl.DataFrame, seed: int) -> pl.DataFrame:
    """Every class repeated up to the size of the largest (whole copies, then a seeded
    sample), shuffled: a remedy for skewed classes (spam, negative reviews) whose recall
    a plain fit sacrifices. Only the training part is touched, never the held-out split."""
    largest = max(class_counts(docs).values())
    parts = []
    for (label,), group in docs.group_by("label", maintain_order=True):
        copies, rest = divmod(largest, group.height)
        parts.extend([group] * copies)
        if rest:
            parts.append(group.sample(rest, seed=seed + len(str(label))))
    return pl.concat(parts).sample(fraction=1.0, shuffle=True, seed=seed)


def class_counts(docs: pl.DataFrame) -> dict[str, int]:
    """Documents per label, labels sorted."""
    return dict(sorted(docs.group_by("label").len().iter_rows()))
