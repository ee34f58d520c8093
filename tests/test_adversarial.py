"""An adversarial user against corpuskit (issue 15): bad bytes, truncated streams, kills,
planted state, hostile recipes and plugins, concurrent runs.

Every case asserts what a user is promised (README, "Guarantees"): a run finishes with
every record accounted for (read == kept + rejected) or stops saying why, nothing outside
the output folder changes, and nothing from the output folder is ever run as code.

The fast cases run in `make test`. The randomized ones take more examples and more kill
points under `make test-adversarial` (CORPUSKIT_ADVERSARIAL_EXAMPLES, default 20 here).
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import gzip
import hashlib
import json
import lzma
import os
import pickle
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import polars as pl
import pytest
import yaml
import zstandard
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpuskit import registry
from corpuskit.engine.ledger import Ledger
from corpuskit.engine.plan import plan_run
from corpuskit.engine.run import run_recipe
from corpuskit.engine.worker import UnitTask, source_batches
from corpuskit.output.layout import LOCK, MARKER, OutputError, OutputLayout
from corpuskit.output.state import StateError, load_state, save_state
from corpuskit.readers.base import InputSpec
from corpuskit.recipe import RecipeError, load_recipe, recipe_from_dict
from corpuskit.schema import DOCUMENT_SCHEMA
from tests.conftest import ROOT, corpuskit_cmd, install_distribution, write_jsonl

EXAMPLES = int(os.environ.get("CORPUSKIT_ADVERSARIAL_EXAMPLES", "20"))
HEAVY = pytest.mark.skipif(
    "CORPUSKIT_ADVERSARIAL_EXAMPLES" not in os.environ,
    reason="heavier randomized variant: run `make test-adversarial`",
)
WORDS = "the market rose as investors weighed new data on growth and prices".split()


# --- helpers -----------------------------------------------------------------------------


def snapshot(root: Path, skip: Path | None = None) -> dict[str, str]:
    """Every file under `root` (but `skip`) with a digest of its bytes."""
    out = {}
    for p in sorted(root.rglob("*")):
        if skip is not None and (p == skip or skip in p.parents):
            continue
        if p.is_file() and not p.is_symlink():
            out[str(p.relative_to(root))] = hashlib.blake2b(p.read_bytes()).hexdigest()
    return out


def corpus(folder: Path, files: int = 2, docs: int = 120, dup_every: int = 10) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        rows: list = []
        for i in range(docs):
            n = (i * 7 + f) % 30 + 5
            rows.append({"text": " ".join(WORDS[(i + k) % len(WORDS)] for k in range(n))})
            if i % dup_every == 0:
                rows.append(rows[-1])
        write_jsonl(folder / f"part-{f}.jsonl", rows)
    return folder


def recipe(src: str | list[str], out: Path, steps=None, **executor) -> dict:
    return {
        "input": {"path": src},
        "output": {"path": str(out)},
        "executor": {"workers": 1, "unit_mb": 0.004, **executor},
        "steps": steps if steps is not None else [{"length_filter": {"min_chars": 30}}],
    }


def run(raw: dict, **kw) -> dict:
    return run_recipe(recipe_from_dict(raw), **kw).manifest


def frames(out: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    def cat(folder: Path) -> pl.DataFrame:
        files = sorted(folder.glob("*.parquet"))
        return pl.concat([pl.read_parquet(p) for p in files]) if files else pl.DataFrame()

    return cat(out / "data"), cat(out / "rejected")


def assert_ledger(out: Path, manifest: dict) -> None:
    kept, rejected = frames(out)
    t = manifest["totals"]
    assert t["read"] == t["kept"] + t["rejected"]
    assert kept.height == t["kept"] and rejected.height == t["rejected"]


class _Collect:
    """A stand-in for the rejected ShardWriter of `source_batches`."""

    def __init__(self) -> None:
        self.frames: list[pl.DataFrame] = []

    def write(self, df: pl.DataFrame) -> None:
        self.frames.append(df)


def read_file(fmt: str, path: Path, unit_bytes: int = 1 << 20, **spec) -> dict:
    """Read one file as a run's stage 0 does (plan, then every unit through the reader and
    the engine's net); returns counts, the documents and the rejects."""
    spec_ = InputSpec(path=str(path), format=fmt, **spec)
    reader = registry.get_reader(fmt)(spec_, 0)
    _, units = reader.plan([path], unit_bytes)
    counts = {"read": 0, "kept": 0, "rejected": 0}
    docs, rejected = [], _Collect()
    for i, unit in enumerate(units):
        task = UnitTask(
            stage=0,
            key=f"{i:05d}",
            entries=(),
            fingerprint="",
            schema_out=dict(DOCUMENT_SCHEMA),
            kept_dir="",
            rejected_dir="",
            marker="",
            max_shard_bytes=1 << 20,
            reader=(fmt, spec_, 0),
            unit=unit,
        )
        for batch, _ in source_batches(task, Ledger(), rejected, counts):
            docs.append(batch)
    kept = pl.concat(docs) if docs else pl.DataFrame(schema=DOCUMENT_SCHEMA)
    rej = pl.concat(rejected.frames) if rejected.frames else pl.DataFrame()
    assert counts["read"] == kept.height + rej.height, counts
    # what is kept can be written: valid UTF-8 strings in the document schema
    kept.select(list(DOCUMENT_SCHEMA)).write_parquet(path.parent / f".{path.name}.check.parquet")
    return {"kept": kept, "rejected": rej, "counts": counts}


