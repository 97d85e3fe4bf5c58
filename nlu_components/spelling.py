"""A Rasa 3.6 component that reads a customer's typos as the words the assistant knows.

Customers type "refnd", "shippment", "complant"; DIET's word features have never seen those
words and its character n-grams only partly rescue them (bench/nlu_external.py measured 10
points of accuracy lost to one or two letter edits per message). This component sits right after
the tokenizer: it learns the vocabulary of the training examples (and of the lookup tables and
synonyms) and, at inference, replaces a token it has never seen by the closest known word
(SymSpell, Damerau-Levenshtein), so every featurizer after it sees the known word.

What it does not touch, and why:
- The message text and the tokens' character offsets: entity extractors cut entity values out of
  the original text, so "a1179" or an email stays exactly as typed.
- Words it knows, numbers and identifiers (anything with a digit or symbol), and short words
  (below `min_length`): "shot" must not become "shop", "flu" not "for".
- It knows no language: the vocabulary is whatever the training data holds, so a shop that
  trains in another language gets corrections in that language, and a token with no close
  known word (a Chinese phrase, a brand name) is left as it is.

Dense featurizers read the corrected words through `text_as_tokens_read` (MiniLMFeaturizer does).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Any, Dict, Iterable, List, Optional, Text, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from symspellpy import SymSpell, Verbosity

logger = logging.getLogger(__name__)

VOCABULARY_FILE = "vocabulary.json"
ORIGINAL = "spelling_original"  # token data key: what the customer typed, when corrected
# Token data key: False for a word of letters that is neither a known word nor a typo of one
# (UnknownWordsFallback reads it); numbers, codes and punctuation are never "unknown".
KNOWN = "spelling_known"


def correctable(word: str, min_length: int) -> bool:
    """Letters only (any script) and long enough to be a typo rather than another short word."""
    return len(word) >= min_length and word.isalpha()


def max_distance_for(word: str, long_word: int) -> int:
    """One edit for ordinary words, two from `long_word` letters on ("shippment" -> one,
    "acknowledgment" -> two): two edits in a five-letter word make it a different word."""
    return 2 if len(word) >= long_word else 1


class Corrector:
    """The vocabulary and its SymSpell index; usable without Rasa (tests, benches)."""

    def __init__(self, counts: Dict[str, int], *, min_length: int = 5, long_word: int = 8) -> None:
        self.counts = dict(counts)
        self.min_length = min_length
        self.long_word = long_word
        self._symspell = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
        for word, count in self.counts.items():
            self._symspell.create_dictionary_entry(word, count)

    @classmethod
    def from_words(cls, words: Iterable[str], **options: int) -> "Corrector":
        return cls(dict(Counter(w.casefold() for w in words if w and w.strip())), **options)

    def knows(self, word: str) -> bool:
        """A word of the vocabulary, or no word of letters at all (a number, a code)."""
        return not word.isalpha() or word.casefold() in self.counts

    def correct(self, word: str) -> Optional[str]:
        """The known word `word` was meant to be, or None when it is known or has no close one."""
        folded = word.casefold()
        if folded in self.counts or not correctable(folded, self.min_length):
            return None
        found = self._symspell.lookup(folded, Verbosity.TOP,
                                      max_edit_distance=max_distance_for(folded, self.long_word))
        return found[0].term if found else None


def text_as_tokens_read(text: str, tokens: List[Any]) -> Tuple[str, List[Tuple[int, int]]]:
    """The message with each token's span replaced by the token's text (corrected words), and
    every token's span in that new text. Punctuation and spacing between tokens are kept."""
    pieces: List[str] = []
    spans: List[Tuple[int, int]] = []
    cursor, length = 0, 0
    for token in tokens:
        gap = text[cursor:token.start] if token.start >= cursor else ""
        pieces.append(gap)
        length += len(gap)
        word = token.text if token.get(ORIGINAL) else text[token.start:token.end]
        spans.append((length, length + len(word)))
        pieces.append(word)
        length += len(word)
        cursor = max(cursor, token.end)
    pieces.append(text[cursor:])
    return "".join(pieces), spans


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class SpellingCorrector(GraphComponent):
    """Between the tokenizer and the featurizers: unknown tokens become the closest known word."""

    @staticmethod
    def required_packages() -> List[Text]:
        return ["symspellpy"]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # Shorter tokens are never corrected ("shot" is not a typo of "shop").
            "min_length": 5,
            # From this length two edits are allowed.
            "long_word": 8,
        }

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage,
                 resource: Resource, counts: Optional[Dict[str, int]] = None) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._corrector = self._make(counts) if counts else None

    def _make(self, counts: Dict[str, int]) -> Corrector:
        return Corrector(counts, min_length=int(self._config["min_length"]),
                         long_word=int(self._config["long_word"]))

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "SpellingCorrector":
        return cls(config, model_storage, resource)

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        if int(config.get("min_length", 5)) < 3:
            raise ValueError("SpellingCorrector: min_length below 3 corrects ordinary short words")

    def train(self, training_data: TrainingData) -> Resource:
        counts: Counter = Counter()
        for example in training_data.training_examples:
            for token in example.get(TOKENS_NAMES[TEXT]) or []:
                counts[token.text.casefold()] += 1
        # Lookup-table entries and synonyms are words the shop expects too ("merino", "trekking").
        for table in training_data.lookup_tables:
            elements = table.get("elements")
            for element in elements if isinstance(elements, list) else []:
                counts.update(str(element).casefold().split())
        for synonym, value in training_data.entity_synonyms.items():
            counts.update(f"{synonym} {value}".casefold().split())
        words = {w: c for w, c in counts.items() if w.isalpha()}
        with self._model_storage.write_to(self._resource) as directory:
            (directory / VOCABULARY_FILE).write_text(json.dumps(words, sort_keys=True),
                                                     encoding="utf-8")
        self._corrector = self._make(words)
        logger.info("SpellingCorrector: %d known words", len(words))
        return self._resource

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "SpellingCorrector":
        try:
            with model_storage.read_from(resource) as directory:
                counts = json.loads((directory / VOCABULARY_FILE).read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError):
            logger.warning("SpellingCorrector: no vocabulary in the model; typos stay as typed")
            counts = None
        return cls(config, model_storage, resource, counts)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        # Every training token is in the vocabulary: nothing would change.
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        if self._corrector is None:
            return messages
        for message in messages:
            for token in message.get(TOKENS_NAMES[TEXT]) or []:
                corrected = self._corrector.correct(token.text)
                if corrected:
                    token.set(ORIGINAL, token.text)
                    token.text = token.lemma = corrected
                token.set(KNOWN, bool(corrected) or self._corrector.knows(token.text))
        return messages


__all__ = ["KNOWN", "Corrector", "SpellingCorrector", "text_as_tokens_read"]
