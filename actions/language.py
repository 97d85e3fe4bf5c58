"""Messages Kefu cannot understand because they are not in English.

Kefu's NLU is English only (issue 21 adds Chinese). A German or Chinese message ends in "didn't
understand" or "not something I can help with", which tells the customer nothing useful. For
the messages the dialogue could not place (fallback, out of scope) this module says whether the
text is confidently in another language, so the assistant can answer, in English, that it
speaks English for now and offer a person.

py3langid (a maintained fork of langid.py) is used, restricted to English and the languages
below: chosen over lingua by bench/language_bench.py (94% of other-language messages caught
against 87%, for 3 English messages of 879 misread against 1; a 5 MB package instead of 96 MB,
0.05 ms a message). Only a confident
answer on a message with real words in it counts, so "ok" or "A1178" never does, and a misread
English message keeps the normal "please rephrase" reply.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Languages a shop's customers commonly write in (ISO 639-1), with a name for the reply.
LANGUAGES = {
    "en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian",
    "nl": "Dutch", "pt": "Portuguese", "pl": "Polish", "zh": "Chinese", "ja": "Japanese",
    "ru": "Russian", "tr": "Turkish", "sv": "Swedish", "da": "Danish", "cs": "Czech",
    "ar": "Arabic", "ko": "Korean", "uk": "Ukrainian", "el": "Greek",
}
# Set before looking at any evaluation data (bench/language_bench.py reports on them).
MIN_CONFIDENCE = 0.7
_WORD = re.compile(r"[^\W\d_]{2,}")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(sorted(LANGUAGES))
    return identifier


def _enough_text(text: str) -> bool:
    """Two words, or two CJK characters: a lone "ok", "ty" or order number never counts."""
    return len(_CJK.findall(text)) >= 2 or len(_WORD.findall(text)) >= 2


def other_language(text: str) -> str | None:
    """The language's English name when `text` is confidently not English; else None."""
    text = (text or "").strip()
    if not _enough_text(text):
        return None
    code, probability = _identifier().classify(text)
    if code == "en" or probability < MIN_CONFIDENCE:
        return None
    return LANGUAGES.get(code)


def english_only_text(language: str) -> str:
    return (f"Sorry, I can only chat in English for now, and that looks like {language}. "
            "A member of our team can help you instead, or you can write to me in English.")
