"""Score corpuskit's steps and recipes against the hand-checked gold sets in bench/quality/.

    python bench/bench_quality_gold.py           # every filter step, both recipes, cleaning
    python bench/bench_quality_gold.py --steps c4_quality,gopher_repetition --corpora ag_news,20news
    python bench/bench_quality_gold.py --recipes web --no-steps --no-cleaning --json out.json
    python bench/bench_quality_gold.py --docs bench/quality/gold/holdout.jsonl --no-cleaning

Everything runs through corpuskit's public entry points, as a user runs it: the gold
documents are written to a JSONL file (gold id as `id`; web pages are first extracted by
corpuskit's html and warc readers from the files the locators name), a recipe is generated
per step and `corpuskit.engine.run.run_recipe` runs it; kept and rejected rows are joined
back by id. Filter steps see the documents after the cleaning steps that open
recipes/news.yaml (`--prefix none` feeds raw text); the recipes see the raw documents.

Per step and per corpus it prints the false-rejection rate on edited text (news, forum
posts, books) and on legitimate web pages, junk recall (reject-gold rejected), the share
of characters removed from kept gold-keep documents (median and mean; hard-wrapped ones
separately) and, where span gold exists, content lost and boilerplate removed. Cleaning
steps are scored on the before/after edits: wrong edits per 1,000. datatrove's filters
(and ftfy through its formatter) run on the same texts next to the matching steps.

Rejections by dedup steps are reported apart (a removed copy is not a false rejection);
with a `language` step, gold-keep documents in other languages than its `keep` list are
out of scope. Targets from issue 16 are listed in TARGETS; `--check-targets` exits 1 when
one fails.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("POLARS_MAX_THREADS", "2")

import orjson
import polars as pl
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, table
from quality import gold
from quality.metrics import Tally, garbled, removed_share, score_spans

from corpuskit import registry
from corpuskit.engine.run import run_recipe
from corpuskit.recipe import load_recipe

EDITED = ("news", "forum", "book")
DEDUP_STEPS = ("exact_dedup", "minhash_dedup", "dedup_against")
CLEANING = ("fix_unicode", "clean_text", "normalize_punctuation", "mask_pii")
DEFAULT_STEPS = (
    "length_filter",
    "language",
    "gopher_quality",
    "gopher_repetition",
    "c4_quality",
    "fineweb_quality",
    "ad_filter",
    "remove_boilerplate_lines",
    "garbled",
)
RECIPES = {name: ROOT / "recipes" / f"{name}.yaml" for name in ("news", "web", "forum")}
PEERS = {  # corpuskit step -> datatrove class (module path, class name)
    "gopher_quality": ("datatrove.pipeline.filters", "GopherQualityFilter"),
    "gopher_repetition": ("datatrove.pipeline.filters", "GopherRepetitionFilter"),
    "c4_quality": ("datatrove.pipeline.filters", "C4QualityFilter"),
    "fineweb_quality": ("datatrove.pipeline.filters", "FineWebQualityFilter"),
}
CLEANING_PEERS = {"fix_unicode": ("datatrove.pipeline.formatters", "FTFYFormatter")}

# Issue 16's targets: (what, metric path in the JSON, bound). Adding one is one line.
TARGETS: list[tuple[str, str, str, float]] = [
    (
        "edited text: false rejections per step <= 1%",
        "steps.*.edited.false_rejection_rate",
        "<=",
        0.01,
    ),
    (
        "news recipe: edited false rejections <= 3%",
        "recipes.news.edited.false_rejection_rate",
        "<=",
        0.03,
    ),
    (
        "hard-wrapped books lose <= 3% (median)",
        "recipes.news.gutenberg.wrapped_removed_median",
        "<=",
        0.03,
    ),
    (
        "forum posts lose <= 3% of content (spans)",
        "recipes.news.20news.span_content_lost",
        "<=",
        0.03,
    ),
    (
        "web recipe: spam/adult/gambling recall >= 90%",
        "recipes.web.spam_adult_gambling.junk_recall",
        ">=",
        0.9,
    ),
    (
        "web recipe: legitimate pages rejected <= 5%",
        "recipes.web.web.false_rejection_rate",
        "<=",
        0.05,
    ),
    (
        "c4_quality: hard-wrapped books lose <= 3% (median)",
        "steps.c4_quality.gutenberg.wrapped_removed_median",
        "<=",
        0.03,
    ),
    (
        "remove_boilerplate_lines: content lost (spans) <= 1%",
        "steps.remove_boilerplate_lines.all.span_content_lost",
        "<=",
        0.01,
    ),
    ("cleaning: wrong edits per 1,000 <= 1", "cleaning.*.all.wrong_per_1000", "<=", 1.0),
    (
        "forum posts: strip_email_noise loses <= 3% of content (spans)",
        "steps.strip_email_noise.*.span_content_lost",
        "<=",
        0.03,
    ),
    (
        "forum posts: strip_email_noise removes >= 80% of quotes and signatures (spans)",
        "steps.strip_email_noise.all.span_boilerplate_removed",
        ">=",
        0.8,
    ),
    (
        "mojibake: kept Chinese docs with garbled runs <= 1%",
        "recipes.*.all.zh_garbled_share",
        "<=",
        0.01,
    ),
]


# --- inputs ---------------------------------------------------------------------------


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "wb") as f:
        for r in rows:
            f.write(orjson.dumps(r) + b"\n")


def run(recipe: dict[str, Any], work: Path, name: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Run a recipe (written to a file, loaded and run as `corpuskit run` runs it).

    Returns (kept rows, rejected rows)."""
    out = work / f"out-{name}"
    recipe = {**recipe, "output": {"path": str(out)}, "executor": {"kind": "local", "workers": 1}}
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(recipe, allow_unicode=True, sort_keys=False))
    run_recipe(load_recipe(path), overwrite=True, recipe_path=str(path))
    kept = pl.read_parquet(out / "data") if any((out / "data").glob("*.parquet")) else None
    rej = pl.read_parquet(out / "rejected") if any((out / "rejected").glob("*.parquet")) else None
    cols = ["id", "text", "url", "title", "meta"]
    kept = (
        kept.select(cols) if kept is not None else pl.DataFrame(schema={c: pl.String for c in cols})
    )
    rej = (
        rej.select("id", "reason", "detail")
        if rej is not None
        else pl.DataFrame(schema={"id": pl.String, "reason": pl.String, "detail": pl.String})
    )
    return kept, rej


