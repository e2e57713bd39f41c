"""Segmentation, normalization and the corpus/input readers."""
import hashlib
import io
import sys
import zipfile

import pytest

from ctframe.features.corpus import MAX_INPUT_BYTES, iter_inputs, iter_snn_articles, load_snn_paragraphs
from ctframe import CtframeError
from ctframe.features.normalize import ArabicNormalizer
from ctframe.features.segment import segment_article, split_paragraphs, text_sha1


def test_split_on_newlines_and_drop_empty():
    assert split_paragraphs("الفقرة الأولى\n\n   \nالفقرة  الثانية\r\n") == ["الفقرة الأولى", "الفقرة الثانية"]


def test_long_paragraph_split_at_sentence_ends():
    sentence = "قالت الوزارة إن الأجهزة الأمنية أحبطت مخططا جديدا. "
    text = sentence * 40  # ~2,000 characters on one line
    parts = split_paragraphs(text, max_chars=700)
    assert [len(p.split(". ")) for p in parts] == [13, 13, 13, 1]  # 13 sentences of 51 chars fit in 700
    assert all(len(p) <= 700 for p in parts)
    assert all(p.endswith(".") for p in parts)
    assert " ".join(parts) == " ".join(text.split())


def test_arabic_question_mark_ends_a_sentence():
    text = ("هل تنجح الخطة؟ " * 60).strip()
    assert all(p.endswith("؟") for p in split_paragraphs(text, max_chars=100))


def test_single_overlong_sentence_is_kept_whole():
    text = "كلمة " * 300
    assert split_paragraphs(text, max_chars=100) == [text.strip()]


def test_paragraph_ids_and_sha1_are_stable():
    paragraphs = segment_article("snn:http://x/1", "أ\n\nب")
    assert [p.id for p in paragraphs] == ["snn:http://x/1#0", "snn:http://x/1#1"]
    assert paragraphs[1].sha1 == text_sha1("ب") == hashlib.sha1("ب".encode()).hexdigest()
    assert segment_article("snn:http://x/1", "أ\n\nب")[1].sha1 == paragraphs[1].sha1


@pytest.mark.parametrize("raw, expected", [
    ("إِنَّ", "ان"),                    # diacritics and shadda removed, hamza-alef unified
    ("الـــإرهاب", "الارهاب"),          # tatweel
    ("آمن أمن إمام ٱلله", "امن امن امام الله"),  # alef variants
    ("على مستشفى", "علي مستشفي"),       # alef maqsura → ya
    ("عام ٢٠١٥ و۱۴۳۶", "عام 2015 و1436"),  # Arabic-Indic and Persian digits
    ("  سطر\t\nجديد  ", "سطر جديد"),     # whitespace
])
def test_normalization(raw, expected):
    assert ArabicNormalizer().transform([raw]) == [expected]


def test_normalization_is_configurable():
    assert ArabicNormalizer(ta_marbuta=True).transform(["مدرسة"]) == ["مدرسه"]
    assert ArabicNormalizer(alef=False, diacritics=False).transform(["إِنَّ"]) == ["إِنَّ"]
    assert ArabicNormalizer(digits=False).transform(["٢٠١٥"]) == ["٢٠١٥"]


def test_snn_reader(corpus):
    folder, truth = corpus
    paragraphs = load_snn_paragraphs(folder)
    assert [p.id for p in paragraphs if p.date == "2015-07-21"][:1]
    assert {p.id: p.sha1 for p in paragraphs} == {t["ref"]: t["sha1"] for t in truth}
    assert len({a.source for a in iter_snn_articles(folder)}) == 3


def test_snn_reader_rejects_malformed_zip(tmp_path):
    with zipfile.ZipFile(tmp_path / "2015-07-21.zip", "w") as archive:
        archive.writestr("2015-07-21.json", "[{not json")
    with pytest.raises(CtframeError, match="2015-07-21.zip: unreadable"):
        list(iter_snn_articles(tmp_path))


def test_corpus_location_from_environment(corpus, monkeypatch):
    folder, truth = corpus
    monkeypatch.setenv("CTFRAME_CORPUS", str(folder))
    assert len(load_snn_paragraphs()) == len(truth)
    monkeypatch.setenv("CTFRAME_CORPUS", str(folder / "missing"))
    with pytest.raises(CtframeError, match="corpus folder not found"):
        load_snn_paragraphs()


