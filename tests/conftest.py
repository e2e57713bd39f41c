"""Fixtures: a tiny SaudiNewsNet-shaped corpus and labels built from sentences written for these tests."""
from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from ctframe.features.segment import split_paragraphs, text_sha1
from ctframe.train.schema import load_schema

# Hand-written sentences, a few per label; paragraphs are random combinations of them.
SENTENCES = {
    "prevention": ["أحبطت الأجهزة الأمنية مخططا إرهابيا لاستهداف منشآت حيوية",
                   "قبضت قوات الأمن على أفراد خلية إرهابية قبل تنفيذ عملياتها",
                   "رصدت الاستخبارات تحركات المشتبه بهم وتتبعت اتصالاتهم",
                   "شددت السلطات الرقابة على الحدود ومصادر تمويل الإرهاب"],
    "deradicalization": ["يستقبل مركز المناصحة الموقوفين لإعادة تأهيلهم ودمجهم في المجتمع",
                         "دعا العلماء إلى تحصين الشباب من الفكر المتطرف وتعزيز الأمن الفكري",
                         "أطلقت الوزارة حملة توعية في المدارس لنشر الوسطية والاعتدال",
                         "فند الخطباء شبهات الجماعات المتطرفة وبينوا بطلان فكرها"],
    "international_cooperation": ["اتفق البلدان على تبادل المعلومات الاستخباراتية لمواجهة داعش",
                                  "يواصل التحالف الدولي تنسيق العمليات المشتركة ضد التنظيم",
                                  "وقعت الدولتان اتفاقية للتعاون الأمني في مكافحة الإرهاب",
                                  "أشاد الوزير الأجنبي بتعاون الأجهزة الأمنية السعودية مع بلاده"],
    "attack": ["فجر انتحاري نفسه في مسجد وقتل عددا من المصلين",
               "تبنى تنظيم داعش الهجوم الإرهابي الذي استهدف نقطة أمنية"],
    "politics": ["استقبل ولي العهد وزير الخارجية وبحثا العلاقات الثنائية",
                 "عقد البرلمان جلسة لمناقشة مشروع قانون الانتخابات",
                 "تناولت المباحثات تطورات الأوضاع السياسية في المنطقة"],
    "economy": ["ارتفع مؤشر سوق الأسهم بدعم من قطاع البتروكيماويات",
                "تراجعت أسعار النفط في الأسواق العالمية خلال تعاملات الأمس",
                "أعلنت الشركة عن نمو أرباحها الفصلية بنسبة كبيرة"],
    "sports": ["فاز نادي الهلال على منافسه بهدفين في الدوري",
               "تعاقد النادي مع مدرب جديد استعدادا للموسم الرياضي",
               "سجل المهاجم هدف الفوز في الدقيقة الأخيرة من المباراة"],
    "society": ["أطلقت الأمانة حملة لصيانة الطرق قبل بدء العام الدراسي",
                "افتتح المستشفى قسما جديدا لعلاج أمراض القلب",
                "توقعت الأرصاد ارتفاع درجات الحرارة في المنطقة الشرقية"],
    "boilerplate": ["اضغط هنا لمتابعة آخر الأخبار", "شارك الخبر عبر تويتر", "اقرأ المزيد من الأخبار"],
}
FRAMES = load_schema().frames  # the fixtures follow the schema; a frame without sentences above is an error
SLOW_FIXTURES = {"trained", "searched", "mlflow_server", "ctframe_server", "fourth_frame"}


def pytest_collection_modifyitems(items):
    """Tests that start servers, Spark, subprocesses or real training runs are ``slow``: ``make test-fast``
    leaves them out, ``make test`` (CI) runs everything."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def make_paragraph(rng: random.Random, kind: str) -> str:
    picks = rng.sample(SENTENCES[kind], k=min(2, len(SENTENCES[kind])))
    return "، و".join(picks) + f" في اليوم {rng.randint(1, 999)}."


def build_corpus(folder: Path, n_articles: int = 72, seed: int = 0, frames=FRAMES, test_date: str | None = None) -> list[dict]:
    """Write daily zips of small articles (2015-07-21, 2015-08-09, and ``test_date`` if given), one paragraph
    kind per frame of ``frames`` (sentences from ``SENTENCES``) plus attacks and the other topics; return one
    truth record per paragraph."""
    rng = random.Random(seed)
    missing = [f for f in frames if f not in SENTENCES]
    if missing:
        raise ValueError(f"no test sentences for frame(s) {missing}: add them to SENTENCES")
    kinds = [*frames, "attack", "politics", "economy", "sports", "society", "boilerplate"]
    truth, days = [], {"2015-07-21": [], "2015-08-09": [], **({test_date: []} if test_date else {})}
    for a in range(n_articles):
        date = "2015-08-09" if a % 6 == 0 else test_date if test_date and a % 6 == 3 else "2015-07-21"
        chosen = [kinds[(a + k) % len(kinds)] for k in range(3)]
        paragraphs = [make_paragraph(rng, kind) for kind in chosen]
        url = f"http://example.test/{a}"
        days[date].append({"source": f"outlet{a % 3}", "url": url, "date_extracted": f"{date} 10:00:00",
                           "title": "عنوان", "author": "", "content": "\n\n".join(paragraphs)})
        for index, (kind, text) in enumerate(zip(chosen, split_paragraphs("\n".join(paragraphs)))):
            topic = "terrorism" if kind in frames or kind == "attack" else kind
            truth.append({"ref": f"snn:{url}#{index}", "sha1": text_sha1(text), "topic": topic,
                          "frames": [kind] if kind in frames else [], "text": text, "date": date})
    folder.mkdir(parents=True, exist_ok=True)
    for date, articles in days.items():
        with zipfile.ZipFile(folder / f"{date}.zip", "w") as archive:
            archive.writestr(f"{date}.json", json.dumps(articles, ensure_ascii=False))
    return truth


def write_labels(folder: Path, truth: list[dict], annotator: str = "tester") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{annotator}.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for t in truth:
            handle.write(json.dumps({"ref": t["ref"], "sha1": t["sha1"], "topic": t["topic"],
                                     "frames": t["frames"], "annotator": annotator}, ensure_ascii=False) + "\n")
    return path


def tiny_overrides(root: Path) -> dict:
    """Config overrides that train on the tiny corpus and labels under ``root``."""
    return {"corpus": {"path": str(root / "corpus")}, "labels": {"path": str(root / "labels")},
            "features": {"min_df": 1}, "evaluation": {"folds": 3, "holdout_dates": ["2015-08-09"]}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(command: list[str], port: int, cwd) -> subprocess.Popen:
    # mlflow models serve execs `uvicorn`: put this interpreter's bin folder first on PATH.
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ.get('PATH', '')}"}
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return process
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError("server did not answer /health within 120 s")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def schema():
    return load_schema()


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    return folder, build_corpus(folder)


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """Two training runs on the tiny corpus against a temporary sqlite MLflow store; the champion exported."""
    from ctframe.train.fit import train

    root = tmp_path_factory.mktemp("e2e")
    truth = build_corpus(root / "corpus")
    write_labels(root / "labels", truth)
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}"}
    overrides = tiny_overrides(root)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        for key, value in env.items():
            mp.setenv(key, value)
        summary = train(None, overrides, export_dir=root / "champion", log=lambda m: None)
        second = train(None, overrides, export_dir=root / "champion", log=lambda m: None)
    return root, truth, summary, second, env, overrides
