"""Text sources: the SaudiNewsNet zips (training) and .txt / .jsonl / directories / stdin (scoring)."""
from __future__ import annotations

import json
import os
import sys
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ctframe import PROJECT_ROOT, CtframeError
from ctframe.features.segment import Paragraph, segment_article

CORPUS_ENV = "CTFRAME_CORPUS"
DEFAULT_CORPUS = PROJECT_ROOT.parent / "shared" / "corpora" / "saudinewsnet"
MAX_INPUT_BYTES = 20 * 1024 * 1024  # one article file or one JSONL line larger than this is refused


@dataclass(frozen=True)
class Article:
    id: str
    text: str
    source: str = ""
    date: str = ""
    title: str = ""

    def paragraphs(self) -> list[Paragraph]:
        return segment_article(self.id, self.text, source=self.source, date=self.date, title=self.title)


def corpus_dir(path: str | os.PathLike | None = None) -> Path:
    """The SaudiNewsNet folder: ``path`` if given, else ``$CTFRAME_CORPUS``, else ``../shared/corpora/saudinewsnet``."""
    chosen = Path(path or os.environ.get(CORPUS_ENV) or DEFAULT_CORPUS)
    if not chosen.is_dir():
        raise CtframeError(f"corpus folder not found: {chosen} (set {CORPUS_ENV} or corpus.path in the config)")
    if not sorted(chosen.glob("*.zip")):
        raise CtframeError(f"corpus folder {chosen} holds no .zip files")
    return chosen


def corpus_files(path=None) -> list[Path]:
    return sorted(corpus_dir(path).glob("*.zip"))


def iter_snn_zip(zip_path: Path, seen: set[str] | None = None) -> Iterator[Article]:
    """Articles of one SaudiNewsNet daily zip; ids are ``snn:<url>`` (a url in ``seen`` is skipped)."""
    seen = set() if seen is None else seen
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = [m for m in archive.namelist() if m.endswith(".json")]
            if len(members) != 1:
                raise CtframeError(f"{zip_path}: expected one .json file, found {len(members)}")
            records = json.loads(archive.read(members[0]).decode("utf-8"))
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, OSError, EOFError,
            UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CtframeError(f"{zip_path}: unreadable corpus file ({type(exc).__name__})") from exc
    if not isinstance(records, list):
        raise CtframeError(f"{zip_path}: expected a JSON array of articles")
    for number, record in enumerate(records):
        fields = {k: record.get(k) for k in ("url", "content", "source", "date_extracted", "title")} \
            if isinstance(record, dict) else None
        if fields is None or not all(v is None or isinstance(v, str) for v in fields.values()):
            raise CtframeError(f"{zip_path}: article {number} is not an object of string fields")
        url = fields["url"] or ""
        if not url or url in seen:
            continue
        seen.add(url)
        yield Article(f"snn:{url}", fields["content"] or "", fields["source"] or "",
                      (fields["date_extracted"] or "")[:10], fields["title"] or "")


def iter_snn_articles(path=None) -> Iterator[Article]:
    """Articles of every SaudiNewsNet daily zip, in date order (an article seen twice is kept once)."""
    seen: set[str] = set()
    for zip_path in corpus_files(path):
        yield from iter_snn_zip(zip_path, seen)


def load_snn_paragraphs(path=None) -> list[Paragraph]:
    """Every paragraph of the corpus, in corpus order."""
    return [p for article in iter_snn_articles(path) for p in article.paragraphs()]


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CtframeError(f"{where}: not UTF-8 text (byte {exc.start})") from exc


def check_text(text, where: str) -> str:
    """``text`` if it is a non-blank string, else a CtframeError naming ``where``."""
    if not isinstance(text, str):
        raise CtframeError(f"{where}: 'text' must be a string, got {type(text).__name__}")
    if not text.strip():
        raise CtframeError(f"{where}: empty text")
    return text


def _read_bytes(path: Path) -> bytes:
    size = path.stat().st_size
    if size > MAX_INPUT_BYTES:
        raise CtframeError(f"{path}: {size:,} bytes is over the {MAX_INPUT_BYTES:,}-byte limit for one input file;"
                           " split it into a .jsonl of records")
    return path.read_bytes()


def json_lines(lines: Iterable[bytes], where: str) -> Iterator[tuple[str, object]]:
    """(``where:line``, decoded value) for every non-blank JSON line; errors name the file and line."""
    for number, raw in enumerate(lines, start=1):
        at = f"{where}:{number}"
        if len(raw) > MAX_INPUT_BYTES:
            raise CtframeError(f"{at}: line of {len(raw):,} bytes is over the {MAX_INPUT_BYTES:,}-byte limit")
        line = _decode(raw, at).strip()
        if not line:
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CtframeError(f"{at}: malformed JSON ({exc.msg})") from exc
        except RecursionError:
            raise CtframeError(f"{at}: JSON nested too deeply") from None
        if "\\u" in line and _has_lone_surrogate(value):
            raise CtframeError(f"{at}: a lone surrogate escape (\\ud800–\\udfff) is not text")
        yield at, value


def _has_lone_surrogate(value) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def read_jsonl(path: str | os.PathLike) -> Iterator[tuple[str, object]]:
    """``json_lines`` of a file, read one line at a time."""
    path = Path(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise CtframeError(f"{path}: cannot read ({exc.strerror})") from exc
    with handle:
        yield from json_lines(iter(lambda: handle.readline(MAX_INPUT_BYTES + 1), b""), str(path))


def _articles(records: Iterator[tuple[str, object]]) -> Iterator[Article]:
    for at, record in records:
        if not isinstance(record, dict) or "text" not in record:
            raise CtframeError(f"{at}: expected an object with 'id' and 'text'")
        title = record.get("title")
        yield Article(str(record.get("id") or at), check_text(record["text"], at), title=title if isinstance(title, str) else "")


def _iter_path(path: Path) -> Iterator[Article]:
    if path.suffix == ".zip":
        yield from (a for a in iter_snn_zip(path) if a.text.strip())
    elif path.suffix == ".jsonl":
        yield from _articles(read_jsonl(path))
    else:
        yield Article(str(path), check_text(_decode(_read_bytes(path), str(path)), str(path)))


def iter_inputs(inputs: list[str]) -> Iterator[Article]:
    """Texts to score from ``.txt`` articles, ``.jsonl`` records, SaudiNewsNet ``.zip`` files, folders of
    those, or ``-`` (stdin)."""
    for name in inputs:
        if name == "-":
            data = sys.stdin.buffer.read()
            if data.lstrip().startswith(b"{"):
                yield from _articles(json_lines(data.splitlines(), "<stdin>"))
            else:
                yield Article("stdin", check_text(_decode(data, "<stdin>"), "<stdin>"))
            continue
        path = Path(name)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in (".txt", ".jsonl", ".zip"))
            if not files:
                raise CtframeError(f"{path}: folder holds no .txt, .jsonl or .zip files")
            for file in files:
                yield from _iter_path(file)
        elif path.is_file():
            yield from _iter_path(path)
        else:
            raise CtframeError(f"{path}: no such file or folder")
