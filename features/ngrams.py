"""Hashed character n-gram counts for a batch of texts, in numpy (~10x scikit-learn's char analyzers).

The texts are joined into one array of code points, every n-gram gets a rolling polynomial hash, and
one sort of (text, column) keys per chunk of texts gives the counts of a CSR matrix. No scikit-learn here:
the estimator (``features/hashing.py``) and the exported array model (``train/arrays.py``) both call it.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ctframe.features.arabic import collapse_whitespace

_BASE = np.uint64(0x100000001B3)  # rolling-hash multiplier (odd)
_LENGTH_SALT = 0xC2B2AE3D27D4EB4F  # mixed in per n-gram length so lengths don't collide systematically
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # multiplicative (Fibonacci) hashing: keep the top bits
_SEP, _SPACE = 10, 32  # "\n" joins texts; whitespace collapsing removed every "\n" from them
_DELETE = np.uint32(0xFFFFFFFF)  # what a normalizing table maps a removed character to
_CHUNK = 512  # texts hashed per numpy pass: bigger batches spill out of the CPU caches and get slower


def check_params(ngram_range, n_features) -> int:
    """Validate the parameters; return log2(n_features)."""
    lo, hi, n = *ngram_range, n_features
    if not (all(isinstance(v, (int, np.integer)) for v in (lo, hi)) and 1 <= lo <= hi):
        raise ValueError(f"ngram_range must be integers 1 <= lo <= hi, got {ngram_range!r}")
    if not (isinstance(n, (int, np.integer)) and 2**4 <= n <= 2**31 and n & (n - 1) == 0):
        raise ValueError(f"n_features must be a power of two between 2**4 and 2**31, got {n!r}")
    return int(n).bit_length() - 1


def ngram_counts(texts, ngram_range=(2, 5), word_boundaries=True, n_features=2**20) -> sp.csr_matrix:
    """A (len(texts), n_features) float64 CSR matrix of hashed n-gram counts (see ``CharNgramHasher``)."""
    bits = check_params(ngram_range, n_features)
    if isinstance(texts, str):
        raise ValueError("Iterable over raw text documents expected, string object received.")
    pad = " " if word_boundaries else ""  # " w1 w2 ": neighbouring words share one space
    docs = [f"{pad}{d}{pad}" if d else "" for d in (collapse_whitespace(t) for t in texts)]
    return _stacked([_count(_utf32("\n".join(chunk)), len(chunk), bits, ngram_range, word_boundaries)
                     for chunk in _chunks(docs, bits)])


def normalizing_table(table: dict) -> np.ndarray:
    """A ``str.translate`` table (``features/arabic.py``) as an array over every code point, with white
    space mapped to a space: what ``normalized_ngram_counts`` normalizes with."""
    lut = np.arange(0x110000, dtype=np.uint32)
    lut[[c for c in range(0x3001) if chr(c).isspace()]] = _SPACE  # Python's white space ends at U+3000
    for code, value in table.items():
        lut[code] = _DELETE if value is None else ord(value)
    return lut


def normalized_ngram_counts(texts: list[str], lut: np.ndarray, ngram_range=(2, 5), word_boundaries=True,
                            n_features=2**20) -> sp.csr_matrix:
    """``ngram_counts`` of the texts normalized by ``lut`` (``normalizing_table``), the same matrix as
    normalizing each text with ``str.translate`` and collapsing its white space first, in numpy (~3x faster)."""
    bits = check_params(ngram_range, n_features)
    return _stacked([_count(_normalized_codes(chunk, lut, word_boundaries), len(chunk), bits, ngram_range,
                            word_boundaries) for chunk in _chunks(list(texts), bits)])


def _chunks(docs: list, bits: int) -> list[list]:
    chunk = min(_CHUNK, 2 ** (32 - bits))  # so that text-in-chunk << bits | column fits in uint32
    return [docs[i:i + chunk] for i in range(0, max(len(docs), 1), chunk)]


def _stacked(blocks: list[sp.csr_matrix]) -> sp.csr_matrix:
    matrix = blocks[0] if len(blocks) == 1 else sp.vstack(blocks, format="csr")
    matrix.has_canonical_format = True  # sorted indices, no duplicates
    return matrix


def _utf32(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)  # lone surrogates too


def _normalized_codes(texts: list[str], lut: np.ndarray, word_boundaries: bool) -> np.ndarray:
    """The code points of the normalized, white-space-collapsed (and, for word boundaries, space-padded)
    texts joined by "\n": what ``_count`` reads."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    codes = lut[_utf32("".join(texts))]
    doc = np.repeat(np.arange(len(texts)), lengths)
    keep = codes != _DELETE
    codes, doc = codes[keep], doc[keep]
    space = codes == _SPACE
    first = np.concatenate(([True], doc[1:] != doc[:-1]))  # a text's first character
    keep = ~(space & (first | np.concatenate(([False], space[:-1]))))  # no leading or repeated spaces
    codes, doc, space = codes[keep], doc[keep], space[keep]
    keep = ~(space & np.concatenate((doc[1:] != doc[:-1], [True])))  # no trailing space
    codes, doc = codes[keep], doc[keep]
    size = np.bincount(doc, minlength=len(texts))  # characters per collapsed text
    pad = int(word_boundaries)
    width = np.where(size > 0, size + 2 * pad, 0)  # a padded text; an empty text stays empty
    starts = np.concatenate(([0], np.cumsum(width + 1)[:-1]))  # each text, then its "\n"
    out = np.full(int(width.sum()) + len(texts) - 1, _SEP, dtype=np.uint32) if len(texts) else np.zeros(0, np.uint32)
    if pad:
        filled = size > 0
        out[starts[filled]] = _SPACE
        out[starts[filled] + width[filled] - 1] = _SPACE
    firsts = np.concatenate(([0], np.cumsum(size)[:-1]))
    out[starts[doc] + pad + np.arange(len(codes)) - firsts[doc]] = codes
    return out


