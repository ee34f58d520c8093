"""spaCy's English tokenizer rules, in pure Python over data exported from spaCy 3.8
(`corpuskit/data/quality/en_tokenizer.json`, MIT licence): the tokenizer datatrove's filters
use, for one whitespace-free chunk at a time (see `corpuskit.text.segment`)."""

from __future__ import annotations

import json
import re
from importlib.resources import files
from importlib.resources.abc import Traversable

DATA: Traversable = files("corpuskit") / "data" / "quality"


class EnglishRules:
    """spaCy's English tokenizer (spacy.blank('en')) for one whitespace-free chunk.

    Same algorithm as spacy/tokenizer.pyx: special cases, then prefixes and suffixes peeled in
    a loop, URL match, infixes, and the final special-case pass that re-merges token sequences
    such as "Minn" "." -> "Minn." (applied within the chunk).
    """

    def __init__(self) -> None:
        raw = json.loads((DATA / "en_tokenizer.json").read_text(encoding="utf-8"))
        self._prefix = re.compile(raw["prefix"]).search
        self._suffix = re.compile(raw["suffix"]).search
        self._infix = re.compile(raw["infix"]).finditer
        self._url = re.compile(raw["url"]).match
        self.specials: dict[str, list[str]] = raw["specials"]
        self._phrases: dict[tuple[str, ...], list[str]] = {}
        for text, orths in self.specials.items():
            if (
                self._prefix(text)
                or self._suffix(text)
                or any(True for _ in self._infix(text))
                or " " in text
            ):
                self._phrases.setdefault(tuple(self._affixes(text, {})), orths)
        self._max_phrase = max(len(p) for p in self._phrases)
        self._phrase_starts = {p[0] for p in self._phrases}

    def _split_affixes(
        self, s: str, specials: dict[str, list[str]]
    ) -> tuple[str, list[str], list[str]]:
        prefixes: list[str] = []
        suffixes: list[str] = []
        last = 0
        while s and len(s) != last:
            if s in specials:
                break
            last = len(s)
            m = self._prefix(s)
            pre_len = m.end() - m.start() if m else 0
            prefix = minus_pre = ""
            if pre_len:
                prefix, minus_pre = s[:pre_len], s[pre_len:]
                if minus_pre and minus_pre in specials:
                    prefixes.append(prefix)
                    s = minus_pre
                    break
            m = self._suffix(s[pre_len:])
            suf_len = m.end() - m.start() if m else 0
            suffix = minus_suf = ""
            if suf_len:
                suffix, minus_suf = s[-suf_len:], s[:-suf_len]
                if minus_suf and minus_suf in specials:
                    suffixes.append(suffix)
                    s = minus_suf
                    break
            if pre_len and suf_len and pre_len + suf_len <= len(s):
                s = s[pre_len:-suf_len]
                prefixes.append(prefix)
                suffixes.append(suffix)
            elif pre_len:
                s = minus_pre
                prefixes.append(prefix)
            elif suf_len:
                s = minus_suf
                suffixes.append(suffix)
        return s, prefixes, suffixes

    def _affixes(self, chunk: str, specials: dict[str, list[str]]) -> list[str]:
        if chunk in specials:
            return list(specials[chunk])
        s, out, suffixes = self._split_affixes(chunk, specials)
        if s:
            if s in specials:
                out.extend(specials[s])
            elif self._url(s):
                out.append(s)
            else:
                start = 0
                for m in self._infix(s):
                    a, b = m.start(), m.end()
                    if a == 0:
                        continue
                    if a != start:
                        out.append(s[start:a])
                    if a != b:
                        out.append(s[a:b])
                    start = b
                if s[start:]:
                    out.append(s[start:])
        out.extend(reversed(suffixes))
        return out

    def tokenize(self, chunk: str) -> list[str]:
        """The tokens spaCy makes of one whitespace-free chunk."""
        if (chunk.isalpha() or (chunk.isascii() and chunk.isdigit())) and (
            chunk not in self.specials
        ):
            return [chunk]  # no prefix, suffix, infix or URL rule applies to letters alone
        toks = self._affixes(chunk, self.specials)
        if not any(t in self._phrase_starts for t in toks):
            return toks
        n = len(toks)
        matches = [
            (i, i + k)
            for i in range(n)
            if toks[i] in self._phrase_starts
            for k in range(1, min(self._max_phrase, n - i) + 1)
            if tuple(toks[i : i + k]) in self._phrases
        ]
        if not matches:
            return toks
        matches.sort(key=lambda m: (m[1] - m[0], m[0]))
        seen: set[int] = set()
        chosen = []
        for s, e in reversed(matches):  # longest first, like spaCy's _filter_special_spans
            if s not in seen and e - 1 not in seen:
                chosen.append((s, e))
            seen.update(range(s, e))
        out: list[str] = []
        i = 0
        for s, e in sorted(chosen):
            out.extend(toks[i:s])
            out.extend(self._phrases[tuple(toks[s:e])])
            i = e
        out.extend(toks[i:])
        return out


def export_english_rules(path: str) -> None:
    """Write spaCy's English tokenizer rules to `path` (needs spaCy; how en_tokenizer.json was
    made: `python -m corpuskit.text.english corpuskit/data/quality/en_tokenizer.json`)."""
    import spacy

    t = spacy.blank("en").tokenizer
    orth = spacy.attrs.ORTH
    out = {
        "source": f"spaCy {spacy.__version__} English tokenizer (spacy.blank('en')), MIT licence",
        "prefix": t.prefix_search.__self__.pattern,
        "suffix": t.suffix_search.__self__.pattern,
        "infix": t.infix_finditer.__self__.pattern,
        "url": t.url_match.__self__.pattern,
        "specials": {k: [tok[orth] for tok in v] for k, v in t.rules.items()},
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=0, sort_keys=True)


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    import sys

    export_english_rules(sys.argv[1])
