"""Article text → paragraphs, with stable ids and sha1 fingerprints for stand-off labels."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from ctframe.features.arabic import collapse_whitespace

MAX_PARAGRAPH_CHARS = 700
# A sentence ends at . ! ? ؟ or … followed by white space (Arabic and Latin punctuation).
_SENTENCE_END = re.compile(r"(?<=[.!?؟…])\s+")
# Scraped pages glue tickers, menus and related-article lists into one line, the items separated by runs
# of spaces or by tabs: such a run (three or more spaces, or tabs) separates units like a newline.
# No-break spaces are not counted: SaudiNewsNet has 1,462 lines with runs of them, and splitting there
# would renumber paragraphs that stand-off labels already reference.
_UNIT_BREAK = re.compile(r" *\t[ \t]*| {3,}")


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of one article; ``id`` is ``<article id>#<index>``."""

    id: str
    article_id: str
    index: int
    text: str
    source: str = ""
    date: str = ""
    title: str = ""

    @property
    def sha1(self) -> str:
        return text_sha1(self.text)


def text_sha1(text: str) -> str:
    """sha1 of the UTF-8 paragraph text: the fingerprint a stand-off label is checked against."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def split_sentences_to_fit(text: str, max_chars: int = MAX_PARAGRAPH_CHARS) -> list[str]:
    """Pack whole sentences into chunks of at most ``max_chars`` (a longer single sentence stays whole)."""
    if len(text) <= max_chars:
        return [text]
    chunks, current = [], ""
    for sentence in _SENTENCE_END.split(text):
        if current and len(current) + 1 + len(sentence) > max_chars:
            chunks.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}" if current else sentence
    if current:
        chunks.append(current)
    return chunks


def split_paragraphs(text: str, max_chars: int = MAX_PARAGRAPH_CHARS) -> list[str]:
    """Split article text into units: on newlines and on runs of blanks (see ``_UNIT_BREAK``); drop empty
    units; split over-long units at sentence ends."""
    paragraphs = []
    for line in text.splitlines():
        for unit in _UNIT_BREAK.split(line):
            unit = collapse_whitespace(unit)
            if unit:
                paragraphs.extend(split_sentences_to_fit(unit, max_chars))
    return paragraphs


def segment_article(article_id: str, text: str, *, source: str = "", date: str = "", title: str = "",
                    max_chars: int = MAX_PARAGRAPH_CHARS) -> list[Paragraph]:
    """Paragraphs of one article, indexed from 0 in reading order."""
    return [Paragraph(f"{article_id}#{i}", article_id, i, p, source, date, title)
            for i, p in enumerate(split_paragraphs(text, max_chars))]


def context_text(neighbours) -> str:
    """The context a model may read beside a paragraph: its neighbouring paragraphs' texts, one per line."""
    return "\n".join(p.text for p in neighbours if p is not None)


def article_context(paragraphs: list[Paragraph], i: int) -> str:
    """The context of ``paragraphs[i]`` within its article: the paragraphs just before and after it."""
    return context_text(paragraphs[max(i - 1, 0):i] + paragraphs[i + 1:i + 2])
