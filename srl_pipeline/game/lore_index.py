"""A lexical (BM25) index over a species' lore passages: the offline Lore Retriever's index.

Serialisable to plain JSON so the `lore_index` artifact needs no pickle.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from .lore import SpeciesLore

_WORD = re.compile(r"[a-z][a-z']+")
STOPWORDS = frozenset("""a an and are as at be but by for from has have he her his i in into is it its
of on or our she so than that the their them then there they this to was were will with you your
not no do does did who what when where which while""".split())


def tokenize(text: str) -> list[str]:
    return [w.strip("'") for w in _WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 2]


@dataclass
class LoreIndex:
    species: str
    lore_hash: str
    doc_ids: list[str]
    doc_lengths: list[int]
    term_freqs: list[dict[str, int]]
    doc_freq: dict[str, int]
    k1: float = 1.5
    b: float = 0.75

    @classmethod
    def build(cls, lore: SpeciesLore, k1: float = 1.5, b: float = 0.75) -> "LoreIndex":
        ids, lengths, tfs = [], [], []
        df: Counter = Counter()
        for p in lore.passages:
            tokens = tokenize(f"{p.title} {p.text} {' '.join(p.actions)} {p.kind}")
            tf = Counter(tokens)
            ids.append(p.id)
            lengths.append(len(tokens))
            tfs.append(dict(tf))
            df.update(tf.keys())
        return cls(lore.species, lore.content_hash, ids, lengths, tfs, dict(df), k1, b)

    @property
    def vocabulary_size(self) -> int:
        return len(self.doc_freq)

    def search(self, query: str, k: int = 5) -> list[tuple[str, float]]:
        """Top-k passage ids by BM25 score (ties broken by id for determinism)."""
        terms = tokenize(query)
        n = len(self.doc_ids)
        avg = (sum(self.doc_lengths) / n) if n else 0.0
        scores = []
        for i, tf in enumerate(self.term_freqs):
            s = 0.0
            for t in terms:
                f = tf.get(t)
                if not f:
                    continue
                idf = math.log(1 + (n - self.doc_freq[t] + 0.5) / (self.doc_freq[t] + 0.5))
                s += idf * f * (self.k1 + 1) / (f + self.k1 * (1 - self.b + self.b * self.doc_lengths[i] / (avg or 1)))
            if s > 0:
                scores.append((self.doc_ids[i], s))
        scores.sort(key=lambda x: (-x[1], x[0]))
        return scores[:k]

    def to_dict(self) -> dict[str, Any]:
        return {"species": self.species, "lore_hash": self.lore_hash, "doc_ids": self.doc_ids,
                "doc_lengths": self.doc_lengths, "term_freqs": self.term_freqs, "doc_freq": self.doc_freq,
                "k1": self.k1, "b": self.b}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LoreIndex":
        return cls(d["species"], d["lore_hash"], list(d["doc_ids"]), list(d["doc_lengths"]),
                   [dict(t) for t in d["term_freqs"]], dict(d["doc_freq"]), float(d["k1"]), float(d["b"]))
