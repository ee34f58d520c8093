#!/usr/bin/env python3
"""Scale the real corpora in ``../shared/corpora`` to N synthetic JSONL documents.

Sources (read at run time, never copied into the repository):

* ``en``          -> ``ag_news/test.csv``            (title + ". " + description)
* ``zh``          -> ``cnews_subset/cnews.val.txt``  (``label<TAB>text``)
* ``shakespeare`` -> ``tinyshakespeare/input.txt``   (blank-line separated blocks, lang "en")

Every *fresh* document is a resample of a source document with perturbations:
sentence drop / duplication, concatenation of two short docs, a sentence window
for long Chinese articles and -- the part that matters for dedup ground truth --
stride-based token replacement: one token (English: whitespace word, Chinese:
character) in every ``--replace-stride`` tokens is replaced by one drawn from the
same corpus' vocabulary (digits by digits).  That kills more than half of the
5-gram shingles of the source, so two resamples of the same source stay well
below Jaccard 0.5 of each other and the planted pairs are the only intended
near-duplicates.

Planted duplicates: for ``--near-dup-rate`` / ``--exact-dup-rate`` of the N
documents the generator emits a copy of an earlier fresh document (drawn from a
reservoir sample of everything emitted so far, each source used at most once, so
every duplicate cluster has exactly two members).  Near copies get controlled
edits aimed at a Jaccard drawn uniformly from [0.5, 0.95]; the TRUE Jaccard is
computed and written with the pair to ``<out>.pairs.parquet``.

Jaccard definition (see ``shingles``): English: sets of word 5-grams over
``text.lower().split()``; Chinese: sets of character 5-grams over the raw text.
A text shorter than 5 tokens has its whole token sequence as its single shingle.

Output is deterministic for a given seed and arguments (gzip output too: the
gzip header carries no timestamp or file name).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import random
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPORA = REPO_ROOT.parent / "shared" / "corpora"

SHINGLE_K = 5
CHUNK_DOCS = 8192  # lines per buffered write
RESERVOIR_SIZE = 8192  # earlier docs eligible as duplicate sources
MIN_NEAR_SHINGLES = 20  # sources shorter than this are not used for near-dups
NEAR_J_LOW, NEAR_J_HIGH = 0.5, 0.95

SOURCE_FILES = {
    "en": ("ag_news", "ag_news/test.csv"),
    "zh": ("cnews", "cnews_subset/cnews.val.txt"),
    "shakespeare": ("shakespeare", "tinyshakespeare/input.txt"),
}

_WS_SPLIT = re.compile(r"(\s+)").split
_TOKEN_CORE = re.compile(r"^(\W*)(.*?)(\W*)$", re.S).match
_EN_WORD = re.compile(r"[A-Za-z][a-z]+(?:'[a-z]+)?|[A-Z]{2,}")
_EN_SENT_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])").split
_ZH_SENT_SPLIT = re.compile(r"(?<=[。！？])").split
_DIGITS = "0123456789"
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_BROKEN_ENTITY_WORDS = {"quot", "amp", "lt", "gt", "nbsp"}


# --------------------------------------------------------------------------- Jaccard


def shingles(text: str, lang: str) -> set[str]:
    """5-gram shingle set: word 5-grams of lowercased whitespace tokens for English,
    character 5-grams of the raw text for Chinese."""
    if lang == "zh":
        n = len(text)
        if n < SHINGLE_K:
            return {text} if text else set()
        return {text[i : i + SHINGLE_K] for i in range(n - SHINGLE_K + 1)}
    toks = text.lower().split()
    n = len(toks)
    if n < SHINGLE_K:
        return {" ".join(toks)} if toks else set()
    return {" ".join(toks[i : i + SHINGLE_K]) for i in range(n - SHINGLE_K + 1)}


def jaccard(a: str, b: str, lang: str) -> float:
    sa, sb = shingles(a, lang), shingles(b, lang)
    union = len(sa | sb)
    return 1.0 if union == 0 else len(sa & sb) / union


# --------------------------------------------------------------------------- sources


class Source:
    """A loaded corpus that can produce perturbed resamples."""

    name: str
    lang: str

    def __init__(self, rng: random.Random, stride: int) -> None:
        self.rng = rng
        self.rand = rng.random
        self.stride = stride

    def make(self) -> tuple[str, str, str | None]:
        """Return (text, source_doc, label) for one fresh document."""
        raise NotImplementedError

    def random_token(self, like: str) -> str:
        raise NotImplementedError

    def near_dup(self, text: str, target: float) -> str:
        raise NotImplementedError


class _WordSource(Source):
    """English-like sources: edits work on whitespace tokens, whitespace is preserved."""

    lang = "en"
    lower_pool: list[str]
    upper_pool: list[str]

    def _build_pools(self, texts: Sequence[str]) -> None:
        # Distinct words seen at least twice, in first-seen order, drawn uniformly: a
        # frequency-weighted draw would often give two resamples of one short source
        # the same replacement at the same place (identical texts nobody planted).
        counts: dict[str, int] = {}
        for t in texts:
            for w in _EN_WORD.findall(t):
                if w.lower() not in _BROKEN_ENTITY_WORDS:
                    counts[w] = counts.get(w, 0) + 1
        words = [w for w, c in counts.items() if c >= 2] or list(counts)
        self.lower_pool = [w for w in words if not w[0].isupper()] or ["word"]
        self.upper_pool = [w for w in words if w[0].isupper()] or ["Word"]

    def _pick(self, pool: list[str]) -> str:
        return pool[int(self.rand() * len(pool))]

    def random_token(self, like: str) -> str:
        """A replacement for token ``like``: same leading/trailing punctuation, a word
        of the same capitalisation from the corpus vocabulary, digits re-drawn."""
        rand = self.rand
        if any(c.isdigit() for c in like):
            return "".join(_DIGITS[int(rand() * 10)] if c.isdigit() else c for c in like)
        lead, core, trail = _TOKEN_CORE(like).groups()
        pool = self.upper_pool if core[:1].isupper() else self.lower_pool
        new = self._pick(pool)
        if new == core:
            new = self._pick(pool)
        if len(core) > 1 and core.isupper():  # keep ALL-CAPS (speaker names, acronyms)
            new = new.upper()
        return lead + new + trail

    def perturb(self, text: str) -> str:
        """Replace one token in every ``stride`` (random position inside each block),
        then more until at least half of the word 5-gram shingles are touched: that
        keeps any two resamples of one source below Jaccard ~1/3 even for short docs,
        where edits that land near the ends touch only one or two shingles."""
        parts = _WS_SPLIT(text)
        idx = [i for i in range(0, len(parts), 2) if parts[i]]
        n, s, rand = len(idx), self.stride, self.rand
        positions = [b + int(rand() * min(s, n - b)) for b in range(0, n, s)]
        n_sh = n - SHINGLE_K + 1
        if n_sh > 1:
            touched = bytearray(n_sh)
            for p in positions:
                lo, hi = max(0, p - SHINGLE_K + 1), min(p, n_sh - 1) + 1
                touched[lo:hi] = b"\x01" * (hi - lo)
            while 2 * touched.count(1) < n_sh:
                free = [c for c in range(n_sh) if not touched[c]]
                c = free[int(rand() * len(free))]
                p = c + SHINGLE_K // 2  # middle of that shingle
                positions.append(p)
                lo, hi = max(0, p - SHINGLE_K + 1), min(p, n_sh - 1) + 1
                touched[lo:hi] = b"\x01" * (hi - lo)
        for p in positions:
            parts[idx[p]] = self.random_token(parts[idx[p]])
        return "".join(parts)

    def near_dup(self, text: str, target: float) -> str:
        parts = _WS_SPLIT(text)
        idx = [i for i in range(0, len(parts), 2) if parts[i]]
        edits = _plan_edits(len(idx), target, self.rand)
        for pos, op in edits:  # descending positions keep earlier indices valid
            i = idx[pos]
            if op == "sub":
                parts[i] = self.random_token(parts[i])
            elif op == "del":
                if i + 1 < len(parts):
                    del parts[i : i + 2]  # token and the whitespace after it
                else:
                    del parts[i - 1 : i + 1]  # last token and the whitespace before it
            else:  # ins
                parts[i:i] = [self.random_token(parts[i]), " "]
        return "".join(parts)


class AgNewsSource(_WordSource):
    name = "ag_news"

    def __init__(self, path: Path, rng: random.Random, stride: int) -> None:
        super().__init__(rng, stride)
        classes_file = path.parent / "classes.txt"
        classes = classes_file.read_text(encoding="utf-8").split() if classes_file.is_file() else []
        self.rows: list[tuple[str, str, str]] = []  # (label, title, description)
        self.by_label: dict[str, list[int]] = {}
        with path.open(encoding="utf-8", newline="") as fh:
            for rec in csv.reader(fh):
                if len(rec) != 3 or not rec[0].isdigit():
                    continue
                cls = int(rec[0])
                label = classes[cls - 1] if 0 < cls <= len(classes) else rec[0]
                self.by_label.setdefault(label, []).append(len(self.rows))
                self.rows.append((label, rec[1], rec[2]))
        if not self.rows:
            raise SystemExit(f"error: no rows parsed from {path}")
        self._build_pools([f"{t}. {d}" for _, t, d in self.rows])

    def _doc(self, i: int) -> str:
        """Row ``i`` as "title. description", maybe with one description sentence
        dropped or duplicated (the title and one description sentence always stay)."""
        _, title, desc = self.rows[i]
        u = self.rand()
        if u < 0.15:
            sents = _EN_SENT_SPLIT(desc)
            if len(sents) >= 2:
                k = int(self.rand() * len(sents))
                if u < 0.10:
                    del sents[k]
                else:
                    sents.insert(k, sents[k])
                desc = " ".join(sents)
        return f"{title}. {desc}"

    def make(self) -> tuple[str, str, str | None]:
        rand = self.rand
        i = int(rand() * len(self.rows))
        label = self.rows[i][0]
        text = self._doc(i)
        src = f"{self.name}:{i}"
        if rand() < 0.10:  # concatenate a second short doc of the same class
            same = self.by_label[label]
            j = same[int(rand() * len(same))]
            text = text + "\n\n" + self._doc(j)
            src += f"+{j}"
        return self.perturb(text), src, label


class ShakespeareSource(_WordSource):
    name = "shakespeare"

    def __init__(self, path: Path, rng: random.Random, stride: int) -> None:
        super().__init__(rng, stride)
        raw = path.read_text(encoding="utf-8")
        self.blocks = [b.strip("\n") for b in raw.split("\n\n") if b.strip()]
        if not self.blocks:
            raise SystemExit(f"error: no paragraphs parsed from {path}")
        self._build_pools(self.blocks)

    def make(self) -> tuple[str, str, str | None]:
        rand, n = self.rand, len(self.blocks)
        i = int(rand() * n)
        width = 1 + int(rand() * 6)  # 1..6 consecutive speeches
        blocks = self.blocks[i : min(n, i + width)]
        if len(blocks) >= 3 and rand() < 0.15:  # drop one speech
            del blocks[1 + int(rand() * (len(blocks) - 1))]
        return self.perturb("\n\n".join(blocks)), f"{self.name}:{i}", None


class CnewsSource(Source):
    name = "cnews"
    lang = "zh"

    def __init__(self, path: Path, rng: random.Random, stride: int) -> None:
        super().__init__(rng, stride)
        self.articles: list[tuple[str, list[str]]] = []  # (label, sentences)
        chars: list[str] = []
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                line = line.rstrip("\n")
                if "\t" not in line:
                    continue
                label, text = line.split("\t", 1)
                sents = [s for s in _ZH_SENT_SPLIT(text) if s]
                if sents:
                    self.articles.append((label, sents))
                    chars.append(text)
        if not self.articles:
            raise SystemExit(f"error: no articles parsed from {path}")
        joined = "".join(chars)
        # frequency-weighted pools kept as one str each (cheap indexing, no per-char objects)
        self.cjk_pool = "".join(c for c in joined if "\u4e00" <= c <= "\u9fff") or "的"

    def random_token(self, like: str) -> str:
        rand = self.rand
        if like.isdigit() and like.isascii():
            return _DIGITS[int(rand() * 10)]
        if like.isascii() and like.isalpha():
            c = _LOWER[int(rand() * 26)]
            return c.upper() if like.isupper() else c
        return self.cjk_pool[int(rand() * len(self.cjk_pool))]

    def make(self) -> tuple[str, str, str | None]:
        rand = self.rand
        a = int(rand() * len(self.articles))
        label, sents = self.articles[a]
        n = len(sents)
        if rand() < 0.25:
            window = list(sents)
        else:  # contiguous sentence window, target length log-uniform in [120, 1500] chars
            target = 120.0 * (12.5 ** rand())
            lo = hi = int(rand() * n)
            size = len(sents[lo])
            while size < target and (hi + 1 < n or lo > 0):
                if hi + 1 < n:
                    hi += 1
                    size += len(sents[hi])
                else:
                    lo -= 1
                    size += len(sents[lo])
            window = sents[lo : hi + 1]
        if len(window) >= 3:
            u = rand()
            if u < 0.10:
                del window[int(rand() * len(window))]
            elif u < 0.15:
                k = int(rand() * len(window))
                window.insert(k, window[k])
        return self.perturb("".join(window)), f"{self.name}:{a}", label

    def perturb(self, text: str) -> str:
        chars = list(text)
        n, s, rand = len(chars), self.stride, self.rand
        pool, plen = self.cjk_pool, len(self.cjk_pool)
        for b in range(0, n, s):
            end = min(n, b + s)
            p = b + int(rand() * (end - b))
            c = chars[p]
            if "\u4e00" <= c <= "\u9fff":
                new = pool[int(rand() * plen)]
                chars[p] = new if new != c else pool[int(rand() * plen)]
                continue
            # punctuation/space: replace the next CJK/digit/latin char of the block instead
            for q in (*range(p, end), *range(b, p)):
                c = chars[q]
                if "\u4e00" <= c <= "\u9fff" or (c.isascii() and c.isalnum()):
                    chars[q] = self.random_token(c)
                    break
        return "".join(chars)

    def near_dup(self, text: str, target: float) -> str:
        chars = list(text)
        for pos, op in _plan_edits(len(chars), target, self.rand):
            if op == "sub":
                chars[pos] = self.random_token(chars[pos])
            elif op == "del":
                del chars[pos]
            else:
                chars.insert(pos, self.random_token(chars[pos]))
        return "".join(chars)


def _plan_edits(n_tokens: int, target: float, rand) -> list[tuple[int, str]]:
    """Edits (position, op) aimed at shingle Jaccard ``target``, in descending position.

    Killing k of n shingles and creating k new ones gives J = (n-k)/(n+k), so
    k = n(1-J)/(1+J).  Interior edits at least 5 tokens apart each touch 5
    shingles; the remainder (1..4) is done by a substitution that close to the
    end of the text, where a token sits in fewer shingles.
    """
    n_sh = max(1, n_tokens - SHINGLE_K + 1)
    k = n_sh * (1.0 - target) / (1.0 + target)
    m = int(k // SHINGLE_K)
    rem = round(k - m * SHINGLE_K)
    edits: list[tuple[int, str]] = []
    if rem:
        edits.append((n_tokens - rem, "sub"))
    if m:
        # stratified interior positions in [4, n_tokens - 9], >= 5 apart
        lo, hi = SHINGLE_K - 1, n_tokens - 2 * SHINGLE_K + 1
        seg = (hi - lo) / m
        if seg >= SHINGLE_K:
            for j in range(m - 1, -1, -1):
                pos = lo + int(j * seg + rand() * (seg - SHINGLE_K + 1))
                u = rand()
                edits.append((pos, "sub" if u < 0.6 else ("del" if u < 0.8 else "ins")))
    if not edits:
        edits.append((n_tokens - 1, "sub"))
    return edits


# --------------------------------------------------------------------------- driver


def parse_mix(spec: str) -> dict[str, float]:
    mix: dict[str, float] = {}
    for item in spec.split(","):
        if not item.strip():
            continue
        key, sep, val = item.partition("=")
        key = key.strip()
        if not sep or key not in SOURCE_FILES:
            raise argparse.ArgumentTypeError(
                f"bad --mix entry {item!r}: expected KEY=WEIGHT with KEY in {sorted(SOURCE_FILES)}"
            )
        try:
            w = float(val)
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad weight in --mix entry {item!r}") from None
        if w < 0:
            raise argparse.ArgumentTypeError(f"negative weight in --mix entry {item!r}")
        if w > 0:
            mix[key] = w
    if not mix:
        raise argparse.ArgumentTypeError("--mix needs at least one positive weight")
    total = sum(mix.values())
    return {k: v / total for k, v in mix.items()}


def _rate(text: str) -> float:
    v = float(text)
    if not 0.0 <= v < 1.0:
        raise argparse.ArgumentTypeError(f"rate must be in [0, 1): {text}")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="Scale ../shared/corpora (ag_news, cnews, tinyshakespeare) to N JSONL "
        "documents with planted near/exact duplicates and a Parquet ground-truth sidecar.",
    )
    p.add_argument("--docs", type=int, required=True, help="number of documents to emit")
    p.add_argument("--out", required=True, help="output JSONL path (.gz => gzip)")
    p.add_argument(
        "--mix",
        type=parse_mix,
        default="en=0.6,zh=0.4",
        help="source weights, keys en (ag_news), zh (cnews), shakespeare (default: en=0.6,zh=0.4)",
    )
    p.add_argument(
        "--near-dup-rate",
        type=_rate,
        default=0.02,
        help="fraction of docs that are planted near-duplicates of an earlier doc (default 0.02)",
    )
    p.add_argument(
        "--exact-dup-rate",
        type=_rate,
        default=0.01,
        help="fraction of docs that are verbatim copies of an earlier doc (default 0.01)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gzip", action="store_true", help="gzip the JSONL (appends .gz if missing)")
    p.add_argument(
        "--replace-stride",
        type=int,
        default=8,
        help="fresh docs get one token in every N replaced (default 8); above ~12 two "
        "resamples of one source can exceed Jaccard 0.5 without being in the sidecar",
    )
    p.add_argument(
        "--corpora",
        type=Path,
        default=DEFAULT_CORPORA,
        help=f"directory with the real corpora (default: {DEFAULT_CORPORA})",
    )
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return p


def load_sources(
    corpora: Path, mix: dict[str, float], rng: random.Random, stride: int
) -> dict[str, Source]:
    if not corpora.is_dir():
        raise SystemExit(
            f"error: corpora directory not found: {corpora}\n"
            "       (expected ag_news/, cnews_subset/, tinyshakespeare/; pass --corpora DIR)"
        )
    classes = {"en": AgNewsSource, "zh": CnewsSource, "shakespeare": ShakespeareSource}
    out: dict[str, Source] = {}
    for key in mix:
        path = corpora / SOURCE_FILES[key][1]
        if not path.is_file():
            raise SystemExit(f"error: missing corpus file for {key!r}: {path}")
        out[key] = classes[key](path, rng, stride)
    return out


def generate(
    n_docs: int,
    out: Path,
    mix: dict[str, float],
    near_rate: float = 0.02,
    exact_rate: float = 0.01,
    seed: int = 0,
    use_gzip: bool = False,
    corpora: Path = DEFAULT_CORPORA,
    stride: int = 8,
    quiet: bool = True,
) -> dict:
    """Write ``out`` and ``<out>.pairs.parquet``; return a summary dict."""
    if n_docs < 1:
        raise SystemExit("error: --docs must be >= 1")
    if stride < 1:
        raise SystemExit("error: --replace-stride must be >= 1")
    if near_rate + exact_rate >= 1.0:
        raise SystemExit("error: --near-dup-rate + --exact-dup-rate must be < 1")
    t0 = time.perf_counter()
    rng = random.Random(seed)
    rand = rng.random
    sources = load_sources(corpora, mix, rng, stride)
    keys = list(mix)
    cum: list[float] = []
    acc = 0.0
    for k in keys:
        acc += mix[k]
        cum.append(acc)
    cum[-1] = 1.0

    n_exact = round(n_docs * exact_rate)
    n_near = round(n_docs * near_rate)
    planted: dict[int, str] = {}
    if n_docs > 1 and n_exact + n_near:
        positions = rng.sample(range(1, n_docs), min(n_docs - 1, n_exact + n_near))
        for j, pos in enumerate(positions):
            planted[pos] = "exact" if j < n_exact else "near"

    if use_gzip and not out.name.endswith(".gz"):
        out = out.with_name(out.name + ".gz")
    use_gzip = use_gzip or out.name.endswith(".gz")
    pairs_path = out.with_name(out.name + ".pairs.parquet")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")

    reservoir: list[tuple[str, str, str, str, str | None]] = []
    seen_fresh = 0
    pairs_a: list[str] = []
    pairs_b: list[str] = []
    pairs_j: list[float] = []
    pairs_k: list[str] = []
    counts = {k: 0 for k in keys}
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    lines: list[str] = []
    n_bytes = 0
    step = max(1, n_docs // 10)

    raw = open(tmp, "wb")  # noqa: SIM115 - closed below, also on error
    try:
        fh = (
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1, mtime=0)
            if use_gzip
            else raw
        )
        for pos in range(n_docs):
            doc_id = f"gen-{pos + 1:09d}"
            kind = planted.get(pos)
            rec = None
            if kind is not None and reservoir:
                rec = _planted(kind, doc_id, reservoir, sources, rand)
                if rec is not None:
                    text, lang, src, label, jac, src_id = rec
                    pairs_a.append(src_id)
                    pairs_b.append(doc_id)
                    pairs_j.append(jac)
                    pairs_k.append(kind)
            if rec is None:
                u = rand()
                key = keys[0]
                for k, c in zip(keys, cum, strict=True):
                    if u < c:
                        key = k
                        break
                source = sources[key]
                text, src, label = source.make()
                lang = source.lang
                counts[key] += 1
                entry = (doc_id, text, lang, src, label)
                if len(reservoir) < RESERVOIR_SIZE:
                    reservoir.append(entry)
                else:
                    j = int(rand() * (seen_fresh + 1))
                    if j < RESERVOIR_SIZE:
                        reservoir[j] = entry
                seen_fresh += 1
            lines.append(
                dumps({"id": doc_id, "text": text, "lang": lang, "source_doc": src, "label": label})
            )
            lines.append("\n")
            if len(lines) >= 2 * CHUNK_DOCS:
                data = "".join(lines).encode("utf-8")
                n_bytes += len(data)
                fh.write(data)
                lines.clear()
            if not quiet and (pos + 1) % step == 0:
                el = time.perf_counter() - t0
                print(
                    f"  {pos + 1:>10,} docs  {n_bytes / 1e6:8.1f} MB  {el:6.1f} s",
                    file=sys.stderr,
                )
        data = "".join(lines).encode("utf-8")
        n_bytes += len(data)
        fh.write(data)
        if fh is not raw:
            fh.close()
    except BaseException:
        raw.close()
        tmp.unlink(missing_ok=True)
        raise
    raw.close()
    os.replace(tmp, out)
    t_json = time.perf_counter() - t0

    import pyarrow as pa
    import pyarrow.parquet as pq

    meta = {
        "docs": n_docs,
        "seed": seed,
        "mix": mix,
        "near_dup_rate": near_rate,
        "exact_dup_rate": exact_rate,
        "replace_stride": stride,
        "shingles": "en: word 5-grams of text.lower().split(); zh: char 5-grams of raw text",
    }
    table = pa.table(
        {
            "id_a": pa.array(pairs_a, pa.string()),
            "id_b": pa.array(pairs_b, pa.string()),
            "jaccard": pa.array(pairs_j, pa.float64()),
            "kind": pa.array(pairs_k, pa.string()),
        }
    ).replace_schema_metadata({"corpuskit.generator": json.dumps(meta)})
    pq.write_table(table, pairs_path)

    return {
        "out": str(out),
        "pairs": str(pairs_path),
        "docs": n_docs,
        "fresh_by_source": counts,
        "exact_pairs": pairs_k.count("exact"),
        "near_pairs": pairs_k.count("near"),
        "uncompressed_bytes": n_bytes,
        "file_bytes": out.stat().st_size,
        "seconds": time.perf_counter() - t0,
        "seconds_jsonl": t_json,
    }


def _planted(kind, doc_id, reservoir, sources, rand):
    """Copy an earlier fresh doc (removed from the reservoir so clusters stay pairs)."""
    for _ in range(8):
        r = int(rand() * len(reservoir))
        src_id, text, lang, src, label = reservoir[r]
        if kind == "exact":
            jac = 1.0
            new = text
        else:
            if len(shingles(text, lang)) < MIN_NEAR_SHINGLES:
                continue
            source = next(s for s in sources.values() if s.name == src.split(":", 1)[0])
            target = NEAR_J_LOW + (NEAR_J_HIGH - NEAR_J_LOW) * rand()
            new = source.near_dup(text, target)
            jac = jaccard(text, new, lang)
            if jac >= 1.0:  # edits that left the shingle set unchanged: try again
                continue
        reservoir[r] = reservoir[-1]
        reservoir.pop()
        return new, lang, src, label, jac, src_id
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    mix = args.mix if isinstance(args.mix, dict) else parse_mix(args.mix)
    summary = generate(
        n_docs=args.docs,
        out=Path(args.out),
        mix=mix,
        near_rate=args.near_dup_rate,
        exact_rate=args.exact_dup_rate,
        seed=args.seed,
        use_gzip=args.gzip,
        corpora=args.corpora,
        stride=args.replace_stride,
        quiet=args.quiet,
    )
    if not args.quiet:
        print(
            f"wrote {summary['docs']:,} docs to {summary['out']} "
            f"({summary['file_bytes'] / 1e6:.1f} MB on disk, "
            f"{summary['uncompressed_bytes'] / 1e6:.1f} MB JSONL) in {summary['seconds']:.1f} s; "
            f"{summary['near_pairs']:,} near + {summary['exact_pairs']:,} exact pairs -> "
            f"{summary['pairs']}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
