"""Label Studio interop: batches out as tasks (with optional model pre-annotations), exports back in.

Only human annotations are imported; Label Studio ``predictions`` (the pre-annotations) never are.
"""
from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import quoteattr

from ctframe import CtframeError, write_atomically
from ctframe.features.corpus import read_jsonl
from ctframe.train.labels import LabelRecord, parse_record
from ctframe.train.schema import Schema, load_schema


def labeling_config(schema: Schema) -> str:
    """The Label Studio labeling interface for the schema (paste into the project's settings)."""
    topics = "\n".join(f"    <Choice value={quoteattr(t)}/>" for t in schema.topics)
    frames = "\n".join(f"    <Choice value={quoteattr(f)}/>" for f in schema.frames)
    return (f'<View>\n  <Header value="$title"/>\n  <Text name="text" value="$text"/>\n'
            f'  <Choices name="topic" toName="text" choice="single" required="true">\n{topics}\n  </Choices>\n'
            f'  <Choices name="frames" toName="text" choice="multiple" '
            f'visibleWhen="choice-selected" whenTagName="topic" whenChoiceValue={quoteattr(schema.frames_topic)}>\n'
            f'{frames}\n  </Choices>\n</View>\n')


def _choices(name: str, values: list[str]) -> dict:
    return {"from_name": name, "to_name": "text", "type": "choices", "value": {"choices": values}}


def tasks_from_batch(batch: list[dict], predictions: list[dict] | None = None, model_version: str = "") -> list[dict]:
    """Label Studio tasks from queue batch rows; ``predictions`` (one per row) become pre-annotations."""
    tasks = []
    for i, row in enumerate(batch):
        task = {"data": {k: row[k] for k in ("ref", "sha1", "text", "title", "source", "date") if k in row}}
        if predictions is not None:
            p = predictions[i]
            result = [_choices("topic", [p["topic"]])] + ([_choices("frames", p["frames"])] if p["frames"] else [])
            task["predictions"] = [{"model_version": model_version, "score": p["score"], "result": result}]
        tasks.append(task)
    return tasks


def export_tasks(batch_path: str, output: str, *, model_dir=None, schema_path=None) -> Path:
    """Write a queue batch as Label Studio tasks to ``output`` (with the model's predictions as
    pre-annotations when ``model_dir`` is given) and the labeling config beside it (``.xml``)."""
    from ctframe.train.families import load_exported
    from ctframe.train.predictions import predict_records

    batch = [row for _, row in read_jsonl(batch_path)]
    predictions, version = None, ""
    if model_dir:
        found = predict_records(load_exported(model_dir), {"text": [row["text"] for row in batch],
                                                           "title": [row.get("title") or "" for row in batch]})
        predictions = [{"topic": p.topic, "frames": list(p.frames), "score": max(p.topic_scores.values())}
                       for p in found]
        version = str(model_dir)
    write_atomically(output, [json.dumps(tasks_from_batch(batch, predictions, version), ensure_ascii=False)])
    return write_atomically(Path(output).with_suffix(".xml"), [labeling_config(load_schema(schema_path))])


def _annotator(annotation: dict) -> str:
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        who = who.get("email") or who.get("id")
    return f"labelstudio-{who}" if who not in (None, "") else ""


def records_from_export(path: Path, schema: Schema, annotator: str | None = None) -> list[LabelRecord]:
    """Label records from a Label Studio JSON export: one per submitted (not cancelled) annotation."""
    try:
        tasks = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CtframeError(f"{path}: not a readable Label Studio JSON export ({exc})") from exc
    if not isinstance(tasks, list):
        raise CtframeError(f"{path}: a Label Studio export is a JSON array of tasks")
    records = []
    for number, task in enumerate(tasks, start=1):
        where = f"{path}: task {task.get('id', number) if isinstance(task, dict) else number}"
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise CtframeError(f"{where}: expected an object with 'data'")
        for annotation in task.get("annotations") or []:
            if annotation.get("was_cancelled"):
                continue
            chosen = {r.get("from_name"): r.get("value", {}).get("choices", []) for r in annotation.get("result", [])}
            if len(chosen.get("topic", [])) != 1:
                raise CtframeError(f"{where}: an annotation must choose exactly one topic")
            data = {"ref": task["data"].get("ref"), "sha1": task["data"].get("sha1"), "topic": chosen["topic"][0],
                    "frames": sorted(chosen.get("frames", [])), "annotator": annotator or _annotator(annotation)}
            records.append(parse_record(data, schema, where))
    return records