def jsonl_input(path: Path) -> dict[str, Any]:
    return {
        "path": str(path),
        "format": "jsonl",
        "text_field": "text",
        "id_field": "id",
        "url_field": "url",
        "title_field": "title",
    }


def extract_pages(docs: list[dict], corpora: Path, work: Path) -> tuple[list[dict], dict[str, str]]:
    """Web pages through corpuskit's html and warc readers: (rows, read rejections by gold id)."""
    html = {
        str(corpora / d["locator"]["path"]): d["id"] for d in docs if d["locator"]["kind"] == "html"
    }
    warc = {d["locator"]["record_id"]: d["id"] for d in docs if d["locator"]["kind"] == "warc"}
    warc_files = sorted(
        {str(corpora / d["locator"]["path"]) for d in docs if d["locator"]["kind"] == "warc"}
    )
    inputs = []
    if html:
        inputs.append({"path": sorted(html), "format": "html"})
    if warc_files:
        inputs.append({"path": warc_files, "format": "warc"})
    if not inputs:
        return [], {}
    kept, rej = run({"input": inputs, "steps": []}, work, "extract")
    rows, read_rejects = [], {}

    def gold_id(row: dict) -> str | None:
        if row["id"] in html:
            return html[row["id"]]
        meta = row.get("meta")
        meta = orjson.loads(meta) if isinstance(meta, str) else (meta or {})
        return warc.get(meta.get("record_id"))

    for row in kept.iter_rows(named=True):
        gid = gold_id(row)
        if gid:
            rows.append({"id": gid, "text": row["text"], "url": row["url"], "title": row["title"]})
    for row in rej.iter_rows(named=True):
        if row["id"] in html:
            read_rejects[html[row["id"]]] = row["reason"]
    return rows, read_rejects


