"""A Rasa 3.6 component: a message made only of words the assistant has never seen is not
understood, whatever the classifier guessed.

DIET always spreads its confidence over the intents it knows, so keyboard mash ("asdfgh jkl")
or a language the model was not trained in can come out as a confident shop intent (it read
"asdfgh jkl" as a request for a person at 0.89). When not one word of the message is a known
word or a typo of one (SpellingCorrector marks every token), and no entity was found (an
order number or an email alone is an answer), the message is `nlu_fallback`: the fallback
action then asks to rephrase, offers a person, or answers a message in another language.
Placed after the FallbackClassifier, it changes only messages with no known word at all.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from nlu_components.spelling import KNOWN


def no_known_word(message: Message) -> bool:
    tokens = message.get(TOKENS_NAMES[TEXT]) or []
    return bool(tokens) and all(token.get(KNOWN) is False for token in tokens) \
        and not message.get(ENTITIES)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class UnknownWordsFallback(GraphComponent):
    """nlu_fallback for a message with no known word and no entity (after FallbackClassifier)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {}

    def __init__(self, config: Dict[Text, Any]) -> None:
        self._config = config

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "UnknownWordsFallback":
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            intent = message.get(INTENT) or {}
            if intent.get(INTENT_NAME_KEY) == DEFAULT_NLU_FALLBACK_INTENT_NAME:
                continue
            if not no_known_word(message):
                continue
            fallback = {INTENT_NAME_KEY: DEFAULT_NLU_FALLBACK_INTENT_NAME,
                        PREDICTED_CONFIDENCE_KEY: 1.0}
            message.data[INTENT] = dict(fallback)
            message.data.setdefault(INTENT_RANKING_KEY, [])
            message.data[INTENT_RANKING_KEY].insert(0, dict(fallback))
        return messages


__all__ = ["UnknownWordsFallback"]
