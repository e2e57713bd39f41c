"""Arabic orthographic normalization as a scikit-learn transformer (the rules are ``features/arabic.py``)."""
from __future__ import annotations

from sklearn.base import BaseEstimator, TransformerMixin

from ctframe.features.arabic import build_table, normalize_text


class ArabicNormalizer(BaseEstimator, TransformerMixin):
    """Normalize Arabic text: strip diacritics and tatweel, unify alef forms, alef maqsura → ya,
    optionally ta marbuta → ha, Arabic-Indic digits → ASCII, and collapse whitespace."""

    def __init__(self, diacritics=True, tatweel=True, alef=True, alef_maqsura=True,
                 ta_marbuta=False, digits=True, whitespace=True):
        self.diacritics = diacritics
        self.tatweel = tatweel
        self.alef = alef
        self.alef_maqsura = alef_maqsura
        self.ta_marbuta = ta_marbuta
        self.digits = digits
        self.whitespace = whitespace

    def fit(self, X=None, y=None):
        return self

    def transform(self, X):
        table = build_table(self.diacritics, self.tatweel, self.alef, self.alef_maqsura,
                            self.ta_marbuta, self.digits)
        return [self.normalize(text, table) for text in X]

    def normalize(self, text: str, table: dict | None = None) -> str:
        """Normalize one string (``table`` is rebuilt when not given)."""
        if table is None:
            table = build_table(self.diacritics, self.tatweel, self.alef, self.alef_maqsura,
                                self.ta_marbuta, self.digits)
        return normalize_text(text, table, self.whitespace)