def materialize(docs: list[dict], corpora: Path, work: Path) -> tuple[Path, dict[str, str]]:
    """The gold documents as corpuskit input: (JSONL path, read rejections by id)."""
    rows = []
    for d in docs:
        src = gold.verified(d, corpora)
        if src.text is not None:
            rows.append({"id": d["id"], "text": src.text, "title": src.title, "url": d.get("url")})
    pages, read_rejects = extract_pages(docs, corpora, work)
    rows.extend(pages)
    path = work / "gold-input.jsonl"
    write_jsonl(path, rows)
    return path, read_rejects


def recipe_steps(name: str) -> list[dict[str, Any]]:
    """The steps of recipe `name` (news, web) or of a recipe file (recipes/web.yaml)."""
    return yaml.safe_load(RECIPES.get(name, Path(name)).read_text())["steps"]


def recipe_name(arg: str) -> str:
    """news, web, or a recipe file's name without .yaml (its results' key)."""
    return arg if arg in RECIPES else Path(arg).name.removesuffix(".yaml").removesuffix(".yml")


def runs_unconfigured(step: str) -> bool:
    """Whether `step: {}` builds (a plugin such as `blocklist` needs its word lists)."""
    cls = registry.steps()[step]
    try:
        cls(cls.Config.model_validate(step_config(step)), name=step).validate()
    except (ValueError, OSError):  # pydantic's ValidationError is a ValueError
        return False
    return True


def step_config(step: str) -> dict[str, Any]:
    """The step's config in recipes/news.yaml (else web.yaml), else its defaults."""
    for name in ("news", "web"):
        for entry in recipe_steps(name):
            if step in entry:
                return entry[step] or {}
    return {}


def cleaning_prefix() -> list[dict[str, Any]]:
    """The map steps that open recipes/news.yaml."""
    steps = registry.steps()
    prefix = []
    for entry in recipe_steps("news"):
        (name,) = entry
        if getattr(steps.get(name), "kind", None) != "map":
            break
        prefix.append(entry)
    return prefix


# --- scoring --------------------------------------------------------------------------


def language_scope(steps: list[dict[str, Any]]) -> set[str] | None:
    for entry in steps:
        if "language" in entry:
            return set((entry["language"] or {}).get("keep", ["en", "zh"]))
    return None


