"""Config loading: defaults, overrides, and clear errors for unknown keys and bad values."""
import pytest

from ctframe import CtframeError
from ctframe.train.config import DEFAULTS, flatten, load_config


def test_shipped_base_config_matches_defaults():
    assert load_config("experiments/base.yaml") == load_config(None)


def test_override_and_flatten(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("features:\n  ngram_range: [1, 3]\nmodel:\n  family: logreg\n", encoding="utf-8")
    config = load_config(path)
    assert config["features"]["ngram_range"] == [1, 3] and config["features"]["min_df"] == DEFAULTS["features"]["min_df"]
    assert flatten(config)["model.family"] == "logreg"


@pytest.mark.parametrize("text, message", [
    ("featurez:\n  min_df: 2\n", "unknown config key 'featurez'"),
    ("features:\n  ngram: [1, 3]\n", "unknown config key 'features.ngram'"),
    ("model:\n  family: forest\n", "model.family = 'forest'"),
    ("frames:\n  threshold: 3\n", "frames.threshold must be 'tuned' or a probability"),
    ("features: [1\n", "malformed YAML"),
])
def test_bad_configs(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CtframeError, match=message):
        load_config(path)
