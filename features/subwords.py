"""Word vectors learned from the corpus itself (nothing is downloaded): fastText-style skip-gram, where a
word's vector is the mean of its own row and the rows of its hashed character 3–5-grams, so inflected and
unseen words still get a vector. Trained in torch on the CPU, within a time budget.

``SubwordVectors`` is a small estimator: ``fit(texts)`` learns the table, ``vectors(words)`` composes word
vectors, ``save``/``load`` round-trip it as an npz read with ``allow_pickle=False``. ``corpus_vectors``
fits it once per corpus fingerprint and parameters and caches the file (``.cache/vectors/``, or under
``$CTFRAME_CACHE``).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import time
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator

from ctframe import PROJECT_ROOT, CtframeError, locked
from ctframe.features.arabic import build_table, normalize_text

VERSION = 1  # of the training code: raise it when a change alters the vectors, so caches are refitted
CACHE_ENV = "CTFRAME_CACHE"  # where learned representations are cached (default: the project's .cache/)
_TOKEN = re.compile(r"\w+|[^\w\s]")
_DIGIT = re.compile(r"\d")


def tokenizer(normalize: dict | None = None):
    """text → normalized words and punctuation marks (digits → 0: numbers carry no topic)."""
    options = {k: v for k, v in (normalize or {}).items() if k != "whitespace"}
    table = build_table(**options)

    def tokenize(text: str) -> list[str]:
        return _TOKEN.findall(_DIGIT.sub("0", normalize_text(text or "", table).lower()))
    return tokenize


def subword_rows(word: str, buckets: int, minn: int = 3, maxn: int = 5) -> list[int]:
    """The hashed bucket of each character n-gram of ``<word>`` (the whole word excluded)."""
    marked = f"<{word}>"
    return [zlib.crc32(marked[i:i + n].encode()) % buckets
            for n in range(minn, maxn + 1) for i in range(len(marked) - n + 1) if n < len(marked)]


class SubwordVectors(BaseEstimator):
    """Skip-gram with negative sampling over subword-composed input vectors (fastText's model).

    Training runs for ``seconds`` (the learning rate decays linearly over them), or for exactly
    ``max_steps`` steps when given (exact reruns, tests). ``threads``: torch's CPU threads (0: all cores)."""

    def __init__(self, dim=100, buckets=100_000, min_count=5, window=5, negatives=5, lr=0.01, batch=4096,
                 seconds=290.0, max_steps=None, threads=0, normalize=None, seed=0):
        self.dim = dim
        self.buckets = buckets
        self.min_count = min_count
        self.window = window
        self.negatives = negatives
        self.lr = lr
        self.batch = batch
        self.seconds = seconds
        self.max_steps = max_steps
        self.threads = threads
        self.normalize = normalize
        self.seed = seed

    def fit(self, texts, progress: bool = False):
        import torch

        from tqdm import tqdm

        torch.manual_seed(self.seed)
        torch.set_num_threads(self.threads or os.cpu_count() or 1)
        rng = np.random.default_rng(self.seed)
        tokenize = tokenizer(self.normalize)
        lines = [tokenize(t) for t in texts]
        counts = Counter(w for words in lines for w in words)
        self.vocab_ = [w for w, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c >= self.min_count]
        if len(self.vocab_) < 2:
            raise CtframeError(f"too few words to learn vectors from ({len(self.vocab_)} seen {self.min_count}+ times)")
        self.index_ = index = {w: i for i, w in enumerate(self.vocab_)}
        stream = np.fromiter((index[w] for words in lines for w in words if w in index), dtype=np.int64)
        if len(stream) <= 2 * self.window + 1:
            raise CtframeError("too little text to learn vectors from")
        freq = np.array([counts[w] for w in self.vocab_], dtype=np.float64)
        rows, starts = self._word_rows(len(self.vocab_))
        model = _skipgram(len(self.vocab_) + self.buckets, len(self.vocab_), self.dim)
        scaled = self.lr * float(np.diff(starts).mean())  # fastText: every row of a word gets the full gradient
        optimizer = torch.optim.SGD([{"params": [model.inputs.weight], "lr": scaled, "base": scaled},
                                     {"params": [model.outputs.weight], "lr": self.lr, "base": self.lr}])
        share = freq / freq.sum()
        keep = np.minimum(1.0, np.sqrt(1e-4 / share) + 1e-4 / share)  # word2vec's subsampling of frequent words
        noise = np.cumsum(freq ** 0.75 / (freq ** 0.75).sum())
        offsets = np.concatenate([np.arange(-self.window, 0), np.arange(1, self.window + 1)])
        started, step = time.perf_counter(), 0
        bar = tqdm(total=round(self.seconds), unit="s", desc="word vectors", disable=not progress or None, leave=False)
        kept = stream[rng.random(len(stream)) < keep[stream]]
        while True:
            elapsed = time.perf_counter() - started
            done = step / self.max_steps if self.max_steps else elapsed / self.seconds
            if done >= 1:
                break
            if step % 100 == 0:
                bar.update(round(elapsed) - bar.n)
            if step % max(1, len(kept) // self.batch) == 0 and step:  # a new subsample each pass
                kept = stream[rng.random(len(stream)) < keep[stream]]
            if len(kept) <= 2 * self.window + 1:
                kept = stream
            for group in optimizer.param_groups:
                group["lr"] = group["base"] * max(0.02, 1 - done)  # linear decay over the budget
            at = rng.integers(self.window, len(kept) - self.window, size=self.batch)
            reach = rng.integers(1, self.window + 1, size=self.batch)
            mask = (np.abs(offsets)[None, :] <= reach[:, None]).astype(np.float32)
            negatives = np.minimum(np.searchsorted(noise, rng.random((self.batch, self.negatives))),
                                   len(self.vocab_) - 1)
            flat, bag_offsets = _bags(kept[at], rows, starts)
            loss = model(torch.from_numpy(flat), torch.from_numpy(bag_offsets),
                         torch.from_numpy(kept[at[:, None] + offsets[None, :]]), torch.from_numpy(mask),
                         torch.from_numpy(negatives))
            if step % 100 == 0 and not torch.isfinite(loss):
                raise CtframeError(f"word vectors diverged at step {step}: lower their learning rate (lr={self.lr})")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
        bar.close()
        self.steps_ = step
        self.table_ = model.inputs.weight.detach().numpy().astype(np.float16)
        return self

    def _word_rows(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Each vocabulary word's rows (its own, then its n-grams' ``size + bucket``) as a flat array and the
        start of each word's run (one more start at the end)."""
        per_word = [[i, *(size + h for h in subword_rows(w, self.buckets))] for i, w in enumerate(self.vocab_)]
        starts = np.concatenate([[0], np.cumsum([len(r) for r in per_word])])
        return np.concatenate([np.array(r, dtype=np.int64) for r in per_word]), starts

    def vectors(self, words: list[str]) -> np.ndarray:
        """One composed vector per word (float32): the mean of its own row, if it is in the vocabulary, and
        its n-gram rows."""
        out = np.zeros((len(words), self.table_.shape[1]), dtype=np.float32)
        for k, word in enumerate(words):
            rows = [len(self.vocab_) + h for h in subword_rows(word, self.buckets)]
            if word in self.index_:
                rows.append(self.index_[word])
            if rows:
                out[k] = self.table_[rows].astype(np.float32).mean(axis=0)
        return out

    def save(self, path: str | Path) -> Path:
        """Write the fitted table and vocabulary to an npz (atomically)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        params = self.get_params()
        temporary = path.with_name(f".{path.name}.tmp")
        with open(temporary, "wb") as handle:
            np.savez(handle, table=self.table_, vocab=np.array(self.vocab_, dtype=str),
                     meta=np.array(json.dumps({"params": params, "steps": self.steps_})))
        temporary.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "SubwordVectors":
        """A fitted instance from ``save``'s file; one clear error for anything else."""
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                vectors = cls(**meta["params"])
                vectors.table_, vectors.vocab_ = data["table"], [str(w) for w in data["vocab"]]
                vectors.index_ = {w: i for i, w in enumerate(vectors.vocab_)}
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise CtframeError(f"{path}: not a word-vector file ({type(exc).__name__}: {exc})") from exc
        if vectors.table_.shape != (len(vectors.vocab_) + vectors.buckets, vectors.dim):
            raise CtframeError(f"{path}: word-vector table of shape {vectors.table_.shape} does not match its vocabulary")
        vectors.steps_ = meta["steps"]
        return vectors


def _bags(words: np.ndarray, rows: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``words`` as one flat array with each word's offset (``EmbeddingBag``'s input)."""
    lengths = starts[words + 1] - starts[words]
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    flat = rows[np.repeat(starts[words] - offsets, lengths) + np.arange(lengths.sum())]
    return flat, offsets


def _skipgram(inputs: int, outputs: int, dim: int):
    """fastText's skip-gram: subword-bag input vectors, negative sampling."""
    import torch
    from torch import nn
    from torch.nn import functional

    class SkipGram(nn.Module):
        def __init__(self, inputs: int, outputs: int, dim: int):
            super().__init__()
            self.inputs = nn.EmbeddingBag(inputs, dim, mode="mean", sparse=True)
            self.outputs = nn.Embedding(outputs, dim, sparse=True)
            nn.init.uniform_(self.inputs.weight, -1 / dim, 1 / dim)
            nn.init.zeros_(self.outputs.weight)

        def forward(self, flat, offsets, context, mask, negatives):
            centre = self.inputs(flat, offsets)
            positive = torch.einsum("bd,bkd->bk", centre, self.outputs(context))
            negative = torch.einsum("bd,bkd->bk", centre, self.outputs(negatives))
            # summed, not averaged: plain SGD on the sum is fastText's per-pair update; the negatives of a
            # centre count once per positive pair of its window
            return -(functional.logsigmoid(positive) * mask).sum() \
                - (functional.logsigmoid(-negative).sum(1) * mask.sum(1)).sum()
    return SkipGram(inputs, outputs, dim)


def corpus_vectors(params: dict, corpus_path=None, before: str | None = None, progress: bool = True) -> Path:
    """The cached vectors for ``params`` learned from the distinct paragraphs of the corpus dated before
    ``before`` (the holdout and test dates are later): fitted on the first call, under a lock so concurrent
    runs fit once. The cache key is the corpus's bytes, the date, every parameter and ``VERSION``. Within a
    time budget (no ``max_steps``) the steps taken depend on the machine; the file records them."""
    from ctframe.features.corpus import corpus_files, load_snn_paragraphs

    every = SubwordVectors(**params).get_params()  # defaults included: changing one changes the key
    digest = hashlib.sha256(json.dumps({"params": every, "before": before, "version": VERSION},
                                       sort_keys=True, default=str).encode())
    for zip_path in corpus_files(corpus_path):
        digest.update(zip_path.name.encode())
        with open(zip_path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    path = Path(os.environ.get(CACHE_ENV) or PROJECT_ROOT / ".cache") / "vectors" / f"{digest.hexdigest()[:24]}.npz"
    with locked(path.with_suffix(".lock"), timeout=3600, what="word-vector cache"):
        if not path.is_file():
            texts = dict.fromkeys(p.text for p in load_snn_paragraphs(corpus_path) if not before or p.date < before)
            SubwordVectors(**params).fit(list(texts), progress=progress).save(path)
    return path
