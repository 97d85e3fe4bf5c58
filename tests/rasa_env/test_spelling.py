"""Runs in the Rasa environment: typos read as known words (nlu_components/spelling.py)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from nlu_components.spelling import Corrector, text_as_tokens_read  # noqa: E402

WORDS = ("where is my order i want a refund for the shipment please make a complaint "
         "about my parcel waterproof jacket shop").split()


def _tokens(text: str, corrector: Corrector):
    from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
    from rasa.shared.nlu.training_data.message import Message

    from nlu_components.spelling import SpellingCorrector

    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    component = SpellingCorrector(SpellingCorrector.get_default_config(), None, None,
                                  corrector.counts)
    message = Message(data={"text": text})
    tokenizer.process([message])
    component.process([message])
    return message


def test_a_typo_reads_as_the_word_the_training_data_knows():
    corrector = Corrector.from_words(WORDS)
    assert corrector.correct("refnd") == "refund"
    assert corrector.correct("shippment") == "shipment"  # a long word: up to two edits
    assert corrector.correct("complant") == "complaint"
    assert corrector.correct("waterprof") == "waterproof"


def test_known_words_short_words_identifiers_and_strangers_are_left_alone():
    corrector = Corrector.from_words(WORDS)
    assert corrector.correct("refund") is None  # known
    assert corrector.correct("shot") is None  # short: another word, not a typo of "shop"
    assert corrector.correct("A1179") is None and corrector.correct("90001") is None
    assert corrector.correct("xqzvplorf") is None  # nothing close
    assert corrector.correct("我的订单在哪里") is None  # another script: no close known word


def test_entities_are_cut_from_the_text_as_typed_and_the_encoder_reads_the_words():
    message = _tokens("wher is my refnd for a1179, please?", Corrector.from_words(WORDS))
    tokens = message.get("text_tokens")
    assert [t.text for t in tokens] == ["wher", "is", "my", "refund", "for", "a1179", "please"]
    # Offsets still point into what the customer typed, so entity values stay exact.
    assert [message.get("text")[t.start:t.end] for t in tokens][3] == "refnd"
    read, spans = text_as_tokens_read(message.get("text"), tokens)
    assert read == "wher is my refund for a1179, please?"
    assert [read[s:e] for s, e in spans] == [t.text for t in tokens]


def test_the_vocabulary_is_learned_from_the_training_data_and_persisted(tmp_path):
    from rasa.engine.graph import ExecutionContext
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from nlu_components.spelling import SpellingCorrector

    examples = [Message(data={"text": t, "intent": "x"})
                for t in ("where is my parcel", "I want my money back")]
    data = TrainingData(training_examples=examples)
    WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process_training_data(data)
    storage = LocalModelStorage(tmp_path)
    resource = Resource("spelling")
    context = ExecutionContext(graph_schema=None, model_id="m")
    config = SpellingCorrector.get_default_config()
    SpellingCorrector.create(config, storage, resource, context).train(data)

    loaded = SpellingCorrector.load(config, storage, resource, context)
    message = Message(data={"text": "where is my parcle"})
    WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process([message])
    loaded.process([message])
    assert [t.text for t in message.get("text_tokens")][-1] == "parcel"


def test_a_message_with_no_known_word_is_not_understood_whatever_the_classifier_said():
    from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
    from rasa.shared.nlu.training_data.message import Message

    from nlu_components.spelling import SpellingCorrector
    from nlu_components.unknown_words import UnknownWordsFallback

    component = SpellingCorrector(SpellingCorrector.get_default_config(), None, None,
                                  Corrector.from_words(WORDS).counts)
    fallback = UnknownWordsFallback({})
    confident = {"name": "human_handoff", "confidence": 0.89}

    def classified(text: str, entities=()) -> str:
        message = Message(data={"text": text, "intent": dict(confident),
                                "intent_ranking": [dict(confident)],
                                "entities": list(entities)})
        WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process([message])
        component.process([message])
        fallback.process([message])
        return message.get("intent")["name"]

    assert classified("asdfgh jkl") == "nlu_fallback"
    assert classified("我的订单在哪里") == "nlu_fallback"  # not a language it was trained in
    assert classified("where is my parcle") == "human_handoff"  # known words: DIET decides
    assert classified("refnd") == "human_handoff"  # a typo of a known word is a known word
    assert classified("90001") == "human_handoff"  # a number is not a mash
    assert classified("zzz qqq", [{"entity": "email", "value": "x"}]) == "human_handoff"
