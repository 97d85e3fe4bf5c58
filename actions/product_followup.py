"""Whether a product question is about the product just shown, and what it asks about it.

After a product card, "is it in stock?", "how much is it?" or "does it come in blue?" are about
that product; searching the catalog for "is it in stock" finds something else or nothing. Only
the words are read here; actions/products.py answers from the product's catalog entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)
# Words that point back at something already shown.
_BACK = frozenset("it its it's this that these those they them one".split())
_STOCK = re.compile(r"\b(?:in stock|stock|available|availability|sold out|back in)\b", re.I)
_PRICE = re.compile(r"\b(?:how much|price[sd]?|cost(?:s|ing)?|expensive|cheap(?:er)?)\b", re.I)
# Colours are the one feature asked about without naming anything ("any in blue?"), so a
# question that is only a colour may refer back even when it has no "it".
COLOURS = frozenset(
    "black white grey gray red blue green yellow orange purple pink brown beige navy olive "
    "silver gold khaki cream teal turquoise".split())
# Words that say nothing about the product itself: question words, pronouns, verbs of asking,
# and the stock and price words (answered separately).
_NOT_A_FEATURE = frozenset("""
    a about also am an and any anything are as at available availability back be been but by
    can colour colours color colors come comes coming could cost costs costing detail details
    did do does doing else expensive cheap cheaper for from get good got has have how i i'd i'm
    if in info information is just know like made make me more much my need of on one ones or
    please price priced prices really sell selling sold so some still stock tell than thanks the
    there this that these those they them it its it's to too very want was way well were what
    whats what's which will with would you your yes ok okay out
""".split())


@dataclass
class Asked:
    """What a question asks about a product."""

    stock: bool = False
    price: bool = False
    features: list[str] = field(default_factory=list)  # words to look for in its entry

    def anything(self) -> bool:
        return self.stock or self.price or bool(self.features)


def words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text or "")]


def refers_back(text: str) -> bool:
    """"is it…", "that one", "are they…": the question points at something already shown."""
    return any(w in _BACK for w in words(text))


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def asked_about(text: str, product_name: str) -> Asked:
    """Stock, price and the other words the question asks about; the product's own name
    ("are the boots waterproof?") is not something asked about."""
    own = {_stem(w) for w in words(product_name)}
    features = [w for w in dict.fromkeys(words(text))
                if w not in _NOT_A_FEATURE and len(w) > 2 and _stem(w) not in own]
    return Asked(stock=bool(_STOCK.search(text or "")), price=bool(_PRICE.search(text or "")),
                 features=features)


def mentions(word: str, text: str) -> bool:
    """Whether `text` names `word` (plural and -ed/-ing forms too, "waterproofed")."""
    stem = re.escape(_stem(word.casefold()))
    return re.search(rf"\b{stem}(?:s|es|ed|ing)?\b", (text or "").casefold()) is not None


def head_noun(product_name: str) -> str | None:
    """The word that says what the product is: the name's last word ("Two-Person Dome Tent")."""
    found = words(product_name)
    return found[-1] if found else None


def names_product(text: str, product_name: str) -> bool:
    """Whether the question names that product by what it is ("is that tent waterproof?")."""
    noun = head_noun(product_name)
    return noun is not None and mentions(noun, text)


def is_about_shown(text: str, *, shown_name: str, named: str | None,
                   best_match_name: str | None, asks_attribute: bool = False) -> bool:
    """Whether a product question is about the product just shown (`shown_name`).

    `named`: the product the NLU found in the message, if any; `best_match_name`: the name of
    the search's best good answer, None when the search found nothing good. It is about the
    shown product when it names no other product and points back at it ("is it in stock?"),
    or when the search found nothing and the question is only stock, price or a colour
    ("how much?", "any in blue?") or asks about one of the shown product's attributes
    (`asks_attribute`: "weight?", "what sizes?"). A question with other words and no good match stays a
    search ("do you have kayaks in stock?" is not about the boots just shown).
    """
    if named and not any(mentions(w, shown_name) for w in words(named)):
        return False
    if best_match_name == shown_name and names_product(text, shown_name):
        return True  # "are the boots waterproof?" right after the boots
    if (best_match_name and best_match_name != shown_name
            and names_product(text, best_match_name) and not names_product(text, shown_name)):
        return False
    if refers_back(text):
        return True
    if best_match_name is not None:
        return False
    if asks_attribute:
        return True
    asked = asked_about(text, shown_name)
    return (asked.stock or asked.price or bool(asked.features)) and all(
        f in COLOURS for f in asked.features)
