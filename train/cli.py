"""The ``ctframe`` command line. Each command parses its options and calls one library function with
keyword arguments; the work (and every default) lives in that function's module. Imports are lazy, so a
command loads only what it uses."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ctframe import CHAMPION_DIR, CtframeError


def _log(message: str) -> None:
    print(message, file=sys.stderr)


def _data_overrides(args) -> dict:
    """Config overrides from the --corpus / --labels / --skip-stale options."""
    overrides = {}
    if getattr(args, "corpus", None):
        overrides["corpus"] = {"path": args.corpus}
    labels = {k: v for k, v in (("path", getattr(args, "labels", None)),
                                ("skip_stale", getattr(args, "skip_stale", False))) if v}
    if labels:
        overrides["labels"] = labels
    return overrides


def cmd_train(args) -> None:
    from ctframe.train.fit import train

    summary = train(args.config, _data_overrides(args), register=not args.no_register,
                    export_dir=Path(args.export_dir), log=_log)
    print(json.dumps(summary, indent=2, ensure_ascii=False))


def cmd_evaluate(args) -> None:
    from ctframe.train.evaluate import evaluate_exported

    report = evaluate_exported(args.model, config_path=args.config, overrides=_data_overrides(args))
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else report["table"])


def cmd_score(args) -> None:
    from ctframe.train.serving.score import score

    count = score(args.inputs, model_dir=args.model, out=args.output, as_paragraphs=args.paragraphs,
                  summary=args.summary, batch_size=args.batch_size, jobs=args.jobs, resume=args.resume,
                  explain=args.explain)
    if args.output not in (None, "-"):
        _log(f"ctframe: scored {count} paragraphs → {args.output}")


def cmd_view(args) -> None:
    from ctframe.train.serving.view import view

    count = view(args.inputs, args.output, model_dir=args.model)
    _log(f"ctframe: {count} articles → {args.output}")


def cmd_drift(args) -> None:
    from ctframe.train.serving.drift import write_drift

    print(write_drift(args.inputs, model_dir=args.model, output=args.output, as_json=args.json))


def cmd_score_spark(args) -> None:
    from ctframe.train.serving.spark import score_spark

    count = score_spark(args.source, args.dest, model_dir=args.model, text_column=args.text_column,
                        master=args.master)
    _log(f"ctframe: scored {count} rows → {args.dest}")


def cmd_serve(args) -> None:
    from ctframe.train.serving.serve import serve

    _log(f"ctframe: serving {args.model} on http://{args.host}:{args.port}/invocations")
    serve(args.model, host=args.host, port=args.port, max_body_bytes=int(args.max_body_mb * 1024 * 1024),
          workers=args.workers)


def cmd_experiment_run(args) -> None:
    from ctframe.train.search.experiment import run_experiment

    summary = run_experiment(args.file, jobs=args.jobs, export_dir=Path(args.export_dir),
                             register=not args.no_register, outlets=not args.no_outlets, log=_log)
    print(json.dumps(summary, indent=2, ensure_ascii=False))


def cmd_compare(args) -> None:
    from ctframe.train.search.compare import compare

    print(compare(args.experiment, as_json=args.json, report_dir=Path(args.report) if args.report else None,
                  mlflow_experiment=args.mlflow_experiment))
    if args.report:
        _log(f"ctframe: report → {Path(args.report) / 'report.html'}")


def cmd_promote(args) -> None:
    from ctframe.train.fit import promote_run

    print(f"champion → {promote_run(args.run_id, model_name=args.model_name, experiment=args.experiment, dest=Path(args.dest), log=_log)}")


def cmd_export(args) -> None:
    from ctframe.train import tracking

    tracking.start(args.experiment)
    print(f"exported → {tracking.export_champion(args.model_name, Path(args.dest))}")


def cmd_labels_queue(args) -> None:
    from ctframe.train.labeling.queue import queue

    count = queue(args.output, args.n, labels_dir=args.labels, corpus=args.corpus, exclude_batches=args.exclude,
                  random_share=args.random_share, uncertain_share=args.uncertain_share,
                  hard_share=args.hard_share, model_dir=args.model,
                  seed=args.seed, from_archives=args.from_archives)
    _log(f"ctframe: wrote {count} paragraphs to {args.output}")


def cmd_labels_import(args) -> None:
    from ctframe.train.labeling.store import import_files

    outcome = import_files(args.files, labels_dir=args.labels, corpus=args.corpus, annotator=args.annotator,
                           batch=args.batch)
    for what, count in sorted(outcome.items()):
        print(f"{what}: {count}")


def cmd_labels_studio_import(args) -> None:
    from ctframe.train.labeling.store import import_files

    outcome = import_files(args.files, labels_dir=args.labels, corpus=args.corpus, annotator=args.annotator,
                           label_studio=True)
    for what, count in sorted(outcome.items()):
        print(f"{what}: {count}")


def cmd_labels_studio_export(args) -> None:
    from ctframe.train.labeling.labelstudio import export_tasks

    config = export_tasks(args.batch, args.output, model_dir=args.model)
    _log(f"ctframe: wrote Label Studio tasks to {args.output} (labeling config: {config})")


def cmd_labels_test_sample(args) -> None:
    from ctframe.train.labeling.testset import draw_test_sample

    count = draw_test_sample(Path(args.test_dir), args.output, corpus=args.corpus)
    _log(f"ctframe: drew the {count}-paragraph test sample into {args.test_dir}/sample.jsonl; batch → {args.output}")


def cmd_labels_suspects(args) -> None:
    from ctframe.train.labeling.suspects import write_suspects

    count = write_suspects(args.output, args.n, config_path=args.config, overrides=_data_overrides(args))
    _log(f"ctframe: wrote {count} disputed paragraphs to {args.output} for re-reading")


def cmd_labels_curve(args) -> None:
    from ctframe.train.labeling.curve import learning_curve

    result = learning_curve(args.config, overrides=_data_overrides(args), output=Path(args.output),
                            fractions=args.fractions, log=_log)
    print(json.dumps(result["rows"], indent=2) if args.json else result["table"])


def cmd_labels_stats(args) -> None:
    from ctframe.train.labeling.store import label_stats

    result = label_stats(labels_dir=args.labels, corpus=args.corpus)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return
    for key, value in result.items():
        print(f"{key:>20}: {value if not isinstance(value, list) else len(value)}")


def cmd_labels_export(args) -> None:
    from ctframe.train.labeling.store import export_labels

    count = export_labels(args.output, labels_dir=args.labels, corpus=args.corpus, with_text=args.with_text,
                          skip_stale=args.skip_stale)
    _log(f"ctframe: exported {count} labeled paragraphs to {args.output}")


def build_parser() -> argparse.ArgumentParser:
    from ctframe.train.labeling import HARD_SHARE, RANDOM_SHARE, UNCERTAIN_SHARE
    from ctframe.train.labels import ANNOTATIONS_DIR
    from ctframe.train.serving.score import BATCH_SIZE
    from ctframe.train.serving.serve import HOST, MAX_BODY_BYTES, PORT

    parser = argparse.ArgumentParser(prog="ctframe", description="Topic and counter-terrorism framing of "
                                     "Arabic news paragraphs: train, track, export, score.")
    sub = parser.add_subparsers(dest="command", required=True)
    data = argparse.ArgumentParser(add_help=False)
    data.add_argument("--corpus", help="SaudiNewsNet folder (default: $CTFRAME_CORPUS or ../shared/corpora/saudinewsnet)")
    data.add_argument("--labels", help=f"label folder (default: {ANNOTATIONS_DIR})")
    data.add_argument("--skip-stale", action="store_true", help="leave out (and report) labels whose paragraph changed")

    p = sub.add_parser("train", parents=[data], help="train on the labels, log to MLflow, register, maybe promote")
    p.add_argument("config", nargs="?", help="experiment YAML (default: the embedded defaults)")
    p.add_argument("--no-register", action="store_true", help="log the run but do not register or promote")
    p.add_argument("--export-dir", default=str(CHAMPION_DIR), help="where a new champion is exported")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", parents=[data], help="score an exported model on the frozen test set")
    p.add_argument("--model", default=str(CHAMPION_DIR), help="exported model folder (default: models/champion)")
    p.add_argument("--test", action="store_true", required=True,
                   help="the frozen test set (labels/test): the one split an exported model has not seen")
    p.add_argument("--config", help="config naming the labels and holdout dates (default: the embedded defaults)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("score", help="score articles or paragraphs; JSONL out, one line per paragraph")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help=".txt article, .jsonl of {id,text}, .zip, a folder, or -")
    p.add_argument("--paragraphs", action="store_true", help="each text is one paragraph (no segmentation)")
    p.add_argument("--model", default=str(CHAMPION_DIR), help="exported MLflow model (default: models/champion)")
    p.add_argument("-o", "--output", help="output JSONL (default: stdout); written whole or not at all")
    p.add_argument("--summary", metavar="FILE", help="also write one summary line per article to FILE")
    p.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="paragraphs per model call")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (0: all cores)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from OUTPUT.part")
    p.add_argument("--explain", action="store_true", help="add `evidence`: the spans that raise the topic and each "
                   "predicted frame most, with their effect on its probability")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("view", help="scored articles as one HTML page: topics, frame chips, evidence highlighted")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help=".txt article, .jsonl of {id,text,title}, .zip, a folder, or -")
    p.add_argument("-o", "--output", required=True, help="HTML page to write")
    p.add_argument("--model", default=str(CHAMPION_DIR), help="exported MLflow model (default: models/champion)")
    p.set_defaults(func=cmd_view)

    p = sub.add_parser("drift", help="new press against the training data: unseen n-grams, confidence, shares, "
                       "least-sure paragraphs, per source")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="archives: SaudiNewsNet .zip, .jsonl, .txt or folders")
    p.add_argument("-o", "--output", help="also write the report as an HTML page (plots embedded)")
    p.add_argument("--json", action="store_true", help="the figures as JSON")
    p.add_argument("--model", default=str(CHAMPION_DIR))
    p.set_defaults(func=cmd_drift)

    p = sub.add_parser("score-spark", help="score a Parquet/JSONL archive of paragraphs with Spark into Parquet")
    p.add_argument("source", help=".parquet or .jsonl file or folder, one paragraph per row")
    p.add_argument("dest", help="Parquet folder to write (must not exist)")
    p.add_argument("--model", default=str(CHAMPION_DIR))
    p.add_argument("--text-column", default="text")
    p.add_argument("--master", default="local[*]", help="Spark master (default: local mode, all cores)")
    p.set_defaults(func=cmd_score_spark)

    p = sub.add_parser("serve", help="fast REST scoring server: MLflow's request formats, micro-batched, "
                                     "one worker process per core")
    p.add_argument("--model", default=str(CHAMPION_DIR))
    p.add_argument("--host", default=HOST)
    p.add_argument("--port", type=int, default=PORT)
    p.add_argument("--max-body-mb", type=float, default=MAX_BODY_BYTES / 2**20, help="larger requests get HTTP 413")
    p.add_argument("--workers", type=int, default=0, help="worker processes, each holding the model (0: one per core)")
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

    p = sub.add_parser("compare", help="runs side by side, best first; --report writes report.html")
    p.add_argument("experiment", nargs="?", help="experiment name (file stem) or parent run id "
                   "(default: the latest run of every experiment, and the training runs)")
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
    p.add_argument("--random-share", type=float, default=RANDOM_SHARE, help="share drawn uniformly at random")
    p.add_argument("--uncertain-share", type=float, default=UNCERTAIN_SHARE,
                   help="share chosen by model uncertainty (with --model)")
    p.add_argument("--hard-share", type=float, default=HARD_SHARE,
                   help="share drawn from the model's confusable calls, for hard negatives (with --model)")
    p.add_argument("--model", help="exported model folder, for uncertainty and hard-negative sampling")
    p.add_argument("--exclude", nargs="*", default=[], help="earlier batch files whose paragraphs to skip")
    p.add_argument("--from", dest="from_archives", nargs="+", default=(), metavar="ARCHIVE",
                   help="take candidates only from these daily zips of the corpus (e.g. a source drift found far)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_labels_queue)

    p = labels.add_parser("import", parents=[common], help="validate and merge annotated batches")
    p.add_argument("files", nargs="+", help="JSONL records {ref, sha1, topic, frames, annotator}, or with "
                   "--batch, answers {n, topic, frames} to that batch's lines")
    p.add_argument("--batch", help="the queue batch the answers refer to by line number `n`")
    p.add_argument("--annotator", help="annotator for records that name none (required with --batch)")
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

    p = labels.add_parser("test-sample", help="draw the frozen test set by its design (once) and write its batch")
    p.add_argument("--test-dir", default=str(ANNOTATIONS_DIR.parent / "test"), help="folder with design.yaml")
    p.add_argument("-o", "--output", required=True, help="batch file for the readers")
    p.add_argument("--corpus", help="SaudiNewsNet folder")
    p.set_defaults(func=cmd_labels_test_sample)

    p = labels.add_parser("suspects", parents=[data], help="likely label errors (confident learning) as a "
                          "re-read batch")
    p.add_argument("config", nargs="?", help="config whose out-of-fold predictions judge the labels "
                   "(default: the embedded defaults)")
    p.add_argument("-n", type=int, default=100, help="how many paragraphs")
    p.add_argument("-o", "--output", required=True, help="batch file to write (JSONL, with text and why)")
    p.set_defaults(func=cmd_labels_suspects)

    p = labels.add_parser("curve", parents=[data], help="learning curve: F1 per label at growing shares of the "
                          "labels (grouped by article); PNG + MLflow + table")
    p.add_argument("config", nargs="?", help="config to fit (default: the embedded defaults)")
    p.add_argument("-o", "--output", default="curve.png", help="PNG to write (default: curve.png)")
    p.add_argument("--fractions", type=float, nargs="+", default=[0.25, 0.5, 0.75, 1.0])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_labels_curve)

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
