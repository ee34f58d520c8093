"""Dedup algorithms against references: hashing, shingles, MinHash and LSH vs datasketch,
components, LSH parameters; and the three steps' fit/apply on small Parquet corpora."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from datasketch import MinHash, MinHashLSH
from datasketch.lsh import _optimal_param

from corpuskit.dedup.cluster import connected_components
from corpuskit.dedup.hashing import (
    ngram_hash_py,
    ngram_hashes,
    word_value_py,
    word_values,
)
from corpuskit.dedup.lsh import LSHParams, candidate_pairs, sketch_batch
from corpuskit.dedup.minhash import optimal_bands_rows, signatures, signatures_numpy
from corpuskit.dedup.normalize import TokenNormalize
from corpuskit.dedup.shingles import (
    Shingling,
    char_mode,
    shingle_batch,
    shingle_batch_numpy,
    shingle_hash_py,
    shingles_py,
)
from corpuskit.schema import DETAIL_COLUMN, DOCUMENT_SCHEMA, REASON_COLUMN, conform
from corpuskit.steps.base import Corpus
from corpuskit.steps.dedup_against import DedupAgainst
from corpuskit.steps.exact_dedup import ExactDedup
from corpuskit.steps.minhash_dedup import MinHashDedup
from corpuskit.text.utf8 import utf8_buffer

WORDS = (
    "the market rose as investors weighed new data on growth prices and rates while "
    "banks said profits fell after a long quarter of trade talks in europe asia"
).split()
ODD_TEXTS = [
    "",
    "   \t\n ",
    "hi there",
    "Ünïcödé ÀB  cd\u3000ef\u00a0gh\tij\x1ckl\x01mn",
    "中文\u3000测试 ABC\u2003的文本内容",
    "a",
    "a b c d e",
    "x\u2028y  z\u0085w",
    "İstanbul ΣΑΣ Ꙁ Ꜳ Ⅻ Ⓐ Ａ Ǆ",
    "ภาษาไทยไม่มีช่องว่างระหว่างคำ",
    "日本語のテキストです。カタカナもあります",
    "第1期 1234 5678 9012 3456 7890 双色球 开奖 结果 2009 10 11 12 13",
]


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def mutate(text: str, rng: random.Random, edits: int) -> str:
    words = text.split()
    for _ in range(edits):
        words[rng.randrange(len(words))] = rng.choice(["alpha", "beta", "gamma", "delta"])
    return " ".join(words)


def mixed_batch(n: int = 120, seed: int = 0) -> pl.DataFrame:
    rng = random.Random(seed)
    texts = [sentence(rng, rng.randrange(1, 60)) for _ in range(n)]
    hanzi = "中文测试数据新闻体育财经科技"
    texts += ["".join(rng.choice(hanzi) for _ in range(80)) for _ in range(20)]
    texts += ODD_TEXTS
    return pl.DataFrame({"id": [f"d{i}" for i in range(len(texts))], "text": texts})


# ---------------------------------------------------------------- hashing and shingles


def test_word_values_and_ngram_hashes_match_python():
    words = ["a", "bb", "hello", "Ünï", "中文", "x" * 300]
    texts = pl.Series(["".join(words)])
    data, _ = utf8_buffer(texts)
    ends = np.cumsum([len(w.encode()) for w in words])
    starts = np.concatenate([[0], ends[:-1]])
    got = word_values(data, starts, ends).tolist()
    assert got == [word_value_py(w) for w in words]
    rng = np.random.default_rng(1)
    values = rng.integers(0, 2**32, 40, dtype=np.uint64).astype(np.uint32)
    token_offsets = np.array([0, 0, 2, 10, 11, 11, 40])  # empty, short, long, 1, empty, long
    hashes, offsets = ngram_hashes(values, token_offsets, 5)
    for d in range(6):
        vals = values[token_offsets[d] : token_offsets[d + 1]].tolist()
        if not vals:
            expected = []
        elif len(vals) < 5:
            expected = [ngram_hash_py(vals)]
        else:
            expected = [ngram_hash_py(vals[i : i + 5]) for i in range(len(vals) - 4)]
        assert hashes[offsets[d] : offsets[d + 1]].tolist() == expected


# the numba kernels (used when numba imports) and the numpy reference
IMPLS = {"kernels": (shingle_batch, signatures), "numpy": (shingle_batch_numpy, signatures_numpy)}


@pytest.mark.parametrize("impl", list(IMPLS))
@pytest.mark.parametrize("norm", [TokenNormalize(), TokenNormalize(lowercase=False)])
def test_shingles_match_reference(norm, impl):
    shingle_batch, _ = IMPLS[impl]
    batch = mixed_batch()
    sh = Shingling(normalize=norm)
    shingles, chars = shingle_batch(batch, sh)
    for i, text in enumerate(batch["text"]):
        c = bool(chars[i])
        n = sh.char_ngram if c else sh.word_ngram
        ref = [shingle_hash_py(s, c) for s in shingles_py(text, c, n, norm.lowercase)]
        assert shingles.of(i).tolist() == ref, (i, text[:40])
    # the same documents alone or in another batch give the same shingles
    alone, _ = shingle_batch(batch.slice(130, 5), sh)
    assert alone.of(2).tolist() == shingles.of(132).tolist()


def test_char_mode_from_lang_or_script():
    batch = pl.DataFrame(
        {
            "text": [
                "plain english words",
                "中文新闻内容测试",
                "第1期 1234 5678 9012 双色球",
                "abc",
            ],
            "lang": [None, None, None, "zh-Hant"],
        }
    )
    assert char_mode(batch, Shingling()).tolist() == [False, True, True, True]
    assert char_mode(batch.drop("lang"), Shingling()).tolist() == [False, True, True, False]
    assert char_mode(batch, Shingling(mode="word")).tolist() == [False] * 4
    # punctuation and digits normalization happen before tokenizing
    sh = Shingling(normalize=TokenNormalize(punctuation=True, digits=True))
    a, _ = shingle_batch(pl.DataFrame({"text": ["Page 12, line 3!", "page 47 line 9"]}), sh)
    assert a.of(0).tolist() == a.of(1).tolist()


# ---------------------------------------------------------------- MinHash and LSH vs datasketch


def datasketch_minhash(text: str, chars: bool, num_perm: int, seed: int) -> MinHash:
    m = MinHash(num_perm=num_perm, seed=seed, hashfunc=lambda s: shingle_hash_py(s, chars))
    m.update_batch(shingles_py(text, chars, 5))
    return m


@pytest.mark.parametrize("impl", list(IMPLS))
@pytest.mark.parametrize("num_perm,seed", [(128, 1), (64, 7)])
def test_signatures_equal_datasketch(num_perm, seed, impl):
    shingle_batch, signatures = IMPLS[impl]
    batch = mixed_batch(60)
    shingles, chars = shingle_batch(batch, Shingling())
    sig = signatures(shingles.hashes, shingles.offsets, num_perm, seed)
    assert sig.shape == (num_perm, batch.height)
    mins = []
    for i, text in enumerate(batch["text"]):
        m = datasketch_minhash(text, bool(chars[i]), num_perm, seed)
        assert np.array_equal(m.hashvalues, sig[:, i]), i
        mins.append(m)
    # so the Jaccard estimates are datasketch's too
    for i, j in [(0, 1), (3, 4), (60, 61), (5, 5)]:
        ours = float(np.mean(sig[:, i] == sig[:, j]))
        assert ours == pytest.approx(mins[i].jaccard(mins[j]))


@pytest.mark.parametrize("impl", list(IMPLS))
def test_signatures_of_long_documents_span_blocks(impl):
    _, signatures = IMPLS[impl]
    rng = np.random.default_rng(3)
    hashes = rng.integers(0, 2**32, 40_000, dtype=np.uint64).astype(np.uint32)
    offsets = np.array([0, 5, 5, 30_000, 30_001, 40_000])
    sig = signatures(hashes, offsets, 16)
    for d in range(5):
        part = hashes[offsets[d] : offsets[d + 1]]
        one = signatures(part, np.array([0, len(part)]), 16)[:, 0]
        assert np.array_equal(sig[:, d], one)
    assert (sig[:, 1] == 0xFFFFFFFF).all()  # no shingles


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.9])
@pytest.mark.parametrize("weights", [(0.5, 0.5), (0.1, 0.9)])
def test_optimal_bands_rows_equal_datasketch(threshold, weights):
    assert optimal_bands_rows(threshold, 128, *weights) == _optimal_param(threshold, 128, *weights)


def test_candidate_pairs_include_datasketch_lsh():
    rng = random.Random(5)
    base = [sentence(rng, 40) for _ in range(30)]
    texts = base + [mutate(t, rng, rng.randrange(1, 5)) for t in base for _ in range(2)]
    batch = pl.DataFrame({"text": texts}).with_row_index("row")
    lsh = LSHParams(128, 32, 4)
    sh = Shingling()
    ours = candidate_pairs(sketch_batch(batch, sh, lsh), lsh.bands)
    shingles, chars = shingle_batch(batch, sh)
    sig = signatures(shingles.hashes, shingles.offsets, 128)
    index = MinHashLSH(num_perm=128, params=(32, 4))
    sketches = []
    for i in range(batch.height):
        m = MinHash(num_perm=128, hashvalues=sig[:, i], scheme="affine32")
        # the same sketch as datasketch computes from the text
        assert m == datasketch_minhash(texts[i], bool(chars[i]), 128, 1)
        index.insert(i, m)
        sketches.append(m)
    theirs = {
        (min(i, j), max(i, j)) for i, m in enumerate(sketches) for j in index.query(m) if i != j
    }
    assert len(theirs) > 30
    assert theirs <= ours
    assert ours == theirs  # 64-bit band hashes: no extra collisions at this size


def test_connected_components_match_reference():
    rng = np.random.default_rng(11)
    u = rng.integers(0, 400, 300)
    v = rng.integers(0, 400, 300)
    nodes, comp = connected_components(u, v)
    parent = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for a, b in zip(u.tolist(), v.tolist(), strict=True):
        ra, rb = find(a), find(b)
        parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for x in set(u.tolist()) | set(v.tolist()):
        groups.setdefault(find(x), []).append(x)
    expected = {x: min(members) for members in groups.values() for x in members}
    assert dict(zip(nodes.tolist(), comp.tolist(), strict=True)) == expected
    empty_nodes, _ = connected_components(np.zeros(0, int), np.zeros(0, int))
    assert len(empty_nodes) == 0


# ---------------------------------------------------------------- steps on small corpora


def write_corpus(folder: Path, rows: list[dict], files: int = 2) -> list[Path]:
    """Documents as stage-input Parquet shards (several files, small row groups)."""
    folder.mkdir(parents=True, exist_ok=True)
    df = pl.DataFrame(rows)
    if "meta" not in df.columns:
        df = df.with_columns(meta=pl.lit("{}"))
    df = conform(df, DOCUMENT_SCHEMA)
    per = -(-df.height // files)
    paths = []
    for i in range(files):
        path = folder / f"part-{i:05d}.parquet"
        df.slice(i * per, per).write_parquet(path, row_group_size=7)
        paths.append(path)
    return paths


def run_step(step, files: list[Path], workdir: Path, workers: int = 2):
    """fit over the files, then apply to every file; returns (kept, rejected, state)."""
    corpus = Corpus(files, workdir, workers)
    workdir.mkdir(parents=True, exist_ok=True)
    step.ensure_ready()
    state = step.fit(corpus)
    outs = [step.process(pl.read_parquet(f), state).batch for f in files]
    out = pl.concat(outs, how="diagonal_relaxed")
    kept = out.filter(pl.col(REASON_COLUMN).is_null()).drop(REASON_COLUMN, DETAIL_COLUMN)
    rejected = out.filter(pl.col(REASON_COLUMN).is_not_null())
    return kept, rejected, state


EXACT_ROWS = [
    {"id": "a1", "text": "Hello   World", "meta": json.dumps({"score": 2})},
    {"id": "a2", "text": "hello world", "meta": json.dumps({"score": 9})},
    {"id": "a3", "text": "Hello World!!!", "meta": json.dumps({"score": 5})},
    {"id": "b1", "text": "unique text one", "meta": "{}"},
    {"id": "c1", "text": "Price 12 dollars", "meta": json.dumps({"score": "x"})},
    {"id": "c2", "text": "price 47 dollars", "meta": "{}"},
    {"id": "a4", "text": "Hello World", "meta": json.dumps({"score": 7})},
    {"id": "d1", "text": "", "meta": "{}"},
    {"id": "d2", "text": "  ", "meta": "{}"},
]


@pytest.mark.parametrize(
    "config,dropped",
    [
        ({}, {"a4": "a1", "d2": "d1"}),
        ({"normalize": {"whitespace": False}}, {}),
        ({"normalize": {"lowercase": True}}, {"a2": "a1", "a4": "a1", "d2": "d1"}),
        (
            {"normalize": {"lowercase": True, "punctuation": True, "digits": True}},
            {"a2": "a1", "a3": "a1", "a4": "a1", "c2": "c1", "d2": "d1"},
        ),
        (
            {"normalize": {"lowercase": True, "punctuation": True}, "keep": "longest"},
            {"a1": "a3", "a2": "a3", "a4": "a3", "d1": "d2"},
        ),
        (
            {"normalize": {"lowercase": True}, "keep": "field", "field": "score"},
            {"a1": "a2", "a4": "a2", "d2": "d1"},
        ),
        (
            {"normalize": {"lowercase": True}, "keep": "field", "field": "score", "prefer": "min"},
            {"a2": "a1", "a4": "a1", "d2": "d1"},
        ),
    ],
)
def test_exact_dedup_policies(tmp_path, config, dropped):
    files = write_corpus(tmp_path / "in", EXACT_ROWS, files=3)
    step = ExactDedup(ExactDedup.Config.model_validate(config), name="exact_dedup")
    kept, rejected, _ = run_step(step, files, tmp_path / "work")
    got = dict(zip(rejected["id"], rejected[DETAIL_COLUMN], strict=True))
    assert got == dropped
    assert set(rejected[REASON_COLUMN]) <= {"exact_dedup:duplicate"}
    assert kept.height + rejected.height == len(EXACT_ROWS)
    copies = dict(zip(kept["id"], kept["exact_copies"], strict=True))
    assert copies["b1"] == 1
    survivor = next(iter(dropped.values()), None)
    if survivor:
        assert copies[survivor] >= 2


def test_exact_dedup_field_from_a_column(tmp_path):
    rows = [{"id": f"r{i}", "text": "same text", "url": f"http://x/{i}"} for i in range(4)]
    files = write_corpus(tmp_path / "in", rows)
    cfg = ExactDedup.Config(keep="field", field="url", prefer="min")
    _, rejected, _ = run_step(ExactDedup(cfg, name="exact_dedup"), files, tmp_path / "w")
    assert sorted(rejected["id"]) == ["r1", "r2", "r3"] and set(rejected[DETAIL_COLUMN]) == {"r0"}


def near_rows(seed: int = 0) -> tuple[list[dict], dict[str, str]]:
    """Originals, near copies (a few words changed) and unrelated texts; copy -> original."""
    rng = random.Random(seed)
    rows, truth = [], {}
    for k in range(25):
        original = sentence(rng, 60)
        rows.append({"id": f"o{k}", "text": original, "meta": json.dumps({"q": k % 7})})
        for c in range(k % 3):
            rows.append({"id": f"o{k}c{c}", "text": mutate(original, rng, 2) + " extra words" * c})
            truth[f"o{k}c{c}"] = f"o{k}"
    rows += [{"id": f"u{k}", "text": sentence(rng, 50)} for k in range(40)]
    rows += [{"id": "z1", "text": "城市新闻今天发布了关于交通的重要消息，市民关注。" * 3}]
    rows += [{"id": "z2", "text": "城市新闻今天发布了关于交通的重要消息，市民关注！" * 3}]
    truth["z2"] = "z1"
    rng.shuffle(rows)
    return rows, truth


def test_minhash_dedup_finds_planted_copies(tmp_path):
    rows, truth = near_rows()
    files = write_corpus(tmp_path / "in", rows, files=3)
    step = MinHashDedup(MinHashDedup.Config(threshold=0.6), name="minhash_dedup")
    kept, rejected, state = run_step(step, files, tmp_path / "work")
    order = {r["id"]: i for i, r in enumerate(rows)}
    expected = {}
    for copy, original in truth.items():  # the first of each cluster (input order) survives
        members = [original] + [c for c, o in truth.items() if o == original]
        first = min(members, key=order.get)
        if copy != first:
            expected[copy] = first
        if original != first:
            expected[original] = first
    got = dict(zip(rejected["id"], rejected[DETAIL_COLUMN], strict=True))
    assert got == expected
    assert set(rejected[REASON_COLUMN]) == {"minhash_dedup:near_duplicate"}
    sizes = dict(zip(kept["id"], kept["dup_cluster_size"], strict=True))
    clusters = dict(zip(kept["id"], kept["dup_cluster"], strict=True))
    for survivor in set(expected.values()):
        assert sizes[survivor] == 1 + sum(1 for s in expected.values() if s == survivor)
        assert clusters[survivor] == survivor  # the first member names the cluster
    assert sizes["u0"] == 1 and clusters["u0"] == "u0"
    assert state.report.candidate_pairs >= state.report.verified_pairs == len(expected)


@pytest.mark.parametrize("keep", ["longest", "field", "drop_all"])
def test_minhash_keep_policies(tmp_path, keep):
    rows, truth = near_rows(1)
    files = write_corpus(tmp_path / "in", rows)
    extra = {"field": "q"} if keep == "field" else {}
    step = MinHashDedup(MinHashDedup.Config(threshold=0.6, keep=keep, **extra), name="mh")
    kept, rejected, _ = run_step(step, files, tmp_path / "work")
    texts = {r["id"]: r["text"] for r in rows}
    q = {r["id"]: json.loads(r.get("meta") or "{}").get("q") for r in rows}
    members = set(truth) | set(truth.values())
    if keep == "drop_all":
        assert set(rejected["id"]) == members
        assert set(rejected[REASON_COLUMN]) == {"mh:duplicate_cluster"}
        assert (kept["dup_cluster_size"] == 1).all()
        return
    for original in set(truth.values()):
        cluster = [original] + [c for c, o in truth.items() if o == original]
        survivors = [m for m in cluster if m in set(kept["id"])]
        assert len(survivors) == 1
        if keep == "longest":
            assert len(texts[survivors[0]]) == max(len(texts[m]) for m in cluster)
        elif q[original] is not None:  # copies have no q: the original, which has one, wins
            assert survivors == [original]
    assert set(rejected["id"]) | set(kept.filter(pl.col("dup_cluster_size") > 1)["id"]) == members


def test_minhash_is_deterministic_across_workers(tmp_path):
    rows, _ = near_rows(2)
    files = write_corpus(tmp_path / "in", rows, files=4)
    outs = []
    for workers in (1, 2, 2):
        step = MinHashDedup(MinHashDedup.Config(threshold=0.6), name="minhash_dedup")
        kept, rejected, _ = run_step(step, files, tmp_path / f"w{workers}{len(outs)}", workers)
        outs.append((kept.sort("id"), rejected.sort("id")))
    for kept, rejected in outs[1:]:
        assert kept.equals(outs[0][0]) and rejected.equals(outs[0][1])


def test_repeated_ids_are_an_error(tmp_path):
    rows = [{"id": "same", "text": "one text"}, {"id": "same", "text": "another text"}]
    files = write_corpus(tmp_path / "in", rows)
    with pytest.raises(ValueError, match=r"ids must be unique.*'same' x2"):
        run_step(ExactDedup(name="exact_dedup"), files, tmp_path / "w")


# ---------------------------------------------------------------- dedup_against


def test_dedup_against_reference_and_cache(tmp_path):
    rng = random.Random(9)
    ref_texts = [sentence(rng, 50) for _ in range(20)]
    ref = pl.DataFrame({"doc_id": [f"eval-{i}" for i in range(20)], "content": ref_texts})
    (tmp_path / "ref" / "sub").mkdir(parents=True)
    ref.slice(0, 10).write_parquet(tmp_path / "ref" / "a.parquet")
    ref.slice(10, 10).write_parquet(tmp_path / "ref" / "sub" / "b.parquet")
    rows = [
        {"id": "exact", "text": ref_texts[3]},
        {"id": "spaced", "text": "  " + ref_texts[12].replace(" ", "  ")},
        {"id": "near", "text": mutate(ref_texts[15], rng, 2)},
        *({"id": f"clean{i}", "text": sentence(rng, 50)} for i in range(30)),
    ]
    files = write_corpus(tmp_path / "in", rows)
    cfg = {
        "reference": str(tmp_path / "ref"),
        "text_column": "content",
        "id_column": "doc_id",
        "threshold": 0.6,
        "cache_dir": str(tmp_path / "cache"),
    }
    step = DedupAgainst(DedupAgainst.Config.model_validate(cfg), name="dedup_against")
    step.validate()
    kept, rejected, state = run_step(step, files, tmp_path / "w1")
    got = {r["id"]: (r[REASON_COLUMN], r[DETAIL_COLUMN]) for r in rejected.iter_rows(named=True)}
    assert got == {
        "exact": ("dedup_against:exact_match", "eval-3"),
        "spaced": ("dedup_against:exact_match", "eval-12"),
        "near": ("dedup_against:near_match", "eval-15"),
    }
    assert state.built and kept.height == 30
    index = Path(state.index)
    built_at = json.loads((index / "index.json").read_text())["built_at"]
    # a second fit (another run) reuses the index
    _, rejected2, state2 = run_step(step, files, tmp_path / "w2")
    assert not state2.built and state2.index == state.index
    assert json.loads((index / "index.json").read_text())["built_at"] == built_at
    assert rejected2.sort("id").equals(rejected.sort("id"))
    # a changed reference file is a new index
    ref.slice(10, 10).with_columns(content=pl.lit("changed")).write_parquet(
        tmp_path / "ref" / "sub" / "b.parquet"
    )
    _, rejected3, state3 = run_step(step, files, tmp_path / "w3")
    assert state3.built and state3.index != state.index
    assert set(rejected3["id"]) == {"exact"}


def test_dedup_against_exact_only_and_default_ids(tmp_path):
    (tmp_path / "ref").mkdir()
    ref = pl.DataFrame({"text": ["Some Eval Text", "other"]})
    ref.write_parquet(tmp_path / "ref" / "e.parquet")
    rows = [{"id": "x", "text": "some eval text"}, {"id": "y", "text": "no"}]
    files = write_corpus(tmp_path / "in", rows)
    cfg = DedupAgainst.Config(
        reference=str(tmp_path / "ref" / "*.parquet"),
        near=False,
        exact_normalize={"lowercase": True},
        cache_dir=str(tmp_path / "cache"),
    )
    _, rejected, _ = run_step(DedupAgainst(cfg, name="dedup_against"), files, tmp_path / "w")
    assert rejected["id"].to_list() == ["x"]
    assert rejected[DETAIL_COLUMN].to_list() == ["e.parquet:0"]


def test_exact_dedup_with_fields_compares_pairs(tmp_path):
    """Translation pairs: the same target with another source is not a copy."""
    pairs = [
        ("p1", "你好。", "Hello."),
        ("p2", "你好。", "Hi."),  # same target, another source: kept
        ("p3", "你好。", "hello"),  # p1 after lowercase + punctuation removal
        ("p4", "再见。", "Hello."),  # same source, another target: kept
        ("p5", "你好!", None),  # no source: "" on that side
        ("p6", "你好", None),
    ]
    rows = [
        {"id": i, "text": t, "url": None, "meta": json.dumps({"en": s} if s else {})}
        for i, t, s in pairs
    ]
    files = write_corpus(tmp_path / "in", rows)
    norm = {"lowercase": True, "punctuation": True}
    cfg = ExactDedup.Config.model_validate({"normalize": norm, "with_fields": ["en"]})
    _, rejected, _ = run_step(ExactDedup(cfg, name="exact_dedup"), files, tmp_path / "w")
    assert dict(zip(rejected["id"], rejected[DETAIL_COLUMN], strict=True)) == {
        "p3": "p1",
        "p6": "p5",
    }
    # a top-level column works the same way; without with_fields the text alone decides
    rows = [{**r, "url": s} for r, (_, _, s) in zip(rows, pairs, strict=True)]
    files = write_corpus(tmp_path / "in2", rows)
    cfg = ExactDedup.Config.model_validate({"normalize": norm, "with_fields": ["url"]})
    _, rejected, _ = run_step(ExactDedup(cfg, name="exact_dedup"), files, tmp_path / "w2")
    assert sorted(rejected["id"]) == ["p3", "p6"]
    _, rejected, _ = run_step(
        ExactDedup(ExactDedup.Config.model_validate({"normalize": norm})), files, tmp_path / "w3"
    )
    assert sorted(rejected["id"]) == ["p2", "p3", "p5", "p6"]
