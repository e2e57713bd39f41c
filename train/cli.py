"""The ``ctframe`` command line: train, score, promote, export, labels."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from features.errors import CtframeError


def cmd_train(args) -> None:
    from train.fit import train

    overrides = {}
    if args.corpus:
        overrides["corpus"] = {"path": args.corpus}
    if args.labels or args.skip_stale:
        overrides["labels"] = {k: v for k, v in (("path", args.labels), ("skip_stale", args.skip_stale)) if v}
    summary = train(args.config, overrides, register=not args.no_register, export_dir=Path(args.export_dir),
                    log=lambda m: print(m, file=sys.stderr))
    print(json.dumps(summary, indent=2, ensure_ascii=False))


def cmd_score(args) -> None:
    from train.score import score

    count = score(args.inputs, args.model, args.output, args.paragraphs, args.summary, args.batch_size, args.jobs,
                  args.resume)
    if args.output not in (None, "-"):
        print(f"ctframe: scored {count} paragraphs → {args.output}", file=sys.stderr)


def cmd_score_spark(args) -> None:
    from train.spark import score_spark

    count = score_spark(args.source, args.dest, args.model, args.text_column, args.master)
    print(f"ctframe: scored {count} rows → {args.dest}", file=sys.stderr)


def cmd_serve(args) -> None:
    from train.serve import serve

    print(f"ctframe: serving {args.model} on http://{args.host}:{args.port}/invocations", file=sys.stderr)
    serve(args.model, args.host, args.port, int(args.max_body_mb * 1024 * 1024))


def cmd_experiment_run(args) -> None:
    from train.experiment import run_experiment

    summary = run_experiment(args.file, args.jobs, Path(args.export_dir), register=not args.no_register,
                             outlets=not args.no_outlets, log=lambda m: print(m, file=sys.stderr))
    print(json.dumps(summary, indent=2, ensure_ascii=False))


def cmd_compare(args) -> None:
    from train import tracking
    from train.compare import compare

    tracking.start(args.mlflow_experiment)
    print(compare(args.experiment, args.json, Path(args.report) if args.report else None))
    if args.report:
        print(f"ctframe: report → {Path(args.report) / 'report.html'}", file=sys.stderr)


def cmd_promote(args) -> None:
    from train import tracking

    tracking.start(args.experiment)
    version = tracking.registered_version(args.model_name, args.run_id)
    if version is None:
        from train.fit import register_run

        version = register_run(args.run_id, log=lambda m: print(m, file=sys.stderr))
    print(f"champion → {tracking.promote(args.model_name, version, Path(args.dest))}")


def cmd_export(args) -> None:
    from train import tracking

    tracking.start(args.experiment)
    print(f"exported → {tracking.export_champion(args.model_name, Path(args.dest))}")


def _corpus_index(corpus):
    from features.corpus import load_snn_paragraphs

    return {p.id: p for p in load_snn_paragraphs(corpus)}


def cmd_labels_queue(args) -> None:
    from train.labels import load_records
    from train.queue import batch_refs, make_queue, write_batch
    from train.schema import load_schema

    schema = load_schema()
    paragraphs = list(_corpus_index(args.corpus).values())
    exclude = {r.ref for r in load_records(schema, Path(args.labels))} | batch_refs(args.exclude)
    model = None
    if args.model:
        from train.pyfunc import load_model

        model = load_model(Path(args.model) / "artifacts" / "ctframe.skops")
    picked = make_queue(paragraphs, schema, args.n, exclude=exclude, random_share=args.random_share,
                        uncertain_share=args.uncertain_share, model=model, seed=args.seed)
    write_batch(Path(args.output), picked)
    print(f"ctframe: wrote {len(picked)} paragraphs to {args.output}", file=sys.stderr)


def cmd_labels_import(args) -> None:
    from train.labels import import_records, read_records
    from train.schema import load_schema

    schema = load_schema()
    new = [r for path in args.files for r in read_records(Path(path), schema, args.annotator)]
    outcome = import_records(new, _corpus_index(args.corpus), schema, Path(args.labels))
    for what, count in sorted(outcome.items()):
        print(f"{what}: {count}")


def cmd_labels_suspects(args) -> None:
    from train.config import load_config
    from train.dataset import dataset_for
    from train.queue import write_batch
    from train.schema import load_schema
    from train.suspects import find_suspects

    schema = load_schema()
    config = load_config(args.config, {"labels": {"path": args.labels, "skip_stale": args.skip_stale},
                                       "corpus": {"path": args.corpus}})
    data = dataset_for(config, schema)
    picked = find_suspects(config, schema, data, args.n)
    write_batch(Path(args.output), picked)
    print(f"ctframe: wrote {len(picked)} disputed paragraphs to {args.output} for re-reading", file=sys.stderr)


def cmd_labels_stats(args) -> None:
    from train.labels import load_records, stats
    from train.schema import load_schema

    schema = load_schema()
    result = stats(load_records(schema, Path(args.labels)), _corpus_index(args.corpus), schema)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return
    for key, value in result.items():
        print(f"{key:>20}: {value if not isinstance(value, list) else len(value)}")


def cmd_labels_export(args) -> None:
    from train.labels import check_against_corpus, final_labels, group_by_ref, load_records, write_atomically
    from train.schema import load_schema

    schema = load_schema()
    paragraphs = _corpus_index(args.corpus)
    records = check_against_corpus(load_records(schema, Path(args.labels)), paragraphs, args.skip_stale)
    groups = group_by_ref(records)
    lines = []
    for ref, (topic, frames) in sorted(final_labels(records).items()):
        row = {"id": ref, "topic": topic, "frames": list(frames),
               "annotator": "+".join(sorted({r.annotator for r in groups[ref]}))}
        if args.with_text:
            row["text"] = paragraphs[ref].text
        lines.append(json.dumps(row, ensure_ascii=False))
    write_atomically(Path(args.output), lines)
    print(f"ctframe: exported {len(lines)} labeled paragraphs to {args.output}", file=sys.stderr)


def cmd_labels_studio_export(args) -> None:
    from train.labelstudio import labeling_config, tasks_from_batch
    from train.labels import write_atomically
    from train.schema import load_schema

    from features.corpus import read_jsonl

    batch = [row for _, row in read_jsonl(args.batch)]
    predictions, version = None, ""
    if args.model:
        from train.score import load_pyfunc, records

        scored = records(load_pyfunc(args.model), [(row["ref"], 0, row["text"]) for row in batch])
        predictions = [{"topic": s["topic"], "frames": s["frames"], "score": max(s["topic_scores"].values())}
                       for s in scored]
        version = str(args.model)
    write_atomically(Path(args.output), [json.dumps(tasks_from_batch(batch, predictions, version), ensure_ascii=False)])
    config = Path(args.output).with_suffix(".xml")
    write_atomically(config, [labeling_config(load_schema())])
    print(f"ctframe: wrote {len(batch)} Label Studio tasks to {args.output} (labeling config: {config})",
          file=sys.stderr)


def cmd_labels_studio_import(args) -> None:
    from train.labels import import_records
    from train.labelstudio import records_from_export
    from train.schema import load_schema

    schema = load_schema()
    new = [r for path in args.files for r in records_from_export(Path(path), schema, args.annotator)]
    for what, count in sorted(import_records(new, _corpus_index(args.corpus), schema, Path(args.labels)).items()):
        print(f"{what}: {count}")


def build_parser() -> argparse.ArgumentParser:
    from train.labels import ANNOTATIONS_DIR
    from train.tracking import CHAMPION_DIR

    parser = argparse.ArgumentParser(prog="ctframe", description="Topic and counter-terrorism framing of "
                                     "Arabic news paragraphs: train, track, export, score.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train on the labels, log to MLflow, register, maybe promote")
    p.add_argument("config", nargs="?", help="experiment YAML (default: the embedded defaults)")
    p.add_argument("--corpus", help="SaudiNewsNet folder (default: $CTFRAME_CORPUS or ../shared/corpora/saudinewsnet)")
    p.add_argument("--labels", help=f"label folder (default: {ANNOTATIONS_DIR})")
    p.add_argument("--skip-stale", action="store_true", help="leave out (and report) labels whose paragraph changed")
    p.add_argument("--no-register", action="store_true", help="log the run but do not register or promote")
    p.add_argument("--export-dir", default=str(CHAMPION_DIR), help="where a new champion is exported")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("score", help="score articles or paragraphs; JSONL out, one line per paragraph")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help=".txt article, .jsonl of {id,text}, a folder, or -")
    p.add_argument("--paragraphs", action="store_true", help="each text is one paragraph (no segmentation)")
    p.add_argument("--model", default=str(CHAMPION_DIR), help="exported MLflow model (default: models/champion)")
    p.add_argument("-o", "--output", help="output JSONL (default: stdout); written whole or not at all")
    p.add_argument("--summary", metavar="FILE", help="also write one summary line per article to FILE")
    p.add_argument("--batch-size", type=int, default=512, help="paragraphs per model call")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (0: all cores)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from OUTPUT.part")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("score-spark", help="score a Parquet/JSONL archive of paragraphs with Spark into Parquet")
    p.add_argument("source", help=".parquet or .jsonl file or folder, one paragraph per row")
    p.add_argument("dest", help="Parquet folder to write (must not exist)")
    p.add_argument("--model", default=str(CHAMPION_DIR))
    p.add_argument("--text-column", default="text")
    p.add_argument("--master", default="local[*]", help="Spark master (default: local mode, all cores)")
    p.set_defaults(func=cmd_score_spark)

    p = sub.add_parser("serve", help="REST scoring server (MLflow's) with a request-size limit")
    p.add_argument("--model", default=str(CHAMPION_DIR))
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5001)
    p.add_argument("--max-body-mb", type=float, default=5.0, help="larger requests get HTTP 413")
    p.set_defaults(func=cmd_serve)

    experiment = sub.add_parser("experiment", help="run a search of configs as MLflow child runs").add_subparsers(
        dest="action", required=True)
    p = experiment.add_parser("run", help="evaluate every config of an experiment file; promote the best")
    p.add_argument("file", help="experiment YAML: a config plus `search:` (see experiments/)")
    p.add_argument("--jobs", type=int, default=-1, help="configs evaluated in parallel (default -1: all cores)")
    p.add_argument("--no-register", action="store_true", help="do not fit, register or promote the best config")
    p.add_argument("--no-outlets", action="store_true", help="skip the leave-one-outlet-out report")
    p.add_argument("--export-dir", default=str(CHAMPION_DIR), help="where a new champion is exported")
    p.set_defaults(func=cmd_experiment_run)

    p = sub.add_parser("compare", help="experiment runs side by side, best first; --report writes report.html")
    p.add_argument("experiment", nargs="?", help="experiment name (file stem) or parent run id "
                   "(default: the latest run of every experiment)")
    p.add_argument("--json", action="store_true", help="the same rows as JSON")
    p.add_argument("--report", metavar="DIR", help="also write DIR/report.html with the plots")
    p.add_argument("--mlflow-experiment", default="ctframe", help="MLflow experiment holding the runs")
    p.set_defaults(func=cmd_compare)

    for name, func, helptext in (("promote", cmd_promote, "make the version registered from RUN_ID the champion"),
                                 ("export", cmd_export, "write the current champion to a folder")):
        p = sub.add_parser(name, help=helptext)
        if name == "promote":
            p.add_argument("run_id")
        p.add_argument("--dest", default=str(CHAMPION_DIR), help="where the champion is exported")
        p.add_argument("--model-name", default="ctframe")
        p.add_argument("--experiment", default="ctframe")
        p.set_defaults(func=func)

    labels = sub.add_parser("labels", help="grow and inspect the labeled set").add_subparsers(dest="action",
                                                                                           required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--labels", default=str(ANNOTATIONS_DIR), help="label folder")
    common.add_argument("--corpus", help="SaudiNewsNet folder")

    p = labels.add_parser("queue", parents=[common], help="choose the next paragraphs to label")
    p.add_argument("-n", type=int, default=200, help="how many paragraphs")
    p.add_argument("-o", "--output", required=True, help="batch file to write (JSONL, with text)")
    p.add_argument("--random-share", type=float, default=0.3, help="share drawn uniformly at random")
    p.add_argument("--uncertain-share", type=float, default=0.3, help="share chosen by model uncertainty (--model)")
    p.add_argument("--model", help="exported model folder, for uncertainty sampling")
    p.add_argument("--exclude", nargs="*", default=[], help="earlier batch files whose paragraphs to skip")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_labels_queue)

    p = labels.add_parser("import", parents=[common], help="validate and merge annotated batches")
    p.add_argument("files", nargs="+", help="JSONL records {ref, sha1, topic, frames, annotator}")
    p.add_argument("--annotator", help="annotator for records that name none")
    p.set_defaults(func=cmd_labels_import)

    p = labels.add_parser("studio-export", help="a queue batch as Label Studio tasks (+ labeling config .xml)")
    p.add_argument("batch", help="batch file written by `labels queue`")
    p.add_argument("-o", "--output", required=True, help="tasks JSON to write")
    p.add_argument("--model", help="exported model folder: add its predictions as pre-annotations")
    p.set_defaults(func=cmd_labels_studio_export)

    p = labels.add_parser("studio-import", parents=[common], help="merge a Label Studio JSON export")
    p.add_argument("files", nargs="+", help="Label Studio JSON exports")
    p.add_argument("--annotator", help="annotator name (default: labelstudio-<completed_by>)")
    p.set_defaults(func=cmd_labels_studio_import)

    p = labels.add_parser("suspects", parents=[common], help="likely label errors (confident learning) as a "
                          "re-read batch")
    p.add_argument("config", nargs="?", help="config whose out-of-fold predictions judge the labels "
                   "(default: the embedded defaults)")
    p.add_argument("-n", type=int, default=100, help="how many paragraphs")
    p.add_argument("-o", "--output", required=True, help="batch file to write (JSONL, with text and why)")
    p.add_argument("--skip-stale", action="store_true")
    p.set_defaults(func=cmd_labels_suspects)

    p = labels.add_parser("stats", parents=[common], help="label counts and agreement")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_labels_stats)

    p = labels.add_parser("export", parents=[common], help="adjudicated labels as JSONL")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--with-text", action="store_true", help="resolve each paragraph's text from the corpus")
    p.add_argument("--skip-stale", action="store_true")
    p.set_defaults(func=cmd_labels_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except CtframeError as exc:
        print(f"ctframe: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ctframe: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
