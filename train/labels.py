"""Stand-off labels: read, validate, resolve against the corpus, adjudicate, import atomically.

A label record is one JSON line ``{"ref", "sha1", "topic", "frames", "annotator"}`` in
``labels/annotations/<annotator>.jsonl``. ``ref`` is a paragraph id, ``sha1`` the sha1 of the
paragraph text it was read from; both are checked against the corpus when labels are loaded.
"""
from __future__ import annotations

import json
import os
import sys
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

from ctframe import LABELS_DIR, CtframeError, write_atomically, write_temporary
from ctframe import locked as project_lock
from ctframe.features.corpus import read_jsonl
from ctframe.features.segment import Paragraph
from ctframe.train.schema import Schema

ANNOTATIONS_DIR = LABELS_DIR / "annotations"
ADJUDICATOR_PREFIX = "adjudicator"
LOCK_TIMEOUT = 60.0  # seconds a label write waits for another one to finish


def locked(directory: Path, timeout: float = LOCK_TIMEOUT):
    """Hold the label folder's exclusive lock (``<directory>/.lock``, across processes) for a whole
    read–validate–merge–write, so concurrent imports never lose each other's readings."""
    return project_lock(Path(directory) / ".lock", timeout, f"the labels in {directory}")


@dataclass(frozen=True)
class LabelRecord:
    ref: str
    sha1: str
    topic: str
    frames: tuple[str, ...]
    annotator: str

    def to_json(self) -> str:
        data = asdict(self)
        data["frames"] = list(self.frames)
        return json.dumps(data, ensure_ascii=False)

    @property
    def reading(self) -> tuple[str, tuple[str, ...]]:
        return self.topic, tuple(sorted(self.frames))


def parse_record(data, schema: Schema, where: str, annotator: str | None = None) -> LabelRecord:
    """Validate one decoded JSON value as a label record (``annotator`` fills a missing one)."""
    if not isinstance(data, dict):
        raise CtframeError(f"{where}: expected a JSON object")
    data = dict(data)
    if annotator and not data.get("annotator"):
        data["annotator"] = annotator
    for key in ("ref", "sha1", "topic", "frames", "annotator"):
        if key not in data:
            raise CtframeError(f"{where}: missing field {key!r}")
    for key in ("ref", "sha1", "annotator"):
        if not isinstance(data[key], str) or not data[key].strip():
            raise CtframeError(f"{where}: {key!r} must be a non-empty string")
    schema.check(data["topic"], data["frames"], where)
    return LabelRecord(data["ref"], data["sha1"], data["topic"], tuple(data["frames"]), data["annotator"])


def read_records(path: Path, schema: Schema, annotator: str | None = None) -> list[LabelRecord]:
    """Every record of one JSONL file, each validated; errors name the file and line."""
    return [parse_record(data, schema, at, annotator) for at, data in read_jsonl(path)]


def records_from_answers(answers: Path, batch: Path, schema: Schema, annotator: str) -> list[LabelRecord]:
    """Label records from answers keyed by batch line number (``{"n", "topic", "frames"}``), joined with
    the batch file (``labels queue``) for each paragraph's ref and sha1. Every line of the batch must be
    answered exactly once."""
    if not annotator:
        raise CtframeError("answers keyed by batch line need --annotator")
    rows = {}
    for at, row in read_jsonl(batch):
        if not isinstance(row, dict) or not {"n", "ref", "sha1"} <= set(row) or not isinstance(row["n"], int):
            raise CtframeError(f"{at}: a batch line needs an integer 'n', 'ref' and 'sha1'")
        if row["n"] in rows:
            raise CtframeError(f"{at}: n={row['n']} appears twice in the batch")
        rows[row["n"]] = row
    records, answered = [], set()
    for at, answer in read_jsonl(answers):
        n = answer.get("n") if isinstance(answer, dict) else None
        if not isinstance(n, int) or n not in rows:
            raise CtframeError(f"{at}: n={n!r} is not a line of {batch}")
        if n in answered:
            raise CtframeError(f"{at}: n={n} is answered twice")
        answered.add(n)
        data = {"ref": rows[n]["ref"], "sha1": rows[n]["sha1"], "topic": answer.get("topic"),
                "frames": answer.get("frames"), "annotator": annotator}
        records.append(parse_record(data, schema, at))
    missing = sorted(set(rows) - answered)
    if missing:
        raise CtframeError(f"{answers}: {len(missing)} line(s) of {batch} unanswered, first n={missing[0]}")
    return records