def _count(codes: np.ndarray, n_docs: int, bits: int, ngram_range, word_boundaries: bool) -> sp.csr_matrix:
    """Count the n-grams of ``n_docs`` whitespace-collapsed (and, for word boundaries, padded) texts, given
    as the code points of their "\n"-joined text."""
    size, (lo, hi) = len(codes), ngram_range
    # seps[i] / spaces[i]: separators / spaces in codes[:i]; seps[i] is also the text of position i.
    seps = np.cumsum(np.concatenate(([False], codes == _SEP)), dtype=np.uint32)
    spaces = np.cumsum(np.concatenate(([False], codes == _SPACE)), dtype=np.uint32)
    rows = seps[:-1] << np.uint32(bits)
    keys = [np.zeros(0, np.uint32)]  # text << bits | column, for each valid window
    hashed = values = codes.astype(np.uint64) + np.uint64(1)
    for n in range(1, min(hi, size) + 1):
        starts = size - n + 1
        if n > 1:
            hashed = hashed[:starts] * _BASE + values[n - 1:]
        if n < lo:
            continue
        ok = seps[n:] == seps[:starts]
        if word_boundaries and n > 1:  # spaces only at the ends: inside one padded word,
            ok &= spaces[n - 1:size] == spaces[1:starts + 1]  # so words shorter than n - 2 have none
        elif word_boundaries:
            ok &= codes != _SPACE
        column = ((hashed ^ np.uint64(n * _LENGTH_SALT % 2**64)) * _GOLDEN) >> np.uint64(64 - bits)
        keys.append((column.astype(np.uint32) | rows[:starts])[ok])
    # Sorting the keys orders the entries by text, then column; equal keys are one n-gram's count.
    ordered = np.concatenate(keys)
    ordered.sort()  # in place: np.unique would copy the keys first
    first = np.ones(len(ordered), dtype=bool)  # the first of each run of equal keys
    first[1:] = ordered[1:] != ordered[:-1]
    starts = np.flatnonzero(first)
    unique, counts = ordered[starts], np.diff(np.append(starts, len(ordered)))
    indptr = np.searchsorted(unique >> np.uint32(bits), np.arange(n_docs + 1, dtype=np.uint32))
    columns = (unique & np.uint32((1 << bits) - 1)).astype(np.int32)
    return sp.csr_matrix((counts.astype(np.float64), columns, indptr.astype(np.int32)),
                         shape=(n_docs, 1 << bits))
