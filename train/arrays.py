"""A fitted char n-gram linear model as plain arrays: the exported form that scores without scikit-learn.

``save_arrays`` writes what a fitted ``CharNgramLinear`` (``families/linear.py``, hashed features) computes
with — per input column its normalizer, hasher, IDF vector and block weight; every head's coefficients,
intercept and Platt sigmoid; the frame thresholds — into one ``.npz`` of numbers and one JSON string (read
with ``allow_pickle=False``: no code can come in). ``ArrayModel`` reads it and runs the same computation
as the estimator: normalize → hashed n-gram counts → TF-IDF (sublinear, l2) → weighted blocks side by side
→ linear heads → sigmoids. It imports only numpy, scipy.sparse and the feature kernels, so the CLI starts
in a fraction of the time and the REST server pays no per-call validation; tests hold its probabilities to
the estimator's. Models it cannot express (vocabulary TF-IDF, word n-grams) are scored from the skops file.
"""
from __future__ import annotations

import ctypes
import json
import zipfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ctframe import CtframeError
from ctframe.features.arabic import build_table
from ctframe.features.ngrams import check_params, normalized_ngram_counts, normalizing_table
from ctframe.train.predictions import INPUT_COLUMNS, decide, platt_probabilities

ARRAYS_FILE = Path("artifacts") / "ctframe-arrays.npz"  # inside an exported model directory
FORMAT = 1
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


def _blocks(model) -> list[dict] | None:
    """Per input column of a fitted linear model: what its feature block computes, or None when the
    features are not hashed character n-grams (then the skops file is the only form)."""
    features = model.features_
    blocks = []
    for name, pipeline, column in features.transformers_:
        if pipeline == "drop" or name == "remainder":
            continue
        normalizer, vectorizer = pipeline.named_steps["normalize"], pipeline.named_steps["tfidf"]
        steps = getattr(vectorizer, "named_steps", {})
        if set(steps) != {"count", "tfidf"}:
            return None
        hasher, tfidf = steps["count"], steps["tfidf"]
        if tfidf.norm != "l2" or not tfidf.use_idf:
            return None
        blocks.append({"column": column, "weight": float((features.transformer_weights or {}).get(name, 1.0)),
                       "normalize": normalizer.get_params(), "ngram_range": list(hasher.ngram_range),
                       "word_boundaries": bool(hasher.word_boundaries), "n_features": int(hasher.n_features),
                       "sublinear_tf": bool(tfidf.sublinear_tf), "idf": tfidf.idf_})
    return blocks


def save_arrays(model, path: Path) -> bool:
    """Write ``model`` (a fitted ``CharNgramLinear``) as arrays to ``path``; False (nothing written) when
    its features have no array form."""
    blocks = _blocks(model)
    if blocks is None:
        return False
    heads = [model.topic_model_, *model.frame_models_]
    arrays = {f"idf_{i}": block.pop("idf") for i, block in enumerate(blocks)}
    arrays["coef"] = np.vstack([h.estimator_.coef_ for h in heads]).T.copy()  # (features, head rows)
    arrays["intercept"] = np.concatenate([np.ravel(h.estimator_.intercept_) for h in heads])
    arrays["sigmoids"] = np.vstack([h.sigmoids_ for h in heads])
    meta = {"format": FORMAT, "topics": list(model.topics), "frames": list(model.frames),
            "frames_topic": model.frames_topic, "thresholds": model.thresholds_.tolist(), "blocks": blocks,
            "topic_classes": [str(c) for c in model.topic_model_.classes_],
            "label_shares": getattr(model, "label_shares_", None)}
    arrays["meta"] = np.array(json.dumps(meta))
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    return True


