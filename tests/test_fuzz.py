"""Property-based tests (hypothesis): the text layer takes any Unicode and any bytes, and answers with a
result or one clear CtframeError, never a traceback."""
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctframe import CtframeError
from ctframe.features.corpus import json_lines
from ctframe.features.hashing import CharNgramHasher
from ctframe.features.normalize import ArabicNormalizer
from ctframe.features.segment import split_paragraphs

# Arbitrary Unicode, weighted toward what news pages hold: Arabic, RTL/LTR marks, control characters,
# no-break and other spaces, tabs and newlines.
NEWSY = st.text(st.one_of(st.characters(), st.sampled_from(list("إأآابتثجحخدذرزسشصضطظعغفقكلمنهويىةءؤئ"
                                                                 "\u064b\u0640\u200f\u200e\u202b\u00a0\u2003\t\n\r\x00\x1f ٠١٢"))),
                max_size=400)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(NEWSY)
def test_segmentation_yields_clean_units(text):
    for unit in split_paragraphs(text):
        assert unit and unit == unit.strip() and "\n" not in unit and "\t" not in unit and "   " not in unit


@SETTINGS
@given(NEWSY)
def test_normalization_is_total_and_idempotent(text):
    normalizer = ArabicNormalizer()
    once = normalizer.normalize(text)
    assert normalizer.normalize(once) == once and "\n" not in once


@SETTINGS
@given(st.lists(NEWSY, max_size=8))
def test_hasher_takes_any_texts(texts):
    matrix = CharNgramHasher(n_features=2**10).transform(texts)
    assert matrix.shape == (len(texts), 2**10) and (matrix.data > 0).all()


@SETTINGS
@given(st.lists(st.one_of(st.binary(max_size=200),
                          st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                                       max_leaves=10).map(lambda v: json.dumps(v).encode())), max_size=6))
def test_json_lines_give_values_or_one_clear_error(lines):
    try:
        for where, value in json_lines(lines, "fuzz"):
            assert where.startswith("fuzz:")
    except CtframeError as exc:
        assert str(exc).startswith("fuzz:")


def test_a_ten_megabyte_line_is_segmented_and_normalized():
    sentence = "أحبطت الأجهزة الأمنية مخططا إرهابيا \u200f(RTL) mixed نص. "
    line = sentence * (10 * 2**20 // len(sentence.encode()))
    assert len(line.encode()) > 9.9 * 2**20
    units = split_paragraphs(line)
    assert all(len(u) <= 700 for u in units) and sum(len(u) for u in units) >= len(line.strip()) - len(units)
    assert ArabicNormalizer().transform(units[:1000])[0].startswith("احبطت")


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                        st.sampled_from(["url", "content", "title", "source", "date_extracted", "x"]), inner, max_size=4),
                    max_leaves=12)


@SETTINGS
@given(st.one_of(JSON.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200)))
def test_corpus_zip_reader_gives_articles_or_one_clear_error(tmp_path_factory, payload):
    import zipfile

    from ctframe.features.corpus import iter_snn_zip

    path = tmp_path_factory.mktemp("zip") / "2015-01-01.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("2015-01-01.json", payload)
    try:
        for article in iter_snn_zip(path):
            assert article.id.startswith("snn:") and isinstance(article.text, str)
            article.paragraphs()
    except CtframeError as exc:
        assert str(path) in str(exc)


@SETTINGS
@given(st.binary(max_size=300), st.sampled_from([".txt", ".jsonl"]))
def test_score_input_files_give_articles_or_one_clear_error(tmp_path_factory, payload, suffix):
    from ctframe.features.corpus import iter_inputs

    path = tmp_path_factory.mktemp("in") / f"input{suffix}"
    path.write_bytes(payload)
    try:
        for article in iter_inputs([str(path)]):
            assert article.text.strip()
    except CtframeError as exc:
        assert str(path) in str(exc)
