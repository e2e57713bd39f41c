"""The label schema, read from ``labels/schema.yaml`` (the one place labels are named)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ctframe import LABELS_DIR, CtframeError

SCHEMA_PATH = LABELS_DIR / "schema.yaml"


@dataclass(frozen=True)
class Schema:
    topics: tuple[str, ...]
    frames: tuple[str, ...]
    frames_topic: str
    keywords: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def lexicon(self) -> dict[str, list[str]]:
        """The ``keywords:`` of every label, as lists (what ``KeywordRules`` takes)."""
        return {label: list(words) for label, words in self.keywords.items()}

    def check(self, topic, frames, where: str) -> None:
        """Raise a CtframeError naming ``where`` if the topic or a frame is not in the schema."""
        if topic not in self.topics:
            raise CtframeError(f"{where}: unknown topic {topic!r} (schema: {', '.join(self.topics)})")
        if not isinstance(frames, list):
            raise CtframeError(f"{where}: 'frames' must be a list")
        for frame in frames:
            if frame not in self.frames:
                raise CtframeError(f"{where}: unknown frame {frame!r} (schema: {', '.join(self.frames)})")
        if len(set(frames)) != len(frames):
            raise CtframeError(f"{where}: a frame is listed twice")
        if frames and topic != self.frames_topic:
            raise CtframeError(f"{where}: frames are only for topic {self.frames_topic!r}, not {topic!r}")


def load_schema(path: str | Path | None = None) -> Schema:
    """The label schema at ``path`` (default: ``labels/schema.yaml``)."""
    path = path or SCHEMA_PATH
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CtframeError(f"{path}: cannot read the label schema ({exc})") from exc
    try:
        topics, frames = tuple(data["topics"]), tuple(data["frames"])
        frames_topic = data["frames_topic"]
    except (KeyError, TypeError) as exc:
        raise CtframeError(f"{path}: the schema needs 'topics', 'frames' and 'frames_topic'") from exc
    if frames_topic not in topics:
        raise CtframeError(f"{path}: frames_topic {frames_topic!r} is not a topic")
    keywords = {name: tuple((spec or {}).get("keywords") or ())
                for section in ("topics", "frames") for name, spec in data[section].items()}
    return Schema(topics, frames, frames_topic, keywords)