class ArrayModel:
    """The array form of an exported linear model: ``predict_proba`` and ``decide`` as the estimator's."""

    def __init__(self, path: str | Path):
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
            meta = json.loads(str(arrays.pop("meta")))
            if meta.get("format") != FORMAT:
                raise ValueError(f"format {meta.get('format')!r}, this ctframe reads {FORMAT}")
            self.topics, self.frames, self.frames_topic = meta["topics"], meta["frames"], meta["frames_topic"]
            self.thresholds_ = np.array(meta["thresholds"], dtype=float)
            self.label_shares_ = meta["label_shares"]
            self.blocks = meta["blocks"]
            offset = 0
            for i, block in enumerate(self.blocks):
                check_params(tuple(block["ngram_range"]), block["n_features"])
                block["idf"] = arrays[f"idf_{i}"]
                block["ones"] = np.ones(block["n_features"])  # kept: a fresh one per call costs page faults
                block["lut"] = normalizing_table(build_table(**{k: v for k, v in block["normalize"].items()
                                                                if k != "whitespace"}))
                offset += block["n_features"]
            self.coef, self.intercept, self.sigmoids = arrays["coef"], arrays["intercept"], arrays["sigmoids"]
            self.topic_columns = [self.topics.index(label) for label in meta["topic_classes"]]
            if self.coef.shape[0] != offset or len(self.thresholds_) != len(self.frames):
                raise ValueError("arrays of inconsistent shapes")
        except (OSError, ValueError, KeyError, TypeError, AttributeError, zipfile.BadZipFile) as exc:
            raise CtframeError(f"{path}: not a readable ctframe array model ({exc})") from exc

    def _block(self, block: dict, texts: list[str]) -> sp.csr_matrix:
        """One column's weighted TF-IDF block, as ``TfidfTransformer`` (sublinear, l2) computes it."""
        if not any(texts):  # e.g. no titles or neighbours were given: an empty block
            return sp.csr_matrix((len(texts), block["n_features"]))
        X = normalized_ngram_counts(texts, block["lut"], tuple(block["ngram_range"]), block["word_boundaries"],
                                    block["n_features"])  # the hasher collapses white space either way
        if block["sublinear_tf"]:
            np.log(X.data, X.data)
            X.data += 1.0
        X.data *= block["idf"][X.indices]
        squares = sp.csr_matrix((X.data ** 2, X.indices, X.indptr), shape=X.shape)
        norms = np.sqrt(squares @ block["ones"])  # a row's squares summed in order, as scikit-learn does
        norms[norms == 0.0] = 1.0
        X.data /= np.repeat(norms, np.diff(X.indptr))
        if block["weight"] != 1.0:
            X.data *= block["weight"]
        return X

    def transform(self, X) -> sp.csr_matrix:
        """Texts, or columns (a mapping or frame with ``text`` and optionally ``title`` / ``context``) →
        the feature matrix the heads read."""
        columns = _columns(X)
        return sp.hstack([self._block(b, columns[b["column"]]) for b in self.blocks], format="csr")

    def predict_proba(self, X) -> tuple[np.ndarray, np.ndarray]:
        """(topic probabilities in ``topics`` order, frame probabilities in ``frames`` order)."""
        scores = self.transform(X) @ self.coef + self.intercept
        rows = len(self.topic_columns) if len(self.topic_columns) > 2 else 1  # a binary head has one row
        topic_p = np.zeros((len(scores), len(self.topics)))
        topic_p[:, self.topic_columns] = platt_probabilities(scores[:, :rows], self.sigmoids[:rows])
        frame_p = [platt_probabilities(scores[:, j:j + 1], self.sigmoids[j:j + 1])[:, 1]
                   for j in range(rows, scores.shape[1])]
        return topic_p, np.column_stack(frame_p) if frame_p else np.zeros((len(scores), 0))

    def decide(self, topic_p: np.ndarray, frame_p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return decide(self, topic_p, frame_p)


def _columns(X) -> dict[str, list[str]]:
    """Model input → every input column as a list of strings (missing columns and nulls: empty)."""
    if isinstance(X, (list, tuple)):
        return {"text": list(X), **{c: [""] * len(X) for c in INPUT_COLUMNS[1:]}}
    n = len(X["text"])
    present = getattr(X, "columns", X)
    return {c: [v if isinstance(v, str) else "" for v in X[c]] if c in present else [""] * n for c in INPUT_COLUMNS}


def reuse_freed_memory() -> None:
    """Ask glibc's malloc to keep freed memory for reuse rather than hand it back to the kernel. Scoring
    allocates and frees arrays of a few MB per batch; by default each is a fresh ``mmap`` whose pages fault
    in again (measured on 30,000 paragraphs: 275,000 page faults, a third of the scoring time; 6,000 with
    this). A no-op where the C library is not glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(_M_MMAP_THRESHOLD, 32 * 2**20)  # blocks under 32 MB come from the reusable heap
    libc.mallopt(_M_TRIM_THRESHOLD, 256 * 2**20)  # keep up to 256 MB of freed heap before trimming


def load_scorer(model_dir: str | Path):
    """What scores an exported model fastest: its array form when it has one, else the skops estimator.
    A clear error unless ``model_dir`` is an exported model directory."""
    from ctframe.train.families import load_exported, require_exported

    require_exported(model_dir)
    reuse_freed_memory()
    path = Path(model_dir) / ARRAYS_FILE
    return ArrayModel(path) if path.is_file() else load_exported(model_dir)
