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
from functools import lru_cache

from actions.product_followup import COLOURS, asked_about, mentions, words
from knowledge.spelling import Speller

# What a question's words ask about → words an attribute's name has when it answers that.
# A word marked "~" also means other things ("how long", "will it fit", "light blue"), so it
# counts less than one that can only mean this ("guarantee"). Phrases are read first
# (`_PHRASES`) into one token each: "made of" asks the material, "where is it made" does not.
_KINDS: tuple[tuple[dict[str, float], frozenset[str]], ...] = tuple(
    ({w.strip("~"): 0.5 if w.endswith("~") else 1.0 for w in asks.split()},
     frozenset(names.split()))
    for asks, names in (
        ("colour colours color colors coloured colored shade~ shades~ " + " ".join(COLOURS),
         "colour colours color colors shade shades"),
        ("size sizes sizing fit~ fits~ fitting~ xs xl xxl xxxl small~ medium~ large~ "
         "size_number", "size sizes sizing fit"),
        ("material materials made_of fabric fabrics leather suede cotton wool merino linen "
         "cashmere silk denim steel titanium plastic aluminium aluminum nylon polyester wood "
         "bamboo glass ceramic silicone rubber real~ faux",
         "material materials fabric fabrics composition"),
        ("wash washing washed washable clean~ cleaning cleaned care dishwasher tumble dryer "
         "iron~ ironing machine~ look_after",
         "care washing cleaning instructions"),
        ("big~ dimension dimensions tall wide length width height deep~ depth measure "
         "measurements fit_in carry~ space~ folded~ across~ how_long_is~",
         "dimension dimensions measurements length width height"),
        ("heavy weigh weighs weight light~ lightweight grams kilos kg",
         "weight"),
        ("warranty warranties guarantee guaranteed breaks~ broken~ broke~ defect defective "
         "covered~", "warranty guarantee"),
    ))
_PHRASES = (
    (re.compile(r"\bmade (?:of|from|out of|with)\b", re.I), "made_of"),
    (re.compile(r"\bfits? (?:in|into|under|on|through|inside|between|beside)\b", re.I),
     "fit_in"),
    (re.compile(r"\blook(?:s|ing)? after\b", re.I), "look_after"),
    # "do you have them in a 39", "in size 10", "uk 8": a size, not a measurement
    (re.compile(r"\bin (?:an? )?(?:size )?(?:eu |uk |us )?\d{1,2}(?:[.,]5)?\b(?! ?[a-z])",
                re.I), "size_number"),
    (re.compile(r"\b(?:eu|uk|us) ?\d{1,2}(?:[.,]5)?\b", re.I), "size_number"),
    # "how long is it" is a length; "how long does the battery last" is a time
    (re.compile(r"\bhow long (?:is|are)\b", re.I), "how_long_is"),
)
_CUE_WORDS = frozenset(w for asks, _ in _KINDS for w in asks if "_" not in w)
# Values an attribute lists, so their absence there is an answer ("no blue", "no XL").
_SIZES = frozenset("xxs xs xl xxl xxxl".split())
# Below this the question asks about nothing the attributes say ("how many players?").
MIN_SCORE = 0.5


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


def _kinds(name: str) -> list[dict[str, float]]:
    """What an attribute of this name is about (its cue words), by the words of its name."""
    own = _name_words(name)
    return [asks for asks, names in _KINDS if own & {_stem(n) for n in names}]


# Shorter words are too often another real word one edit away ("with" → "width").
_MIN_TYPO = 6


@lru_cache(maxsize=1)
def _speller() -> Speller:
    # Typos of the words that say what is asked ("warrenty", "dishwaser").
    return Speller(_CUE_WORDS)


def _tokens(question: str, product_name: str) -> set[str]:
    """The question's words as cues: phrases joined, typos of cue words corrected, and the
    product's own name left out ("is the wool coat available in XS?" does not ask about wool)."""
    for pattern, token in _PHRASES:
        question = pattern.sub(f" {token} ", question)
    own = {_stem(w) for w in words(product_name)}
    found = set()
    for word in question.casefold().split():
        word = word.strip(".,!?;:()\"'")
        if word and _stem(word) not in own:
            found.add(_speller().correct_word(word) or word
                      if len(word) >= _MIN_TYPO and "_" not in word else word)
    return found


def _score(tokens: set[str], features: list[str], name: str, text: str) -> float:
    if _name_words(name) & {_stem(t) for t in tokens}:
        return 3.0  # the question names the attribute ("what material?", "warranty?")
    kinds = _kinds(name)
    score = max((sum(w for cue, w in asks.items() if cue in tokens) for asks in kinds),
                default=0.0)
    held = [word for word in features if mentions(word, text)]
    if held:
        # A word the attribute holds answers it when it is a word of its kind ("leather" in
        # the material) or the shop's own attribute of no known kind ("compatible: iPhone");
        # any other shared word ("seat", "play") only breaks ties.
        relevant = not kinds or any(word in asks for asks in kinds for word in held)
        score += 1.0 if relevant else 0.25
    return score


def attribute_asked(question: str, product_name: str,
                    attributes: Mapping[str, str] | Iterable[tuple[str, str]] | None,
                    ) -> AttributeAnswer | None:
    """The product's attribute the question asks about, None when it asks about none of them.

    `attributes`: a store row's mapping or a catalog item's (name, text) pairs."""
    attributes = list((attributes.items() if isinstance(attributes, Mapping)
                       else attributes) or ())
    tokens = _tokens(question, product_name)
    if not tokens or not attributes:
        return None
    features = asked_about(question, product_name).features
    best, _, name, text = max((_score(tokens, features, name, text), -position, name, text)
                              for position, (name, text) in enumerate(attributes))
    if best < MIN_SCORE:
        return None
    return AttributeAnswer(name, text, _lacks(words(question), name, text))


def _lacks(question_words: list[str], name: str, text: str) -> str | None:
    """A colour or size the question asks for that this colour or size list does not hold."""
    for word in question_words:
        group = _KINDS[0] if word in COLOURS else _KINDS[1] if word in _SIZES else None
        if group is None or mentions(word, text):
            continue
        if group[0] in _kinds(name):
            return word
    return None


def only_about(question: str, product_name: str, answer: AttributeAnswer) -> bool:
    """Whether the question says nothing beyond what `answer` is about ("what sizes?",
    "any in blue?"): then it is about the product shown, whatever a search would find."""
    features = asked_about(question, product_name).features
    return all(word in _CUE_WORDS or mentions(word, answer.text) for word in features)

