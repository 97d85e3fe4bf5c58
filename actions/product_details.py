"""Which of a product's attributes a question asks about, read from the question's words.

A shop names its attributes itself ("material", "Fabric", "care instructions", "colours"), so
nothing here knows a fixed list of names. An attribute answers a question when:
- the question names it ("what material is it?", "warranty?"): its name's words are in it;
- the question asks about what such an attribute is about ("how heavy is it?" → an attribute
  whose name says weight; "can I put it in the dishwasher?" → care): `_CUES` below;
- the question names something the attribute's text holds ("is it real leather?" → the
  attribute that says leather).
The answer quotes the attribute as the shop wrote it; when a colour or size asked about is not
in the attribute that lists them, the customer is told so ("I don't see blue among them").
The cue words are English, like actions/product_followup.py's (a second language, issue 21,
adds its own).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from actions.product_followup import COLOURS, asked_about, mentions, words

# What a question's words ask about → words an attribute's name has when it answers that.
# A word marked "~" also means other things ("how long", "will it fit", "light blue"), so it
# counts less than one that can only mean this ("guarantee").
_CUES: tuple[tuple[dict[str, float], frozenset[str]], ...] = tuple(
    ({w.strip("~"): 0.5 if w.endswith("~") else 1.0 for w in asks.split()},
     frozenset(names.split()))
    for asks, names in (
        ("colour colours color colors coloured colored shade~ shades~ " + " ".join(COLOURS),
         "colour colours color colors shade shades"),
        ("size sizes sizing fit~ fits~ fitting~ xs xl xxl xxxl small~ medium~ large~ eu~ uk~",
         "size sizes sizing fit"),
        ("material materials made~ fabric fabrics leather cotton wool merino steel plastic "
         "aluminium aluminum nylon polyester wood bamboo glass ceramic silicone rubber",
         "material materials fabric fabrics composition made"),
        ("wash washing washable clean~ cleaning care dishwasher tumble iron~ ironing "
         "machine~", "care washing cleaning instructions"),
        ("big~ large~ dimension dimensions tall wide long~ length width height deep~ depth "
         "measure measurements carry~",
         "dimension dimensions measurements size length width height"),
        ("heavy weigh weighs weight lightweight grams kilos kg", "weight"),
        ("warranty warranties guarantee guaranteed breaks~ broken~ broke~ defect defective",
         "warranty guarantee"),
    ))
_MADE_OF = re.compile(r"\bmade (?:of|from|out of|with)\b", re.I)
# Values an attribute lists, so their absence there is an answer ("no blue", "no XL").
_SIZES = frozenset("xxs xs xl xxl xxxl".split())


@dataclass(frozen=True)
class AttributeAnswer:
    """The attribute that answers a question, and a listed value asked about that it lacks."""

    name: str
    text: str
    lacks: str | None = None  # "blue" when the colours are "black; navy"


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _name_words(name: str) -> set[str]:
    return {_stem(w) for w in words(name)}


def _answers(name: str, names: frozenset[str]) -> bool:
    return bool(_name_words(name) & {_stem(n) for n in names})


def _score(question_words: set[str], features: list[str], name: str, text: str) -> float:
    if _name_words(name) & {_stem(w) for w in question_words}:
        return 3.0  # the question names the attribute
    if any(mentions(word, text) for word in features):
        return 2.0  # it names something the attribute holds ("leather", "dishwasher")
    return max((sum(weight for word, weight in asks.items() if word in question_words)
                for asks, names in _CUES if _answers(name, names)), default=0.0)


def attribute_asked(question: str, product_name: str,
                    attributes: Mapping[str, str] | Iterable[tuple[str, str]] | None,
                    ) -> AttributeAnswer | None:
    """The product's attribute the question asks about, None when it asks about none of them.

    `attributes`: a store row's mapping or a catalog item's (name, text) pairs."""
    attributes = list((attributes.items() if isinstance(attributes, Mapping)
                       else attributes) or ())
    question_words = set(words(question))
    if not _MADE_OF.search(question):  # "where is it made?" asks the origin, not the material
        question_words.discard("made")
    if not question_words or not attributes:
        return None
    features = asked_about(question, product_name).features
    scored = [(_score(question_words, features, name, text), -position, name, text)
              for position, (name, text) in enumerate(attributes)]
    best, _, name, text = max(scored)
    if best == 0:
        return None
    return AttributeAnswer(name, text, _lacks(words(question), name, text))


def _lacks(question_words: list[str], name: str, text: str) -> str | None:
    """A colour or size the question asks for that this colour or size list does not hold."""
    for word in question_words:
        group = "colour" if word in COLOURS else "size" if word in _SIZES else None
        if group is None or mentions(word, text):
            continue
        if _answers(name, _CUES[0][1] if group == "colour" else _CUES[1][1]):
            return word
    return None