def load_records(schema: Schema, directory: Path = ANNOTATIONS_DIR) -> list[LabelRecord]:
    """All label records under ``directory``; the same ref twice from one annotator is an error. An
    import killed halfway through its renames is finished first."""
    if (Path(directory) / JOURNAL).exists():
        with locked(directory):
            finish_interrupted_import(directory)
    records, seen = [], {}
    for path in sorted(Path(directory).glob("*.jsonl")):
        for record in read_records(path, schema):
            key = (record.ref, record.annotator)
            if key in seen:
                raise CtframeError(f"{path}: {record.ref} read twice by {record.annotator} (also in {seen[key]})")
            seen[key] = path
            records.append(record)
    return records


def check_against_corpus(records: list[LabelRecord], paragraphs: dict[str, Paragraph],
                         skip_stale: bool = False) -> list[LabelRecord]:
    """Keep records whose ref exists with the same sha1; otherwise raise, or with ``skip_stale``
    report each one on stderr and leave it out."""
    kept, stale = [], []
    for record in records:
        paragraph = paragraphs.get(record.ref)
        if paragraph is None:
            stale.append(f"{record.ref} ({record.annotator}): no such paragraph in the corpus")
        elif paragraph.sha1 != record.sha1:
            stale.append(f"{record.ref} ({record.annotator}): sha1 {record.sha1[:12]}… no longer matches the "
                         f"paragraph text ({paragraph.sha1[:12]}…)")
        else:
            kept.append(record)
    if stale and not skip_stale:
        raise CtframeError(f"{len(stale)} stale label(s), first: {stale[0]} (use --skip-stale to leave them out)")
    for message in stale:
        print(f"ctframe: skipped stale label {message}", file=sys.stderr)
    return kept


def group_by_ref(records: list[LabelRecord]) -> dict[str, list[LabelRecord]]:
    groups: dict[str, list[LabelRecord]] = defaultdict(list)
    for record in records:
        groups[record.ref].append(record)
    return dict(groups)


def adjudicate(readings: list[LabelRecord]) -> tuple[str, tuple[str, ...], bool]:
    """One final (topic, frames) from a paragraph's readings, and whether it was a tie.

    Rule: an ``adjudicator*`` reading decides; otherwise the topic is the majority reading and a frame is
    kept when more than half of all readings give it (a reading with another topic gives none). A tie
    with no adjudicator (on the topic, or a frame given by exactly half) falls back to the first reading
    and is reported as needing a further reading.
    """
    decisive = [r for r in readings if r.annotator.startswith(ADJUDICATOR_PREFIX)]
    if decisive:
        return decisive[-1].topic, tuple(sorted(decisive[-1].frames)), False
    topic_votes = Counter(r.topic for r in readings).most_common()
    if len(topic_votes) > 1 and topic_votes[0][1] == topic_votes[1][1]:
        return readings[0].topic, tuple(sorted(readings[0].frames)), True
    topic = topic_votes[0][0]
    frame_votes = Counter(f for r in readings if r.topic == topic for f in r.frames)
    if any(2 * n == len(readings) for n in frame_votes.values()):
        return topic, tuple(sorted(next(r for r in readings if r.topic == topic).frames)), True
    return topic, tuple(sorted(f for f, n in frame_votes.items() if 2 * n > len(readings))), False