def score(
    docs: list[dict],
    texts_in: dict[str, str],
    kept: dict[str, str],
    reasons: dict[str, str],
    spans: dict[str, dict],
    scope: set[str] | None,
) -> dict[str, Any]:
    """Tallies by group: all, edited, web, each corpus, each junk category."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    wrong: list[dict[str, Any]] = []
    missed: list[dict[str, Any]] = []
    for d in docs:
        groups = ["all", d["corpus"], "edited" if d["domain"] in EDITED else d["domain"]]
        if d["label"] == "reject":
            groups.append(f"junk:{d['category']}")
            if d["category"] in ("spam", "adult", "gambling", "ad"):
                groups.append("spam_adult_gambling")
        reason = reasons.get(d["id"])
        out = kept.get(d["id"])
        dedup = bool(reason) and reason.split(":")[0] in DEDUP_STEPS
        in_scope = scope is None or d["lang"] in scope
        share = span_score = None
        if d["label"] == "keep" and out is not None and in_scope and not dedup:
            text_in = texts_in.get(d["id"], "")
            share = removed_share(text_in, out)
            if d["id"] in spans:
                sp = spans[d["id"]]
                span_score = score_spans(sp["spans"], sp["default"], text_in, out)
        for g in groups:
            t = tallies[g]
            if dedup:
                t.dedup_rejected += 1
            elif d["label"] == "reject":
                t.junk += 1
                t.junk_rejected += out is None
            elif not in_scope:
                t.out_of_scope += 1
            else:
                t.keep += 1
                if out is None:
                    t.false_rejections.append(d["id"])
                    continue
                t.removed.append(share)
                if d["lang"] == "zh":
                    t.zh_kept += 1
                    if garbled(out):
                        t.zh_garbled.append(d["id"])
                if d.get("hard_wrapped"):
                    t.removed_wrapped.append(share)
                if span_score is not None:
                    t.spans.add(span_score)
        if d["label"] == "keep" and out is None and not dedup and in_scope:
            wrong.append({"id": d["id"], "reason": reason})
        if d["label"] == "reject" and out is not None:
            missed.append({"id": d["id"], "category": d["category"]})
    result = {g: t.summary() for g, t in sorted(tallies.items())}
    result["_false_rejections"] = wrong
    result["_missed_junk"] = missed
    return result


def reasons_of(rej: pl.DataFrame, read_rejects: dict[str, str]) -> dict[str, str]:
    out = dict(read_rejects)
    out.update(dict(zip(rej["id"].to_list(), rej["reason"].to_list(), strict=True)))
    return out


def evaluate_run(
    docs: list[dict],
    texts_in: dict[str, str],
    kept: pl.DataFrame,
    rej: pl.DataFrame,
    read_rejects: dict[str, str],
    spans: dict[str, dict],
    scope: set[str] | None,
) -> dict[str, Any]:
    kept_text = dict(zip(kept["id"].to_list(), kept["text"].to_list(), strict=True))
    reasons = reasons_of(rej, read_rejects)
    result = score(docs, texts_in, kept_text, reasons, spans, scope)
    counts: dict[str, int] = defaultdict(int)
    for r in reasons.values():
        counts[r] += 1
    result["_reasons"] = dict(sorted(counts.items(), key=lambda kv: -kv[1]))
    return result


def peer_run(
    step: str, docs: list[dict], texts_in: dict[str, str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    import importlib

    from datatrove.data import Document

    module, cls = PEERS[step]
    flt = getattr(importlib.import_module(module), cls)()
    kept, rej = {"id": [], "text": []}, {"id": [], "reason": [], "detail": []}
    for d in docs:
        if d["id"] not in texts_in:
            continue
        doc = Document(text=texts_in[d["id"]], id=d["id"])
        res = flt.filter(doc)
        ok = res is True or (isinstance(res, tuple) and res[0])
        if ok:
            kept["id"].append(d["id"])
            kept["text"].append(doc.text)
        else:
            rej["id"].append(d["id"])
            rej["reason"].append(f"{cls}:{res[1] if isinstance(res, tuple) else 'rejected'}")
            rej["detail"].append(None)
    return pl.DataFrame(kept, schema={"id": pl.String, "text": pl.String}), pl.DataFrame(
        rej, schema={"id": pl.String, "reason": pl.String, "detail": pl.String}
    )


def evaluate_cleaning(step: str, items: list[dict], corpora: Path, work: Path) -> dict[str, Any]:
    """Run `step` (with each item's config) on every `before`; wrong = output != `after`."""
    mine = [it for it in items if it["step"] == step]
    for it in mine:
        gold.verified(it, corpora)
    by_config: dict[str, list[dict]] = defaultdict(list)
    for it in mine:
        by_config[json.dumps(it["config"], sort_keys=True)].append(it)
    got: dict[str, str | None] = {}
    for i, (cfg, group) in enumerate(by_config.items()):
        path = work / f"clean-{step}-{i}.jsonl"
        write_jsonl(path, [{"id": it["id"], "text": it["before"]} for it in group])
        kept, _ = run(
            {"input": jsonl_input(path), "steps": [{step: json.loads(cfg)}]},
            work,
            f"clean-{step}-{i}",
        )
        got.update(dict(zip(kept["id"].to_list(), kept["text"].to_list(), strict=True)))
    return cleaning_summary(mine, got)


def cleaning_summary(items: list[dict], got: dict[str, str | None]) -> dict[str, Any]:
    groups: dict[str, list[bool]] = defaultdict(list)
    wrong_items = []
    for it in items:
        ok = got.get(it["id"]) == it["after"]
        for g in (
            "all",
            f"lang:{it['lang']}",
            f"kind:{it['kind']}",
            "must_stay" if it["before"] == it["after"] else "must_change",
        ):
            groups[g].append(ok)
        if not ok:
            wrong_items.append(
                {
                    "id": it["id"],
                    "kind": it["kind"],
                    "before": it["before"],
                    "after": it["after"],
                    "got": got.get(it["id"]),
                }
            )
    out = {
        g: {
            "edits": len(v),
            "wrong": v.count(False),
            "wrong_per_1000": round(1000 * v.count(False) / len(v), 1),
        }
        for g, v in sorted(groups.items())
    }
    out["_wrong"] = wrong_items
    return out


def peer_cleaning(step: str, items: list[dict]) -> dict[str, Any]:
    import importlib

    module, cls = CLEANING_PEERS[step]
    fmt = getattr(importlib.import_module(module), cls)()
    mine = [it for it in items if it["step"] == step]
    return cleaning_summary(mine, {it["id"]: fmt.format(it["before"]) for it in mine})


# --- targets and printing --------------------------------------------------------------


def lookup(results: dict[str, Any], path: str) -> list[tuple[str, Any]]:
    """Values at a dotted path; `*` matches every key at that level."""
    found = [("", results)]
    for part in path.split("."):
        nxt = []
        for name, node in found:
            if not isinstance(node, dict):
                continue
            keys = [k for k in node if not k.startswith("_")] if part == "*" else [part]
            nxt.extend((f"{name}.{k}".lstrip("."), node[k]) for k in keys if k in node)
        found = nxt
    return found


def check_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for what, path, op, bound in TARGETS:
        for name, value in lookup(results, path):
            if value is None:
                continue
            ok = value <= bound if op == "<=" else value >= bound
            rows.append(
                {"target": what, "where": name, "value": value, "bound": f"{op} {bound}", "ok": ok}
            )
    return rows


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def share(r: dict[str, Any], rate: str, n: str, d: str) -> str:
    """`rate` as a percentage with its count: "12.5% (3/24)"."""
    return f"{pct(r.get(rate))} ({r.get(n, 0)}/{r.get(d, 0)})"


def med_mean(r: dict[str, Any], prefix: str) -> str:
    return f"{pct(r.get(prefix + 'median'))}/{pct(r.get(prefix + 'mean'))}"


def summary_row(name: str, res: dict[str, Any]) -> dict[str, str]:
    e, w, a = res.get("edited", {}), res.get("web", {}), res.get("all", {})
    return {
        "step": name,
        "FR edited": share(e, "false_rejection_rate", "false_rejections", "keep_docs"),
        "FR web": share(w, "false_rejection_rate", "false_rejections", "keep_docs"),
        "junk recall": share(a, "junk_recall", "junk_rejected", "junk_docs"),
        "removed med/mean": med_mean(e, "removed_"),
        "wrapped med/mean": med_mean(e, "wrapped_removed_"),
        "content lost": pct(a.get("span_content_lost")),
        "boilerplate removed": pct(a.get("span_boilerplate_removed")),
    }


def corpus_rows(name: str, res: dict[str, Any], corpora: list[str]) -> list[dict[str, str]]:
    rows = []
    for c in corpora:
        r = res.get(c)
        if not r:
            continue
        rows.append(
            {
                "step": name,
                "corpus": c,
                "FR": share(r, "false_rejection_rate", "false_rejections", "keep_docs"),
                "junk recall": share(r, "junk_recall", "junk_rejected", "junk_docs"),
                "removed med/mean": med_mean(r, "removed_"),
                "wrapped med": pct(r["wrapped_removed_median"]),
                "content lost": pct(r["span_content_lost"]),
                "boilerplate removed": pct(r["span_boilerplate_removed"]),
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--steps",
        default=",".join(DEFAULT_STEPS),
        help="comma list of steps to score alone; 'all-filters' = every registered filter step",
    )
    ap.add_argument("--no-steps", action="store_true", help="score no single steps")
    ap.add_argument(
        "--recipes",
        default="news,web",
        help="comma list of news, web or recipe files (recipes/web.yaml); '' for none",
    )
    ap.add_argument(
        "--corpora-filter",
        "--corpora",
        dest="only",
        default="",
        help="comma list of gold corpora (ag_news, cnews, 20news, ...); default all",
    )
    ap.add_argument(
        "--docs",
        type=Path,
        default=gold.DOCS_FILE,
        help="document gold to score (default gold/docs.jsonl; gold/holdout.jsonl: held out)",
    )
    ap.add_argument("--no-cleaning", action="store_true", help="skip the cleaning gold")
    ap.add_argument("--no-peer", action="store_true", help="skip datatrove")
    ap.add_argument(
        "--prefix",
        choices=("news", "none"),
        default="news",
        help="cleaning steps before each filter step (default: those opening recipes/news.yaml)",
    )
    ap.add_argument(
        "--by-corpus", action="store_true", help="print the per-corpus table for every step"
    )
    ap.add_argument("--json", type=Path, help="write every number and every wrong decision here")
    ap.add_argument("--check-targets", action="store_true", help="exit 1 when a target fails")
    ap.add_argument("--corpora-root", type=Path, default=None, help="default ../shared/corpora")
    ap.add_argument("--work", type=Path, help="keep the runs here (default: a temporary folder)")
    args = ap.parse_args()

    started = time.perf_counter()
    corpora = gold.corpora_root(args.corpora_root)
    docs = gold.load_docs(args.docs)
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {d["corpus"] for d in docs}
        if unknown:
            sys.exit(f"unknown gold corpora: {', '.join(sorted(unknown))}")
        docs = [d for d in docs if d["corpus"] in wanted]
    spans = gold.load_spans()
    corpus_names = sorted({d["corpus"] for d in docs})
    steps = [] if args.no_steps else args.steps.split(",")
    if steps == ["all-filters"]:
        steps = [
            n for n, c in sorted(registry.steps().items()) if getattr(c, "kind", "") == "filter"
        ]
        unconfigured = [n for n in steps if not runs_unconfigured(n)]
        if unconfigured:
            print(f"skipped (they need a config to run): {', '.join(unconfigured)}", flush=True)
        steps = [n for n in steps if n not in unconfigured]
    unknown = [s for s in steps if s not in registry.steps()]
    if unknown:
        sys.exit(f"unknown steps: {', '.join(unknown)} (see `corpuskit steps`)")

    tmp = tempfile.TemporaryDirectory(prefix="quality-gold-") if not args.work else None
    work = args.work or Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "steps": {},
        "peers": {},
        "recipes": {},
        "cleaning": {},
        "cleaning_peers": {},
    }

    raw_path, read_rejects = materialize(docs, corpora, work)
    raw_rows = [orjson.loads(line) for line in raw_path.read_bytes().splitlines()]
    raw_text = {r["id"]: r["text"] for r in raw_rows}
    if steps:
        if args.prefix == "news":
            kept, _ = run(
                {"input": jsonl_input(raw_path), "steps": cleaning_prefix()}, work, "prefix"
            )
            step_path = work / "gold-cleaned.jsonl"
            write_jsonl(step_path, kept.select("id", "text", "url", "title").to_dicts())
            step_text = dict(zip(kept["id"].to_list(), kept["text"].to_list(), strict=True))
        else:
            step_path, step_text = raw_path, raw_text
        for step in steps:
            cfg = step_config(step)
            t0 = time.perf_counter()
            kept, rej = run(
                {"input": jsonl_input(step_path), "steps": [{step: cfg}]}, work, f"step-{step}"
            )
            res = evaluate_run(
                docs, step_text, kept, rej, read_rejects, spans, language_scope([{step: cfg}])
            )
            res["_config"], res["_seconds"] = cfg, round(time.perf_counter() - t0, 1)
            results["steps"][step] = res
            if step in PEERS and not args.no_peer:
                t0 = time.perf_counter()
                pk, pr = peer_run(step, docs, step_text)
                pres = evaluate_run(docs, step_text, pk, pr, read_rejects, spans, None)
                pres["_seconds"] = round(time.perf_counter() - t0, 1)
                results["peers"][f"datatrove {PEERS[step][1]}"] = pres
    for arg in [r for r in args.recipes.split(",") if r]:
        name, rsteps = recipe_name(arg), recipe_steps(arg)
        t0 = time.perf_counter()
        kept, rej = run({"input": jsonl_input(raw_path), "steps": rsteps}, work, f"recipe-{name}")
        res = evaluate_run(docs, raw_text, kept, rej, read_rejects, spans, language_scope(rsteps))
        res["_seconds"] = round(time.perf_counter() - t0, 1)
        results["recipes"][name] = res
    if not args.no_cleaning:
        items = gold.load_cleaning()
        for step in CLEANING:
            results["cleaning"][step] = evaluate_cleaning(step, items, corpora, work)
            if step in CLEANING_PEERS and not args.no_peer:
                results["cleaning_peers"][f"datatrove {CLEANING_PEERS[step][1]} ({step} gold)"] = (
                    peer_cleaning(step, items)
                )

    results["targets"] = check_targets(results)
    results["_meta"] = {
        "documents": len(docs),
        "docs_file": str(args.docs),
        "corpora": corpus_names,
        "prefix": [next(iter(e)) for e in cleaning_prefix()] if args.prefix == "news" else [],
        "read_rejects": read_rejects,
        "seconds": round(time.perf_counter() - started, 1),
        "load_average": os.getloadavg(),
    }
    print_report(results, corpus_names, args.by_corpus)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    if tmp:
        tmp.cleanup()
    if args.check_targets and not all(r["ok"] for r in results["targets"]):
        sys.exit(1)


def print_report(results: dict[str, Any], corpus_names: list[str], by_corpus: bool) -> None:
    meta = results["_meta"]
    print(
        f"gold documents: {meta['documents']} from {', '.join(corpus_names)}; "
        f"filter steps see the text after: {', '.join(meta['prefix']) or 'nothing (raw)'}"
    )
    if meta["read_rejects"]:
        print(f"rejected by the readers: {meta['read_rejects']}")
    rows = [summary_row(n, r) for n, r in results["steps"].items()]
    rows += [summary_row(n, r) for n, r in results["peers"].items()]
    rows += [summary_row(f"recipes/{n}.yaml", r) for n, r in results["recipes"].items()]
    if rows:
        print(
            "\nFR = false rejections of gold-keep documents; edited = news, forum posts, books; "
            "removed = share of characters removed from kept gold-keep edited documents\n"
        )
        print(table(rows))
    for name, res in {
        **{f"recipes/{n}.yaml": r for n, r in results["recipes"].items()},
        **(results["steps"] if by_corpus else {}),
    }.items():
        crows = corpus_rows(name, res, corpus_names)
        if crows:
            print(f"\n{name} by corpus\n" + table(crows))
        cats = [
            {
                "junk category": k.split(":", 1)[1],
                "recall": share(v, "junk_recall", "junk_rejected", "junk_docs"),
            }
            for k, v in res.items()
            if k.startswith("junk:")
        ]
        if cats:
            print(table(cats))
    crow = []
    for name, res in {**results["cleaning"], **results["cleaning_peers"]}.items():
        a = res["all"]
        langs = ", ".join(
            f"{k[5:]} {v['wrong']}/{v['edits']}" for k, v in res.items() if k.startswith("lang:")
        )
        crow.append(
            {
                "cleaning": name,
                "edits": a["edits"],
                "wrong": a["wrong"],
                "wrong per 1,000": a["wrong_per_1000"],
                "by language (wrong/edits)": langs,
                "must stay / must change wrong": f"{res.get('must_stay', {}).get('wrong', 0)}"
                f" / {res.get('must_change', {}).get('wrong', 0)}",
            }
        )
    if crow:
        print("\ncleaning gold: an edit is wrong when the output is not the editor's `after`\n")
        print(table(crow))
    if results["targets"]:
        failed = [t for t in results["targets"] if not t["ok"]]
        met = len(results["targets"]) - len(failed)
        print(f"\ntargets (issue 16): {met} met, {len(failed)} not met")
        for t in failed:
            print(f"  not met: {t['target']} at {t['where']}: {t['value']} (want {t['bound']})")
    print(
        f"\n{meta['seconds']} s; load average {', '.join(f'{x:.1f}' for x in meta['load_average'])}"
    )


if __name__ == "__main__":
    main()