def test_inputs_txt_jsonl_folder(tmp_path):
    (tmp_path / "a.txt").write_text("فقرة أولى\n\nفقرة ثانية", encoding="utf-8")
    (tmp_path / "b.jsonl").write_text('{"id": "x1", "text": "نص"}\n\n{"id": "x2", "text": "نص آخر"}\n',
                                      encoding="utf-8")
    articles = list(iter_inputs([str(tmp_path)]))
    assert [a.id for a in articles] == [str(tmp_path / "a.txt"), "x1", "x2"]
    assert len(articles[0].paragraphs()) == 2


def test_stdin_jsonl(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO('{"id": "s", "text": "نص"}\n'.encode())))
    assert [a.id for a in iter_inputs(["-"])] == ["s"]


@pytest.mark.parametrize("name, content, message", [
    ("empty.txt", b"  \n ", "empty text"),
    ("latin.txt", "نص".encode("utf-8") + b"\xff\xfe", "not UTF-8"),
    ("bad.jsonl", b'{"id": "a", "text": "x"}\n{"id": oops}\n', r"bad.jsonl:2: malformed JSON"),
    ("notext.jsonl", b'{"id": "a"}\n', "expected an object with 'id' and 'text'"),
    ("number.jsonl", b'{"id": "a", "text": 5}\n', "'text' must be a string"),
])
def test_bad_inputs(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(CtframeError, match=message):
        list(iter_inputs([str(tmp_path / name)]))


def test_missing_file_and_empty_folder(tmp_path):
    with pytest.raises(CtframeError, match="no such file"):
        list(iter_inputs([str(tmp_path / "nope.txt")]))
    with pytest.raises(CtframeError, match="holds no .txt, .jsonl or .zip"):
        list(iter_inputs([str(tmp_path)]))


def test_huge_single_line_file_is_refused(tmp_path):
    big = tmp_path / "big.jsonl"
    with big.open("wb") as handle:
        handle.write(b'{"id": "a", "text": "')
        handle.write(b"x" * (MAX_INPUT_BYTES + 10))
        handle.write(b'"}\n')
    with pytest.raises(CtframeError, match="over the .*-byte limit"):
        list(iter_inputs([str(big)]))
    big_txt = tmp_path / "big.txt"
    big_txt.write_bytes(b"x" * (MAX_INPUT_BYTES + 1))
    with pytest.raises(CtframeError, match="over the .*-byte limit"):
        list(iter_inputs([str(big_txt)]))


# A page as scrapers deliver it: menu, ticker and related-article list glued into single lines, the items
# separated by runs of spaces or tabs (written for this test, in the style of Moroccan news sites).
SCRAPED_PAGE = ("الرئيسية   سياسة   اقتصاد   رياضة   مجتمع\n"
                "عاجل: تفكيك خلية إرهابية بمدينة فاس\t\tتوقيف مشتبه به في طنجة\t\tأحوال الطقس ليوم الغد\n"
                "أعلن المكتب المركزي للأبحاث القضائية، اليوم الثلاثاء، تفكيك خلية إرهابية موالية لتنظيم داعش "
                "تتكون من خمسة عناصر كانوا ينشطون بمدن فاس وطنجة، وذلك في إطار العمليات الاستباقية.\n"
                "اقرأ أيضا:     المغرب وإسبانيا يعززان التعاون الأمني     مواقيت الصلاة")


def test_glued_page_items_become_units():
    units = split_paragraphs(SCRAPED_PAGE)
    assert units[:5] == ["الرئيسية", "سياسة", "اقتصاد", "رياضة", "مجتمع"]
    assert "عاجل: تفكيك خلية إرهابية بمدينة فاس" in units and "توقيف مشتبه به في طنجة" in units
    assert any(u.startswith("أعلن المكتب المركزي") and u.endswith("الاستباقية.") for u in units)
    assert units[-3:] == ["اقرأ أيضا:", "المغرب وإسبانيا يعززان التعاون الأمني", "مواقيت الصلاة"]
    assert split_paragraphs("جملة  بمسافتين فقط") == ["جملة بمسافتين فقط"]  # two spaces are not a break


@pytest.mark.parametrize("line, message", [
    ('{"id": "x", "text": "\\ud800 نص"}', "lone surrogate"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
])
def test_json_lines_refuse_what_is_not_text(line, message):
    from ctframe.features.corpus import json_lines

    with pytest.raises(CtframeError, match=message):
        list(json_lines([line.encode()], "in.jsonl"))