def final_labels(records: list[LabelRecord]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """ref → adjudicated (topic, frames)."""
    return {ref: adjudicate(readings)[:2] for ref, readings in group_by_ref(records).items()}


def import_records(new: list[LabelRecord], paragraphs: dict[str, Paragraph], schema: Schema,
                   directory: Path = ANNOTATIONS_DIR) -> Counter:
    """Merge validated records into ``<directory>/<annotator>.jsonl`` under the folder's lock; returns
    counts by outcome.

    Every record is checked before anything is written: a ref not in the corpus, a stale sha1, one ref
    twice in the batch, or a ref the same annotator already labeled differently is an error.
    """
    check_against_corpus(new, paragraphs)
    with locked(directory):
        return _merge(new, schema, Path(directory))


JOURNAL = ".import-journal.json"  # the renames of an import that writes several annotators' files


def finish_interrupted_import(directory: Path) -> None:
    """Complete the renames of an import that was killed between them (under the folder's lock)."""
    journal = Path(directory) / JOURNAL
    if journal.exists():
        for temporary, final in json.loads(journal.read_text(encoding="utf-8")):
            if Path(temporary).exists():
                os.replace(temporary, final)
        journal.unlink()


def _commit(directory: Path, files: dict[Path, list[str]]) -> None:
    """Write every annotator file of one import, all or nothing: temporary files first, then a journal of
    the renames, then the renames. A kill before the journal leaves the labels unchanged; after it, the
    next label command finishes the renames."""
    staged = []
    try:
        for path, lines in files.items():
            staged.append((write_temporary(path, lines), path))
        write_atomically(directory / JOURNAL, [json.dumps([[str(t), str(f)] for t, f in staged])])
    except BaseException:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        raise
    finish_interrupted_import(directory)


def _merge(new: list[LabelRecord], schema: Schema, directory: Path) -> Counter:
    finish_interrupted_import(directory)
    existing = {(r.ref, r.annotator): r for r in load_records(schema, directory)}
    in_batch: dict[tuple[str, str], LabelRecord] = {}
    outcome: Counter = Counter()
    for record in new:
        key = (record.ref, record.annotator)
        if key in in_batch:
            raise CtframeError(f"{record.ref} appears twice for {record.annotator} in the batch")
        in_batch[key] = record
        if key in existing:
            if existing[key].reading != record.reading:
                raise CtframeError(f"{record.ref}: {record.annotator} already labeled it "
                                   f"{existing[key].reading}, the batch says {record.reading}")
            outcome["already present"] += 1
    additions: dict[str, list[LabelRecord]] = defaultdict(list)
    for key, record in in_batch.items():
        if key not in existing:
            additions[record.annotator].append(record)
    for annotator, records in additions.items():
        if "/" in annotator or annotator.startswith("."):
            raise CtframeError(f"annotator name {annotator!r} cannot be a file name")
    files = {}
    for annotator, records in additions.items():
        old = [r for r in existing.values() if r.annotator == annotator]
        files[Path(directory) / f"{annotator}.jsonl"] = [r.to_json() for r in old + records]
        outcome[f"added ({annotator})"] += len(records)
    if files:
        _commit(Path(directory), files)
    return outcome


def kappa(records: list[LabelRecord], schema: Schema) -> dict[str, float | None]:
    """Cohen's κ between the first two (non-adjudicator) readings of every double-read paragraph:
    for the topic, and for each frame as a yes/no decision. None where nothing was double-read."""
    from sklearn.metrics import cohen_kappa_score

    pairs = []
    for readings in group_by_ref(records).values():
        plain = [r for r in readings if not r.annotator.startswith(ADJUDICATOR_PREFIX)]
        if len({r.annotator for r in plain}) >= 2:
            pairs.append((plain[0], plain[1]))
    fields = ["topic", *schema.frames]
    if not pairs:
        return dict.fromkeys(fields)
    result = {"topic": cohen_kappa_score([a.topic for a, _ in pairs], [b.topic for _, b in pairs])}
    for frame in schema.frames:
        a = [frame in x.frames for x, _ in pairs]
        b = [frame in y.frames for _, y in pairs]
        result[frame] = 1.0 if a == b else cohen_kappa_score(a, b)
    return {k: round(float(v), 4) for k, v in result.items()}


def stats(records: list[LabelRecord], paragraphs: dict[str, Paragraph], schema: Schema) -> dict:
    """Counts over the adjudicated labels, inter-annotator agreement, and ties awaiting a third reading."""
    groups = group_by_ref(records)
    final = {ref: adjudicate(readings) for ref, readings in groups.items()}
    topic_counts = Counter(topic for topic, _, _ in final.values())
    frame_counts = Counter(f for _, frames, _ in final.values() for f in frames)
    return {
        "paragraphs": len(final),
        "outlets": len({paragraphs[ref].source for ref in final if ref in paragraphs}),
        "topic": {t: topic_counts.get(t, 0) for t in schema.topics},
        "frames": {f: frame_counts.get(f, 0) for f in schema.frames},
        "double_annotated": sum(1 for readings in groups.values() if len({r.annotator for r in readings}) >= 2),
        "kappa": kappa(records, schema),
        "readings": len(records),
        "annotators": dict(Counter(r.annotator for r in records)),
        "needs_adjudication": sorted(ref for ref, (_, _, tie) in final.items() if tie),
        "dates": dict(sorted(Counter(paragraphs[ref].date for ref in final if ref in paragraphs).items())),
    }