# --- 1. the output folder: ownership marker, apart from the inputs -------------------------


def test_overwrite_never_deletes_inputs_in_or_under_the_output(tmp_path):
    project = tmp_path / "project"
    src = corpus(project / "data")
    (project / "rejected").mkdir()
    (project / "rejected" / "notes.txt").write_text("mine")
    before = snapshot(tmp_path)
    for out in (project, project / "data"):
        with pytest.raises(OutputError, match=r"apart from the inputs|inside the input"):
            run(recipe(str(src / "*.jsonl"), out), overwrite=True)
    with pytest.raises(OutputError, match="inside the input"):  # a folder read whole
        run(recipe(str(src), src / "out"), overwrite=True)
    with pytest.raises(OutputError, match="inside the input"):  # a ** glob
        run(recipe(str(project / "**" / "*.jsonl"), project / "x" / "out"))
    assert snapshot(tmp_path) == before


def test_overwrite_only_replaces_a_folder_corpuskit_made(tmp_path):
    src = corpus(tmp_path / "src", files=1)
    out = tmp_path / "mine"
    (out / "data").mkdir(parents=True)
    (out / "data" / "thesis.txt").write_text("years of work")
    before = snapshot(tmp_path)
    with pytest.raises(OutputError, match="not a corpuskit output folder"):
        run(recipe(str(src / "*.jsonl"), out), overwrite=True)
    with pytest.raises(OutputError, match="not empty"):
        run(recipe(str(src / "*.jsonl"), out))
    (out / "manifest.json").write_text('{"my": "own manifest"}')  # not corpuskit's
    before = snapshot(tmp_path)
    with pytest.raises(OutputError, match="not a corpuskit output folder"):
        run(recipe(str(src / "*.jsonl"), out), overwrite=True)
    assert snapshot(tmp_path) == before
    # a folder corpuskit made: --overwrite replaces what it wrote, and only that
    out2 = tmp_path / "out"
    run(recipe(str(src / "*.jsonl"), out2))
    assert (out2 / MARKER).exists()
    (out2 / "README.txt").write_text("notes beside the output")
    m = run(
        recipe(str(src / "*.jsonl"), out2, [{"length_filter": {"min_chars": 5}}]), overwrite=True
    )
    assert (out2 / "README.txt").read_text() == "notes beside the output"
    assert_ledger(out2, m)


# --- 2. fit state is data, never pickle -----------------------------------------------------


class _Boom:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ['CORPUSKIT_PWNED']}",))


def _interrupt_after_fit(monkeypatch, raw: dict) -> None:
    """A run that stops (as if killed) right after stage 1's fit was saved."""
    from corpuskit.engine import local

    real = local.LocalBackend.run_units

    def run_units(self, tasks, progress):
        if tasks and tasks[0].stage == 1:
            raise KeyboardInterrupt("killed after the fit")
        yield from real(self, tasks, progress)

    monkeypatch.setattr(local.LocalBackend, "run_units", run_units)
    with pytest.raises(KeyboardInterrupt):
        run(raw)
    monkeypatch.setattr(local.LocalBackend, "run_units", real)


def test_planted_pickle_in_fit_state_never_runs(tmp_path, monkeypatch):
    pwned = tmp_path / "pwned"
    monkeypatch.setenv("CORPUSKIT_PWNED", str(pwned))
    src = corpus(tmp_path / "src")
    steps = [{"length_filter": {"min_chars": 30}}, {"exact_dedup": {}}]
    ref = tmp_path / "ref"
    run(recipe(str(src / "*.jsonl"), ref, steps))
    out = tmp_path / "out"
    _interrupt_after_fit(monkeypatch, recipe(str(src / "*.jsonl"), out, steps))
    state = out / "_state" / "stage-1.fit"
    assert state.exists() and not state.read_bytes().startswith(b"\x80")  # not a pickle
    state.write_bytes(pickle.dumps(_Boom()))  # the attacker's file, same path
    before = snapshot(tmp_path, skip=out)
    m = run(recipe(str(src / "*.jsonl"), out, steps))
    assert not pwned.exists()
    assert snapshot(tmp_path, skip=out) == before
    assert_ledger(out, m)
    got, want = frames(out), frames(ref)
    assert got[0].equals(want[0]) and got[1].select("id", "reason").equals(
        want[1].select("id", "reason")
    )


def test_state_loader_refuses_pickle_and_foreign_classes(tmp_path, monkeypatch):
    pwned = tmp_path / "pwned"
    monkeypatch.setenv("CORPUSKIT_PWNED", str(pwned))
    p = tmp_path / "s.fit"
    p.write_bytes(pickle.dumps(_Boom()))
    with pytest.raises(StateError):
        load_state(p)
    # a valid state file naming a class that is not an already-imported dataclass
    save_state({"a": 1}, p)
    import zipfile

    with zipfile.ZipFile(p, "w") as z:
        z.writestr(
            "state.json",
            json.dumps(
                {
                    "format": "corpuskit-state/1",
                    "state": {"dataclass": "subprocess:Popen", "fields": {"args": "true"}},
                }
            ),
        )
    with pytest.raises(StateError, match="not a dataclass"):
        load_state(p)
    assert not pwned.exists()


