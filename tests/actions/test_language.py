"""A message in another language gets, in English, that Kefu speaks English for now and the
offer of a person (issue 20: German and Chinese got "didn't understand"); English keeps its
normal answers, however short or misspelt."""

from __future__ import annotations

import asyncio

import pytest

from actions.fallback import ActionKefuFallback, ActionOutOfScope
from actions.language import other_language
from tests.actions.conftest import said, tracker


@pytest.mark.parametrize(("text", "language"), [
    ("Hallo, wo ist meine Bestellung A1178? Ich warte schon seit zwei Wochen", "German"),
    ("我的订单在哪里？已经一个星期了", "Chinese"),
    ("Bonjour, je voudrais retourner mes chaussures, elles sont trop petites", "French"),
    ("¿Cuándo llega mi pedido?", "Spanish"),
])
def test_a_message_in_another_language_is_recognised(text, language):
    assert other_language(text) == language


@pytest.mark.parametrize("text", ["ok", "A1178", "thx", "ty", "wher is my oder",
                                  "do you ship to München?", "yes pls", "/affirm", ""])
def test_english_however_short_or_misspelt_is_not_taken_for_another_language(text):
    assert other_language(text) is None


def test_not_understood_in_german_offers_english_or_a_person(dispatcher):
    t = tracker(text="Hallo, wo ist meine Bestellung? Ich warte schon lange",
                intent="nlu_fallback")
    asyncio.run(ActionKefuFallback().run(dispatcher, t, {}))
    [message] = dispatcher.messages
    assert message["text"].startswith("Sorry, I can only chat in English for now")
    assert "German" in message["text"]
    assert [b["payload"] for b in message["buttons"]] == ["/human_handoff"]


def test_not_understood_in_english_is_asked_again(dispatcher):
    asyncio.run(ActionKefuFallback().run(
        dispatcher, tracker(text="blorp the frobnicator", intent="nlu_fallback"), {}))
    assert said(dispatcher) == ["utter_please_rephrase"]


def test_out_of_scope_in_chinese_offers_english_or_a_person_and_in_english_says_what_kefu_does(
        dispatcher):
    asyncio.run(ActionOutOfScope().run(
        dispatcher, tracker(text="你们几点关门？", intent="out_of_scope"), {}))
    assert "Chinese" in said(dispatcher)[0]
    dispatcher.messages.clear()
    asyncio.run(ActionOutOfScope().run(
        dispatcher, tracker(text="where can I get the flu shot", intent="out_of_scope"), {}))
    assert said(dispatcher) == ["utter_out_of_scope"]
