"""Sentiment without a pretrained encoder: linear models, vectors trained here, a lexicon.

    nice .venv/bin/python bench/bench_sentiment_ceiling.py                 # both data sets
    nice .venv/bin/python bench/bench_sentiment_ceiling.py --data sst2 --dim 300

The context of issue 17's sentiment targets (ChnSentiCorp >= 0.90, SST-2 >= 0.82 macro-F1),
which spaCy's textcats (bench/bench_sentiment.py) do not reach. Same splits as `label
train`: ChnSentiCorp's held-out 20% is the test set and 10% of the rest the validation
slice; SST-2 trains on train.tsv less its 10% validation slice and is tested on test.tsv
(dev.tsv joins the validation slice). Tokens are those of `label train` (spaCy's
tokenizer; jieba words for Chinese), lower-cased. Each family's C (inverse L2 strength of
scikit-learn's LogisticRegression) is chosen on validation, never on test:

- `tfidf`: word 1-2 grams (Chinese: plus character 1-3 grams), sublinear tf-idf.
- `nb-lr`: the same n-grams, binary, scaled by their naive-Bayes log-count ratio
  (NBSVM, Wang & Manning 2012).
- `ppmi-mean`: the mean of each text's word vectors, trained here from unlabelled text:
  positive PMI of words within 5 tokens (1/distance weights, context counts ** 0.75) over
  the shared corpora (English: 20news_train, ag_news, gutenberg, sms_spam and the
  article_extraction_html bodies; Chinese: trec06c_subset bodies, cnews_subset,
  lcsts_part3 and zh_extraction_html texts) plus the training part's own texts, then a
  truncated SVD (`scipy.sparse.linalg.svds`), rows U * sqrt(S), unit length.
- `nb-lr+ppmi`: both feature sets side by side.
- `nb-lr+vader` (English, when `vaderSentiment` is installed): plus VADER's lexicon
  scores (compound, pos, neg; summed word valences), a hand-made lexicon a package ships.

Times are the process's CPU seconds: building the vectors (a one-off asset cost) apart from
fitting a model. scikit-learn is in the `bench` extra; the script stops with a reason
without it.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import itertools
import json
import logging
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"
NAMES = "0=negative,1=positive"
GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
# Characters of one unlabelled text kept (a few newsgroup posts are whole archives).
MAX_CHARS = 20000


def english_texts() -> Iterator[str]:
    for path in sorted((CORPORA / "20news_train").rglob("*")):
        if path.is_file():
            yield path.read_bytes().decode("latin-1").split("\n\n", 1)[-1]
    with (CORPORA / "ag_news" / "test.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.reader(fh):
            yield row[1] + "\n" + row[2]
    for path in sorted((CORPORA / "gutenberg").glob("*.txt")):
        yield from path.read_text(encoding="utf-8-sig").split("\r\n\r\n")
    sms = (CORPORA / "sms_spam" / "SMSSpamCollection").read_text(encoding="utf-8", errors="replace")
    yield from (line.split("\t", 1)[-1] for line in sms.splitlines())
    truth = json.loads((CORPORA / "article_extraction_html" / "ground-truth.json").read_text())
    yield from (page.get("articleBody") or "" for page in truth.values())


def chinese_texts() -> Iterator[str]:
    for kind in ("ham", "spam"):
        for path in sorted((CORPORA / "trec06c_subset" / kind).iterdir()):
            yield path.read_bytes().decode("gbk", errors="ignore").split("\n\n", 1)[-1]
    news = (CORPORA / "cnews_subset" / "cnews.val.txt").read_text(encoding="utf-8")
    yield from (line.split("\t", 1)[-1] for line in news.splitlines())
    lcsts = (CORPORA / "lcsts_part3" / "PART_III.txt").read_text(encoding="utf-8")
    yield from re.findall(r"<(?:short_text|summary)>\s*(.*?)\s*</", lcsts, re.S)
    for path in sorted((CORPORA / "zh_extraction_html" / "Text").glob("*.txt")):
        raw = path.read_bytes()
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            yield raw.decode("gbk", errors="ignore")


def tokenizer(lang: str):
    """The tokenizer `label train` uses for `lang`, giving lower-cased token lists."""
    import spacy

    from corpuskit.labelling.pipelines import blank_config, quiet_jieba

    quiet_jieba()
    nlp = spacy.blank(lang, config=blank_config(lang))

    def tokens(texts) -> list[list[str]]:
        clean = (" ".join(t.split())[:MAX_CHARS] for t in texts)
        return [[w.lower_ for w in doc if not w.is_space] for doc in nlp.tokenizer.pipe(clean)]

    return tokens


def splits(name: str) -> dict[str, tuple[list[str], np.ndarray]]:
    """fit / validation / test texts and 0-1 labels (1 = positive), as `label train` splits."""
    from corpuskit.labelling import data as labelled

    def read(path: Path, **kw) -> object:
        return labelled.read_labelled(
            labelled.LabelledData(path=str(path), label_field="label", **kw), NAMES
        ).docs

    if name == "chnsenticorp":
        docs = read(CORPORA / "chnsenticorp" / "ChnSentiCorp_htl_all.csv", text_fields=("review",))
        train_part, test = labelled.split(docs, 0.2, 0)
        extra = None
    else:
        kw = {"text_fields": ("sentence",), "columns": ("sentence", "label")}
        train_part = read(CORPORA / "sst2" / "train.tsv", **kw)
        test = read(CORPORA / "sst2" / "test.tsv", **kw)
        extra = read(CORPORA / "sst2" / "dev.tsv", **kw)
    fit, validation = labelled.split(train_part, 0.1, 1)
    if extra is not None:
        import polars as pl

        validation = pl.concat([validation, extra])
    return {
        part: (frame["text"].to_list(), (frame["label"] == "positive").to_numpy().astype(int))
        for part, frame in (("fit", fit), ("validation", validation), ("test", test))
    }


def ppmi_vectors(
    docs: list[list[str]], dim: int, vocab: int = 50000, min_count: int = 3, window: int = 5
) -> tuple[dict[str, int], np.ndarray]:
    """Word vectors from the positive PMI of co-occurrences within `window` tokens, by
    truncated SVD (Levy, Goldberg & Dagan 2015: context smoothing 0.75, U * sqrt(S))."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import svds

    counts = Counter(t for doc in docs for t in doc)
    words = [w for w, c in counts.most_common(vocab) if c >= min_count]
    index = {w: i for i, w in enumerate(words)}
    seq: list[int] = []
    for doc in docs:
        seq.extend(index.get(t, -1) for t in doc)
        seq.extend([-1] * window)  # no window spans two texts
    ids = np.asarray(seq, dtype=np.int64)
    rows, cols, weights = [], [], []
    for d in range(1, window + 1):
        a, b = ids[:-d], ids[d:]
        both = (a >= 0) & (b >= 0)
        w = np.full(int(both.sum()), 1.0 / d, dtype=np.float64)
        rows += [a[both], b[both]]
        cols += [b[both], a[both]]
        weights += [w, w]
    n = len(words)
    cooc = sp.coo_matrix(
        (np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    ).tocsr()
    cooc.sum_duplicates()
    total = cooc.sum()
    p_word = np.asarray(cooc.sum(axis=1)).ravel() / total
    p_ctx = np.asarray(cooc.sum(axis=0)).ravel() ** 0.75
    p_ctx /= p_ctx.sum()
    c = cooc.tocoo()
    pmi = np.log(c.data / total) - np.log(p_word[c.row]) - np.log(p_ctx[c.col])
    pos = pmi > 0
    ppmi = sp.csr_matrix((pmi[pos], (c.row[pos], c.col[pos])), shape=(n, n))
    u, s, _ = svds(ppmi, k=dim, random_state=0)
    vectors = u * np.sqrt(s)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
    return index, vectors.astype(np.float32)


def mean_vectors(docs: list[list[str]], index: dict[str, int], vectors: np.ndarray) -> np.ndarray:
    out = np.zeros((len(docs), vectors.shape[1]), dtype=np.float32)
    for i, doc in enumerate(docs):
        rows = [index[t] for t in doc if t in index]
        if rows:
            out[i] = vectors[rows].mean(axis=0)
    return out


def ngrams(tokens: list[list[str]], texts: list[str], chars: bool) -> list[list[str]]:
    """Word 1-2 grams, and character 1-3 grams (Chinese) of the whitespace-free text."""
    out = []
    for doc, text in zip(tokens, texts, strict=True):
        feats = doc + [f"{a} {b}" for a, b in itertools.pairwise(doc)]
        if chars:
            bare = "".join(text.split())
            feats += [f"#{bare[i : i + n]}" for n in (1, 2, 3) for i in range(len(bare) - n + 1)]
        out.append(feats)
    return out


def vader_scores(texts: list[str], tokens: list[list[str]]) -> np.ndarray:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    rows = []
    for text, doc in zip(texts, tokens, strict=True):
        s = analyzer.polarity_scores(text)
        valence = [analyzer.lexicon.get(t, 0.0) for t in doc]
        rows.append(
            [
                s["compound"],
                s["pos"],
                s["neg"],
                sum(v for v in valence if v > 0) / 4,
                sum(v for v in valence if v < 0) / 4,
            ]
        )
    return np.asarray(rows, dtype=np.float32)


def run(name: str, dim: int) -> list[dict]:
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    lang = "zh" if name == "chnsenticorp" else "en"
    data = splits(name)
    tokens = tokenizer(lang)
    toks = {part: tokens(texts) for part, (texts, _) in data.items()}
    y = {part: labels for part, (_, labels) in data.items()}
    grams = {p: ngrams(toks[p], data[p][0], lang == "zh") for p in data}

    started = time.process_time()
    unlabelled = tokens(english_texts() if lang == "en" else chinese_texts())
    n_tokens = sum(map(len, unlabelled))
    index, vectors = ppmi_vectors(unlabelled + toks["fit"] + toks["validation"], dim)
    vector_seconds = time.process_time() - started
    print(
        f"{name}: {len(index)} x {dim} vectors from {n_tokens:,} unlabelled tokens "
        f"+ the training part in {vector_seconds:.0f} CPU s",
        flush=True,
    )

    def identity(x):
        return x

    tfidf = TfidfVectorizer(analyzer=identity, sublinear_tf=True).fit(grams["fit"])
    binary = CountVectorizer(analyzer=identity, binary=True).fit(grams["fit"])
    b = {p: binary.transform(grams[p]).astype(np.float32) for p in data}
    pos, neg = (np.asarray(b["fit"][y["fit"] == k].sum(axis=0)).ravel() + 1 for k in (1, 0))
    ratio = sp.diags(np.log((pos / pos.sum()) / (neg / neg.sum())))
    nb = {p: (b[p] @ ratio).tocsr() for p in data}
    means = {p: sp.csr_matrix(mean_vectors(toks[p], index, vectors)) for p in data}
    families = {
        "tfidf": {p: tfidf.transform(grams[p]) for p in data},
        "nb-lr": nb,
        "ppmi-mean": means,
        "nb-lr+ppmi": {p: sp.hstack([nb[p], means[p]]).tocsr() for p in data},
    }
    if lang == "en" and importlib.util.find_spec("vaderSentiment") is not None:
        families["nb-lr+vader"] = {
            p: sp.hstack([nb[p], sp.csr_matrix(vader_scores(data[p][0], toks[p]))]).tocsr()
            for p in data
        }
    results = []
    for family, x in families.items():
        best = None
        for c in GRID:
            t0 = time.process_time()
            model = LogisticRegression(C=c, max_iter=5000).fit(x["fit"], y["fit"])
            seconds = time.process_time() - t0
            val = f1_score(y["validation"], model.predict(x["validation"]), average="macro")
            if best is None or val > best[0]:
                test = f1_score(y["test"], model.predict(x["test"]), average="macro")
                best = (val, c, test, seconds)
        val, c, test, seconds = best
        results.append(
            {
                "data": name,
                "family": family,
                "C": c,
                "validation_macro_f1": round(val, 4),
                "test_macro_f1": round(test, 4),
                "fit_cpu_seconds": round(seconds, 1),
                "vector_cpu_seconds": round(vector_seconds) if "ppmi" in family else None,
            }
        )
        print(json.dumps(results[-1]), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=["chnsenticorp", "sst2"])
    parser.add_argument("--dim", type=int, default=300, help="PPMI-SVD vector width")
    parser.add_argument("--out", type=Path, default=Path("sentiment_ceiling.json"))
    args = parser.parse_args()
    if importlib.util.find_spec("sklearn") is None:
        sys.exit("needs scikit-learn: pip install -e '.[bench]'")
    if not CORPORA.exists():
        sys.exit(f"{CORPORA} is absent")
    logging.getLogger("jieba").setLevel(logging.WARNING)
    results = [r for name in args.data for r in run(name, args.dim)]
    args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print("\n| data | family | C (on validation) | validation F1 | test macro-F1 | fit CPU s |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['data']} | {r['family']} | {r['C']} | {r['validation_macro_f1']:.4f} | "
            f"**{r['test_macro_f1']:.4f}** | {r['fit_cpu_seconds']} |"
        )


if __name__ == "__main__":
    main()