def test_state_round_trip_of_the_built_in_states(tmp_path):
    import numpy as np

    from corpuskit.dedup.fit import FitReport
    from corpuskit.steps.exact_dedup import DedupState

    frame = pl.DataFrame({"id": ["a", "b"], "drop": [None, "a"], "n": [1, 2]})
    state = {
        "dedup": DedupState(frame, FitReport(documents=2, seconds={"fit": 0.5})),
        "series": pl.Series("h", [1, 2, 3], dtype=pl.UInt64),
        "array": np.arange(5, dtype=np.int32),
        "nested": [(1, "x", None, float("inf")), {"k": b"\x00\xff"}],
    }
    save_state(state, tmp_path / "s")
    back = load_state(tmp_path / "s")
    assert back["dedup"].table.equals(frame) and back["dedup"].report == state["dedup"].report
    assert back["series"].equals(state["series"]) and back["array"].tolist() == list(range(5))
    assert back["nested"] == state["nested"]
    with pytest.raises(StateError, match="cannot be saved as data"):
        save_state({"f": lambda: 1}, tmp_path / "t")


# --- 3. bad bytes never stop a run ----------------------------------------------------------


def test_utf16_with_unpaired_surrogate_and_binary_with_nuls(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    good = "first line of a utf-16 file\n"
    (src / "a.txt").write_bytes(
        codecs.BOM_UTF16_LE
        + good.encode("utf-16-le")
        + b"\x00\xd8"  # an unpaired high surrogate
        + "x and the rest survives\n".encode("utf-16-le")
    )
    (src / "b.txt").write_bytes(
        bytes(random.Random(0).randrange(256) for _ in range(5000)) + b"\x00" * 3000
    )
    (src / "c.jsonl").write_bytes(
        codecs.BOM_UTF16_LE + b"\x00\xdc" + '{"text": "after"}\n'.encode("utf-16-le")
    )
    before = snapshot(tmp_path)
    for mode in ("file", "line", "paragraph"):
        for on_error in ("replace", "reject"):
            raw = recipe([str(src / "*.txt")], tmp_path / f"out-{mode}-{on_error}", [])
            raw["input"] |= {"mode": mode, "on_decode_error": on_error}
            m = run(raw)
            assert_ledger(tmp_path / f"out-{mode}-{on_error}", m)
            kept, rejected = frames(tmp_path / f"out-{mode}-{on_error}")
            assert "read:unreadable" not in set(rejected["reason"]) if rejected.height else True
            texts = " ".join(kept["text"].to_list()) if kept.height else ""
            assert "first line of a utf-16 file" in texts
            if on_error == "replace":
                assert "rest survives" in texts
    m = run(recipe([str(src / "*.jsonl")], tmp_path / "out-jsonl", []))
    assert_ledger(tmp_path / "out-jsonl", m)
    assert snapshot(tmp_path, skip=None).keys() >= before.keys()
    assert {k: v for k, v in snapshot(tmp_path).items() if k in before} == before


def test_a_reader_that_raises_becomes_a_reject_with_file_and_offset(tmp_path, monkeypatch):
    from corpuskit.readers.jsonl import JsonlReader

    src = corpus(tmp_path / "src", files=1, docs=400)
    real = JsonlReader.parse_raw

    def flaky(self, data, first_line, unit):
        if unit.start > 0:
            raise MemoryError("simulated: the reader cannot go on")
        return real(self, data, first_line, unit)

    monkeypatch.setattr(JsonlReader, "parse_raw", flaky)
    m = run(recipe(str(src / "*.jsonl"), tmp_path / "out"))
    assert_ledger(tmp_path / "out", m)
    kept, rejected = frames(tmp_path / "out")
    bad = rejected.filter(pl.col("reason") == "read:unreadable")
    assert bad.height >= 1 and kept.height > 0
    assert bad["detail"].str.contains(r"part-0\.jsonl \(from byte \d+").all()
    assert bad["detail"].str.contains("MemoryError").all()


def _reader_files(tmp_path: Path, data: bytes) -> list[tuple[str, Path, dict]]:
    names = {
        "jsonl": "x.jsonl",
        "csv": "x.csv",
        "tsv": "x.tsv",
        "text": "x.txt",
        "labelled_text": "x.labelled",
        "parquet": "x.parquet",
        "html": "x.html",
        "email": "x.eml",
        "warc": "x.warc",
    }
    out = []
    for fmt in sorted(registry.readers()):
        p = tmp_path / names.get(fmt, f"x.{fmt}")
        p.write_bytes(data)
        modes = [{"mode": m} for m in ("file", "line", "paragraph")] if fmt == "text" else [{}]
        out.extend((fmt, p, extra) for extra in modes)
    return out


_SOUP = st.one_of(
    st.binary(max_size=3000),
    st.lists(
        st.sampled_from(
            [
                b"\n",
                b"\r\n",
                b"\x00",
                b"\xff\xfe",
                b"\xfe\xff",
                b"\xef\xbb\xbf",
                b"{",
                b"}",
                b'"text"',
                b":",
                b",",
                b'"',
                b"\\u",
                b"\\ud800",
                b"\xd8\x00",
                b"\xc3",
                b"\xa9",
                b"\x1f\x8b",
                b"PAR1",
                b"WARC/1.0\r\n",
                b"Content-Length: 99\r\n\r\n",
                b"<html>",
                b"<p>",
                b"</p>",
                b"From: a@b\n",
                b"Subject: =?utf-8?b?",
                b"\t",
                b"a",
                b"text",
                b"\xe4\xb8\xad",
                b"\xd6\xd0",
                b" ",
                b"1e999",
                b"[",
                b"]",
                b"null",
            ]
        ),
        max_size=400,
    ).map(b"".join),
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=_SOUP)
def test_byte_soups_through_every_reader(tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("soup")
    for fmt, path, extra in _reader_files(tmp, data):
        read_file(fmt, path, unit_bytes=512, **extra)


def test_hostile_files_among_good_ones_in_one_run(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    good = [{"text": f"good document number {i} " + " ".join(WORDS)} for i in range(50)]
    write_jsonl(src / "good.jsonl", good)
    (src / "empty.jsonl").write_bytes(b"")
    (src / "escapes.jsonl").write_text(
        '{"text": "lone \\ud800 surrogate"}\n{"text": "pair \\ud83d\\ude00 ok"}\n'
        '{"text": "nul \\u0000 inside"}\n'
    )
    (src / "huge-line.jsonl").write_text(json.dumps({"text": "word " * 400_000}) + "\n")
    (src / "nuls.jsonl").write_bytes(b'{"text": "a"}\n\x00\x00\x00\n{"text": "b"}\n')
    (src / "cut.jsonl.gz").write_bytes(gzip.compress(b'{"text": "x"}\n' * 1000)[:-10])
    (src / "csv.csv").write_bytes(b'text,n\n"quoted, with a NUL \x00",1\n"unclosed,2\n')
    (src / "bad.parquet").write_bytes(b"PAR1 this is not parquet PAR1")
    (src / "empty.parquet").write_bytes(b"")
    inputs = [
        {"path": str(src / "*.jsonl*")},
        {"path": str(src / "*.csv")},
        {"path": str(src / "*.parquet")},
    ]
    raw = recipe("", tmp_path / "out", [{"length_filter": {"min_chars": 1}}])
    raw["input"] = inputs
    before = snapshot(tmp_path)
    m = run(raw)
    assert_ledger(tmp_path / "out", m)
    assert snapshot(tmp_path, skip=tmp_path / "out") == before
    kept, rejected = frames(tmp_path / "out")
    assert set(kept["text"]) >= {g["text"] for g in good}
    reasons = set(rejected["reason"])
    assert {"read:unreadable", "read:truncated_input"} <= reasons, reasons
    unreadable = rejected.filter(pl.col("reason") == "read:unreadable")["detail"].to_list()
    assert any("bad.parquet" in d for d in unreadable) and any(
        "empty.parquet" in d for d in unreadable
    )


def test_a_symlinked_output_into_an_input_is_refused(tmp_path):
    src = corpus(tmp_path / "src", files=1)
    (tmp_path / "link").symlink_to(src)
    before = snapshot(tmp_path)
    with pytest.raises(OutputError):
        run(recipe(str(src / "*.jsonl"), tmp_path / "link"), overwrite=True)
    with pytest.raises(OutputError):
        run(recipe(str(tmp_path / "link" / "*.jsonl"), src), overwrite=True)
    assert snapshot(tmp_path) == before


def test_non_string_text_is_rejected_with_a_reason(tmp_path):
    p = write_jsonl(
        tmp_path / "t.jsonl",
        [
            {"text": "a real text"},
            {"text": 42},
            {"text": ["a", "list"]},
            {"text": {"o": 1}},
            {"text": 1.5},
        ],
    )
    got = read_file("jsonl", p)
    assert got["kept"]["text"].to_list() == ["a real text"]
    assert got["rejected"]["reason"].to_list().count("read:text_not_a_string") == 4
    only_numbers = write_jsonl(tmp_path / "n.jsonl", [{"text": 1}, {"text": 2}])
    got = read_file("jsonl", only_numbers)
    assert got["kept"].height == 0 and set(got["rejected"]["reason"]) == {"read:text_not_a_string"}
    pq = tmp_path / "n.parquet"
    pl.DataFrame({"text": [1, 2, 3]}).write_parquet(pq)
    got = read_file("parquet", pq)
    assert got["kept"].height == 0 and got["rejected"].height == 3


def test_a_file_mixing_encodings_is_flagged_not_garbled(tmp_path):
    lines = ["中文新闻报道的内容", "café crème brûlée", "plain ascii", "另一行中文"]
    data = (
        lines[0].encode("gbk")
        + b"\n"
        + lines[1].encode("utf-8")
        + b"\n"
        + lines[2].encode()
        + b"\n"
        + lines[3].encode("utf-8")
        + b"\n"
    )
    p = tmp_path / "mixed.txt"
    p.write_bytes(data)
    got = read_file("text", p, mode="line", encoding="gb18030")
    kept = got["kept"]
    assert kept["text"].to_list() == lines
    assert kept["flags"].to_list() == [[], ["encoding_mixed"], [], ["encoding_mixed"]]
    got = read_file("text", p, mode="file", encoding="gb18030")
    assert got["kept"]["flags"].to_list() == [["encoding_mixed"]]
    # detected, not given: the legacy encoding is judged on the lines that are not UTF-8
    got = read_file("text", p, mode="line")
    assert got["kept"]["text"].to_list() == lines
    assert got["kept"]["flags"].to_list() == [[], ["encoding_mixed"], [], ["encoding_mixed"]]
    french = "Ceci est un texte français, très joli."
    chinese = "中文新闻报道的内容很长很长的一段话"
    p.write_bytes(french.encode("cp1252") + b"\n" + chinese.encode("utf-8") + b"\n")
    got = read_file("text", p, mode="line")
    assert got["kept"]["text"].to_list() == [french, chinese]
    assert got["kept"]["flags"].to_list() == [[], ["encoding_mixed"]]


# --- 4. a recipe is bounded before anything runs ---------------------------------------------

BOMB = textwrap.dedent(
    """\
    input: {path: "x/*.jsonl"}
    output: {path: out}
    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
    b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
    c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
    d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
    e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
    f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
    g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
    h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
    steps:
      - spacy_label: {patterns: [{label: X, pattern: x, id: *h}]}
    """
)


def test_alias_bomb_recipe_is_refused_and_validate_says_so(tmp_path):
    r = tmp_path / "bomb.yaml"
    r.write_text(BOMB)
    assert len(BOMB) < 800
    with pytest.raises(RecipeError, match="expands to over"):
        load_recipe(r)
    from corpuskit.cli import main

    res = CliRunner().invoke(main, ["validate", str(r)])
    assert res.exit_code != 0 and "expands to over" in res.output
    ok = tmp_path / "ok.yaml"  # small aliases stay allowed
    ok.write_text('input: &i {path: "x/*.jsonl"}\noutput: {path: out}\nx: [*i, *i]\n')
    with pytest.raises(RecipeError, match="unknown key"):  # loads, then pydantic judges
        load_recipe(ok)


def test_self_referencing_and_deeply_nested_recipes_are_refused(tmp_path):
    r = tmp_path / "r.yaml"
    r.write_text('input: &i {path: "x", more: *i}\noutput: {path: out}\n')
    with pytest.raises(RecipeError):
        load_recipe(r)
    r.write_text("input: " + "[" * 1200 + "]" * 1200 + "\noutput: {path: out}\n")
    with pytest.raises(RecipeError, match="nests too deeply"):
        load_recipe(r)


# --- 5. workers die with the driver -----------------------------------------------------------


def _children(pid: int) -> list:
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _cmdline(proc) -> str:
    """A child's command line, or "" when it has already exited (zombie or reaped)."""
    import psutil

    try:
        return " ".join(proc.cmdline())
    except (psutil.ZombieProcess, psutil.NoSuchProcess):
        return ""


def _kill_driver_early(tmp_path: Path, delay: float) -> list:
    import psutil

    src = corpus(tmp_path / "src", files=4, docs=300)
    out = tmp_path / "out"
    rf = tmp_path / "r.yaml"
    rf.write_text(yaml.safe_dump(recipe(str(src / "*.jsonl"), out, workers=2)))
    proc = subprocess.Popen([*corpuskit_cmd(), "run", str(rf), "--quiet"], cwd=ROOT)
    kids: list = []
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not kids:
        kids = _children(proc.pid)
        time.sleep(0.01)
    time.sleep(delay)
    kids = kids + [k for k in _children(proc.pid) if k not in kids]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    _, alive = psutil.wait_procs(kids, timeout=10)
    for k in alive:  # leave nothing behind, whatever the outcome
        k.kill()
    return alive


@pytest.mark.slow
def test_workers_die_with_a_driver_killed_as_the_pool_starts(tmp_path):
    assert _kill_driver_early(tmp_path, 0.0) == []


@HEAVY
@pytest.mark.parametrize("delay", [0.05, 0.3, 0.8, 1.5])
def test_workers_die_with_the_driver_at_random_moments(tmp_path, delay):
    assert _kill_driver_early(tmp_path, delay) == []


# --- 6. resume identity covers content -----------------------------------------------------


def test_resume_identity_covers_input_and_step_file_content(tmp_path):
    src = corpus(tmp_path / "src", files=1)
    terms = tmp_path / "terms.txt"
    terms.write_text("casino\nlottery\n")
    steps = [{"ad_filter": {"term_files": [str(terms)]}}]
    raw = recipe(str(src / "*.jsonl"), tmp_path / "out", steps)

    def fp() -> str:
        return plan_run(recipe_from_dict(raw)).fingerprint()

    first = fp()
    assert fp() == first

    def edit_in_place(path: Path, old: bytes, new: bytes) -> None:
        st_ = path.stat()
        data = path.read_bytes()
        assert len(old) == len(new) and old in data
        path.write_bytes(data.replace(old, new, 1))
        os.utime(path, ns=(st_.st_atime_ns, st_.st_mtime_ns))

    edit_in_place(terms, b"casino", b"bingos")
    assert fp() != first
    edit_in_place(terms, b"bingos", b"casino")
    assert fp() == first
    edit_in_place(src / "part-0.jsonl", b"market", b"MARKET")
    assert fp() != first


def test_resume_after_a_step_file_changed_is_refused(tmp_path, monkeypatch):
    src = corpus(tmp_path / "src")
    terms = tmp_path / "terms.txt"
    terms.write_text("casino\nlottery\n")
    steps = [{"ad_filter": {"term_files": [str(terms)]}}, {"exact_dedup": {}}]
    raw = recipe(str(src / "*.jsonl"), tmp_path / "out", steps)
    _interrupt_after_fit(monkeypatch, raw)
    st_ = terms.stat()
    terms.write_text("market\nlottery\n")
    os.utime(terms, ns=(st_.st_atime_ns, st_.st_mtime_ns))
    with pytest.raises(OutputError, match="interrupted run of a different recipe or input"):
        run(raw)


# --- 7. truncated compression ---------------------------------------------------------------

_COMPRESS = {
    ".gz": lambda b: gzip.compress(b, mtime=0),
    ".zst": lambda b: b"".join(  # several frames, cut anywhere
        zstandard.ZstdCompressor(level=3).compress(b[i : i + 700]) for i in range(0, len(b), 700)
    ),
    ".bz2": bz2.compress,
    ".xz": lzma.compress,
}


def _lines(n: int) -> list[str]:
    return [
        f"document {i}: " + " ".join(WORDS[(i + k) % len(WORDS)] for k in range(i % 9 + 3))
        for i in range(n)
    ]


def _check_truncated(tmp: Path, suffix: str, cut: int, fmt: str) -> None:
    texts = _lines(200)
    if fmt == "jsonl":
        raw = "".join(json.dumps({"text": t}) + "\n" for t in texts).encode()
    else:
        raw = "".join(t + "\n" for t in texts).encode()
    whole = _COMPRESS[suffix](raw)
    cut = min(cut, len(whole))
    p = tmp / f"t-{cut}.{'jsonl' if fmt == 'jsonl' else 'txt'}{suffix}"
    p.write_bytes(whole[:cut])
    got = read_file(fmt, p, **({"mode": "line"} if fmt == "text" else {}))
    kept = got["kept"]["text"].to_list()
    assert kept == texts[: len(kept)], "kept documents are a prefix of the file"
    reasons = set(got["rejected"]["reason"]) if got["rejected"].height else set()
    if 0 < cut < len(whole):  # (an empty file is an empty input)
        assert reasons & {"read:truncated_input", "read:unreadable"}, (suffix, cut, reasons)
    elif cut == len(whole):
        assert kept == texts and not reasons


@pytest.mark.parametrize("suffix", sorted(_COMPRESS))
def test_truncated_compression_is_a_reject_never_a_silent_loss(tmp_path, suffix):
    whole = len(_COMPRESS[suffix](b"".join(t.encode() + b"\n" for t in _lines(200))))
    rng = random.Random(suffix)
    cuts = {0, 1, 4, 10, 18, whole - 1, whole, *(rng.randrange(1, whole) for _ in range(6))}
    for cut in sorted(cuts):
        _check_truncated(tmp_path, suffix, cut, "text")


def test_zstd_cut_at_a_frame_or_block_boundary_or_after_the_header(tmp_path):
    data = b"".join(t.encode() + b"\n" for t in _lines(200))
    c = zstandard.ZstdCompressor(level=3)
    one = c.compress(data)
    header_only = one[:6]
    p = tmp_path / "h.txt.zst"
    p.write_bytes(header_only)
    got = read_file("text", p, mode="line")
    assert got["kept"].height == 0 and set(got["rejected"]["reason"]) == {"read:truncated_input"}
    # a stream of blocks flushed one by one, cut after a complete block
    obj = c.compressobj()
    first = obj.compress(data[:3000]) + obj.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
    rest = obj.compress(data[3000:]) + obj.flush()
    p.write_bytes(first)
    assert len(first) < len(first + rest)
    got = read_file("text", p, mode="line")
    assert "read:truncated_input" in set(got["rejected"]["reason"])
    assert 0 < got["kept"].height < 200


def test_a_plain_file_named_gz_keeps_its_text(tmp_path):
    p = tmp_path / "plain.jsonl.gz"
    p.write_text('{"text": "not compressed at all"}\n{"text": "second"}\n')
    got = read_file("jsonl", p)
    assert got["kept"]["text"].to_list() == ["not compressed at all", "second"]
    t = tmp_path / "plain.txt.zst"
    t.write_text("a plain text named zst\n")
    assert read_file("text", t)["kept"]["text"].to_list() == ["a plain text named zst\n"]


@HEAVY
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    suffix=st.sampled_from(sorted(_COMPRESS)),
    cut=st.integers(0, 4000),
    fmt=st.sampled_from(["jsonl", "text"]),
)
def test_truncated_compression_randomized(tmp_path_factory, suffix, cut, fmt):
    _check_truncated(tmp_path_factory.mktemp("cut"), suffix, cut, fmt)


# --- 8. one run per output folder -----------------------------------------------------------


def test_a_second_run_into_the_same_output_is_refused_naming_the_first(tmp_path):
    src = corpus(tmp_path / "src", files=1)
    out = tmp_path / "out"
    with (
        OutputLayout(out).lock(),
        pytest.raises(OutputError, match=rf"in use by another corpuskit run \(pid {os.getpid()}"),
    ):
        run(recipe(str(src / "*.jsonl"), out))
    m = run(recipe(str(src / "*.jsonl"), out))  # released: runs
    assert_ledger(out, m)
    assert (out / LOCK).exists()


@pytest.mark.slow
def test_two_concurrent_processes_one_waits_out(tmp_path, plugin_site):
    src = corpus(tmp_path / "src", files=3, docs=300)
    out = tmp_path / "out"
    rf = tmp_path / "r.yaml"
    rf.write_text(
        yaml.safe_dump(recipe(str(src / "*.jsonl"), out, [{"slow_identity": {"seconds": 0.2}}]))
    )
    env = plugin_site
    cmd = [*corpuskit_cmd(), "run", str(rf), "--quiet"]
    first = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "_state" / "run.json").exists():
        time.sleep(0.02)
    second = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert first.wait(timeout=300) == 0, first.stderr.read()
    assert second.returncode == 1
    assert f"in use by another corpuskit run (pid {first.pid}" in " ".join(second.stderr.split())
    m = json.loads((out / "manifest.json").read_text())
    assert_ledger(out, m)


# --- kill -9 of the driver or a worker, two stages with a global step ------------------------


def _kill_and_resume(tmp_path: Path, kills: list[tuple[str, float]], env: dict) -> None:
    import psutil

    src = corpus(tmp_path / "src", files=4, docs=400)
    steps = [
        {"slow_identity": {"seconds": 0.03}},
        {"length_filter": {"min_chars": 30}},
        {"first_copy": {}},
        {"slow_identity": {"seconds": 0.03}},
    ]
    ref = tmp_path / "ref"
    run(recipe(str(src / "*.jsonl"), ref, [s for s in steps if "slow_identity" not in s]))
    out = tmp_path / "out"
    rf = tmp_path / "r.yaml"
    rf.write_text(yaml.safe_dump(recipe(str(src / "*.jsonl"), out, steps, workers=2)))
    cmd = [*corpuskit_cmd(), "run", str(rf), "--quiet"]
    before = snapshot(tmp_path, skip=out)
    for who, delay in kills:
        proc = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None and not _children(proc.pid):
            time.sleep(0.01)
        time.sleep(delay)
        if proc.poll() is None:
            kids = _children(proc.pid)
            workers = [k for k in kids if _cmdline(k) and "resource_tracker" not in _cmdline(k)]
            if who == "worker" and workers:
                workers[0].kill()
                proc.wait(timeout=120)
            else:
                proc.kill()
                proc.wait()
            psutil.wait_procs(kids, timeout=10)
            assert all(not k.is_running() or k.status() == psutil.STATUS_ZOMBIE for k in kids)
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert snapshot(tmp_path, skip=out) == before
    m = json.loads((out / "manifest.json").read_text())
    assert_ledger(out, m)
    got, want = frames(out), frames(ref)
    assert got[0].equals(want[0])
    assert (
        got[1].select("id", "reason").sort("id").equals(want[1].select("id", "reason").sort("id"))
    )


@pytest.mark.slow
def test_kill_9_driver_and_worker_then_resume_is_identical(tmp_path, plugin_site):
    _kill_and_resume(tmp_path, [("worker", 1.0), ("driver", 2.5)], plugin_site)


@HEAVY
@pytest.mark.parametrize("seed", range(4))
def test_kill_9_at_random_moments_then_resume_is_identical(tmp_path, seed, plugin_site):
    rng = random.Random(seed)
    kills = [(rng.choice(["driver", "worker"]), rng.uniform(0.0, 4.0)) for _ in range(3)]
    _kill_and_resume(tmp_path, kills, plugin_site)


# --- a node of a two-node Ray cluster killed mid-run ------------------------------------------


def _ray(args: list[str], env: dict) -> None:
    ray_cli = Path(sys.executable).with_name("ray")
    p = subprocess.run([str(ray_cli), *args], env=env, capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stderr[-3000:]


def _cluster_processes(temp: Path) -> list:
    import psutil

    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            if str(temp) in " ".join(proc.info["cmdline"] or []):
                found.append(proc)
    return found


@pytest.mark.slow
def test_ray_two_nodes_one_killed_mid_run_equals_local(tmp_path, plugin_site):
    """`ray start --head` plus a second `ray start --address` node on this machine; the
    second node (its raylet and workers) is killed with SIGKILL in the middle of stage 0.
    Ray retries the lost units on the head; the run (or its resume) equals the local one."""
    import socket

    import psutil

    pytest.importorskip("ray", reason="ray is not installed (pip install 'corpuskit[ray]')")
    temp = Path(tempfile.mkdtemp(prefix="rk", dir="/tmp"))  # short: Ray's socket paths
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **plugin_site,
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": hashlib.sha256(str(temp).encode()).hexdigest(),
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    src = corpus(tmp_path / "src", files=3, docs=300)
    steps = [
        {"slow_identity": {"seconds": 0.15}},
        {"length_filter": {"min_chars": 30}},
        {"first_copy": {}},
    ]
    want = tmp_path / "want"
    run(recipe(str(src / "*.jsonl"), want, steps[1:]))
    out = tmp_path / "out"
    raw = recipe(str(src / "*.jsonl"), out, steps)
    raw["executor"] = {"unit_mb": 0.004, "kind": "ray", "address": f"127.0.0.1:{port}"}
    rf = tmp_path / "r.yaml"
    rf.write_text(yaml.safe_dump(raw))
    try:
        head = ["start", "--head", f"--port={port}", "--num-cpus=1", f"--temp-dir={temp}"]
        _ray([*head, "--include-dashboard=false", "--disable-usage-stats"], env)
        second = ["start", f"--address=127.0.0.1:{port}", "--num-cpus=1"]
        _ray([*second, '--resources={"second_node": 1}', "--disable-usage-stats"], env)
        cmd = [*corpuskit_cmd(), "run", str(rf), "--quiet"]
        before = snapshot(tmp_path, skip=out)
        proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
        markers = out / "_state" / "stage-0"
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None:
            if markers.exists() and len(list(markers.glob("*.json"))) >= 2:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before the node was killed"
        raylets = [
            p
            for p in _cluster_processes(temp)
            if "raylet" in p.name() and "second_node" in _cmdline(p)
        ]
        assert len(raylets) == 1
        node = [raylets[0], *raylets[0].children(recursive=True)]
        for p in node:
            with contextlib.suppress(psutil.Error):
                p.kill()
        code = proc.wait(timeout=600)
        print(f"run after the kill: exit {code}; {proc.stderr.read()[-500:]}")
        if code != 0:  # the run stopped saying why: the same command resumes it
            p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
            assert p.returncode == 0, p.stderr[-3000:]
        assert snapshot(tmp_path, skip=out) == before
        m = json.loads((out / "manifest.json").read_text())
        assert_ledger(out, m)
        got, ref = frames(out), frames(want)
        assert got[0].equals(ref[0])
        assert got[1].select("id", "reason").equals(ref[1].select("id", "reason"))
    finally:
        for p in _cluster_processes(temp):
            with contextlib.suppress(psutil.Error):
                p.kill()
        shutil.rmtree(temp, ignore_errors=True)


# --- 10. hostile plugins ---------------------------------------------------------------------


@pytest.fixture
def hostile_site(tmp_path, monkeypatch):
    site = tmp_path / "hostile-site"
    env = install_distribution(
        site,
        "corpuskit-hostile",
        "[corpuskit.steps]\n"
        "exits_on_import = corpuskit_hostile_exit:Step\n"
        "fix_unicode = corpuskit_hostile_shadow:Step\n",
        monkeypatch,
        version="6.6.6",
    )
    (site / "corpuskit_hostile_exit.py").write_text("import sys\nsys.exit(3)\n")
    (site / "corpuskit_hostile_shadow.py").write_text(
        "from corpuskit.steps import MapStep\n"
        "class Step(MapStep):\n"
        "    def map(self, batch):\n"
        "        return batch.with_columns(text=batch['text'].str.replace_all('.', 'X'))\n"
    )
    registry.refresh()
    yield env
    registry.refresh()


def test_hostile_plugins_are_contained_and_named(hostile_site, tmp_path):
    with pytest.warns(
        registry.PluginWarning, match="corpuskit-hostile also registers 'fix_unicode'"
    ):
        found = registry.discover("steps")
    from corpuskit.steps.fix_unicode import FixUnicode

    assert found.loaded["fix_unicode"] is FixUnicode
    assert "exits_on_import" in found.errors
    assert "SystemExit" in found.errors["exits_on_import"]
    assert "corpuskit-hostile" in found.errors["exits_on_import"]
    # every command still works, in a fresh process too
    src = corpus(tmp_path / "src", files=1)
    rf = tmp_path / "r.yaml"
    rf.write_text(
        yaml.safe_dump(recipe(str(src / "*.jsonl"), tmp_path / "out", [{"fix_unicode": {}}]))
    )

    def cli(*args: str) -> tuple[int, str]:
        p = subprocess.run(
            [*corpuskit_cmd(), *args], env=hostile_site, capture_output=True, text=True
        )
        return p.returncode, " ".join(p.stderr.split())

    code, stderr = cli("run", str(rf), "--quiet")
    assert code == 0, stderr
    assert "fix_unicode" in stderr and "corpuskit-hostile" in stderr
    kept, _ = frames(tmp_path / "out")
    assert not kept["text"].str.contains("XXXX").any()
    code, stderr = cli("validate", str(rf))
    assert code == 0, stderr
    recipe_exit = tmp_path / "e.yaml"
    recipe_exit.write_text(
        yaml.safe_dump(recipe(str(src / "*.jsonl"), tmp_path / "out2", [{"exits_on_import": {}}]))
    )
    code, stderr = cli("validate", str(recipe_exit))
    assert code != 0
    assert "exits_on_import" in stderr and "SystemExit" in stderr


# --- 11. declared dependencies --------------------------------------------------------------


def test_every_imported_html_dependency_is_declared():
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {
        d.split(">")[0].split("=")[0].split("[")[0].strip().lower().replace("-", "_") for d in deps
    }
    assert "lxml_html_clean" in names
    import lxml_html_clean  # noqa: F401 - installed by `pip install .`


def test_nothing_outside_the_output_changes_on_a_full_run(tmp_path):
    src = corpus(tmp_path / "src")
    before = snapshot(tmp_path)
    out = tmp_path / "out"
    m = run(recipe(str(src / "*.jsonl"), out, [{"exact_dedup": {}}], workers=2))
    assert snapshot(tmp_path, skip=out) == before
    assert_ledger(out, m)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
