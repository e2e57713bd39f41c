"""Unit tests of the model spine: the calibrated head, thresholds, the family registry, the prediction
contract and the keyword peer."""
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import make_classification
from sklearn.model_selection import GroupKFold
from sklearn.svm import LinearSVC

from ctframe import CtframeError
from ctframe.train import families
from ctframe.train.config import load_config
from ctframe.train.families.keywords import KeywordRules
from ctframe.train.model import PlattCalibrated, best_f1_threshold
from ctframe.train.predictions import Prediction, from_frame, to_frame


@pytest.mark.parametrize("classes", [2, 3])
def test_platt_calibrated_matches_scikit_learn_sigmoid_calibration(classes):
    X, y = make_classification(n_samples=400, n_features=20, n_informative=6, n_classes=classes, random_state=0)
    groups = np.arange(400) // 4
    ours = PlattCalibrated(LinearSVC(C=0.5, random_state=0), folds=3).fit(X, y, groups=groups)
    splits = list(GroupKFold(n_splits=3).split(X, y, groups))
    reference = CalibratedClassifierCV(LinearSVC(C=0.5, random_state=0), method="sigmoid", cv=splits,
                                       ensemble=False).fit(X, y)
    ours_p, reference_p = ours.predict_proba(X), reference.predict_proba(X)
    # scikit-learn fits the sigmoid on Platt's smoothed targets, ours on 0/1: a few thousandths apart.
    assert np.abs(ours_p - reference_p).max() < 0.02
    assert (ours_p.argmax(axis=1) == reference_p.argmax(axis=1)).all()
    assert ours.oof_proba_.shape == (400, classes) and np.allclose(ours.oof_proba_.sum(axis=1), 1)


def test_threshold_keeps_tied_scores_together():
    # Cutting inside the tie at 0.5 is impossible: both tied paragraphs are in, F1 = 0.8 (2 TP, 1 FP).
    y = np.array([1, 0, 1, 0])
    p = np.array([0.9, 0.5, 0.5, 0.1])
    cut = best_f1_threshold(y, p)
    assert 0.1 < cut < 0.5 and cut == pytest.approx(0.3)
    assert ((p >= cut) == np.array([True, True, True, False])).all()


def test_threshold_is_the_midpoint_below_the_best_score():
    y = np.array([1, 1, 0, 0, 1, 0])
    p = np.array([0.95, 0.8, 0.6, 0.4, 0.35, 0.1])
    assert best_f1_threshold(y, p) == pytest.approx((0.8 + 0.6) / 2)


def test_registry_defaults_come_from_the_estimators():
    registry = families.families()
    assert {"linear_svc", "logreg", "fasttext", "keywords"} <= set(registry)
    assert registry["linear_svc"].defaults() == {"C": 0.5, "class_weight": "balanced", "tol": 0.01, "inner_folds": 3}
    assert registry["logreg"].defaults() == {"C": 20.0, "class_weight": "balanced", "inner_folds": 3}
    assert set(families.exportable()) == {"linear_svc", "logreg"}
    assert registry["keywords"].sections() == ("model", "normalize")
    config = load_config(None, {"model": {"family": "fasttext", "dim": 10}})
    assert config["model"]["dim"] == 10 and config["model"]["epoch"] == registry["fasttext"].defaults()["epoch"]
    with pytest.raises(CtframeError, match="model.family = 'forest'"):
        families.get("forest")


def test_every_family_honours_the_estimator_contract():
    schema_args = {"topics": ["terrorism", "politics"], "frames": ["prevention"], "frames_topic": "terrorism"}
    for name, family in families.families().items():
        model = family.estimator(**{k: v for k, v in schema_args.items()})
        assert clone(model).get_params() == model.get_params(), name


def test_prediction_contract_round_trip():
    predictions = [Prediction("terrorism", ("prevention",), {"terrorism": 0.9, "politics": 0.1}, {"prevention": 0.7}),
                   Prediction("politics", (), {"terrorism": 0.2, "politics": 0.8}, {"prevention": 0.1})]
    frame = to_frame(predictions)
    assert list(frame.columns) == ["topic", "frames", "p_topic_terrorism", "p_topic_politics", "p_frame_prevention"]
    assert from_frame(frame) == predictions
    assert from_frame(frame.to_dict("records")) == predictions
    assert predictions[0].to_json() == {"topic": "terrorism", "topic_scores": {"terrorism": 0.9, "politics": 0.1},
                                        "frames": ["prevention"], "frame_scores": {"prevention": 0.7}}


def test_keyword_rules_match_normalized_spellings():
    rules = KeywordRules(["terrorism", "politics", "society"], ["prevention", "deradicalization"], "terrorism", {},
                         {"terrorism": ["ارهاب", "داعش"], "prevention": ["احباط"], "deradicalization": ["مناصحة"]})
    rules.fit(["x", "y", "z"], ["terrorism", "politics", "politics"], [[], [], []])
    texts = ["أعلنت الشرطة إحباط هجوم إرهابي",  # hamza forms normalize to the lexicon's bare alef
             "مركز المناصحة يستقبل عناصر من داعش",
             "افتتح الوزير معرضا للكتاب"]
    topic_p, frame_p = rules.predict_proba(texts)
    topics, frames = rules.decide(topic_p, frame_p)
    assert list(topics) == ["terrorism", "terrorism", "politics"]  # no keyword: the most frequent other topic
    assert frames.tolist() == [[1, 0], [0, 1], [0, 0]]
