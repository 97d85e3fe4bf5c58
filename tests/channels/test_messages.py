"""Rasa's output -> what channels show: cards, buttons, signals, and what is never shown."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.channels.rest import rasa_shape
from bot.messages import ChatMessage, Content, from_rasa, from_rasa_replies
from bot.shop_identity import sign, verify
from kefu_config.policy import load_policy
from tests.support.shop_policy import ALWAYS_OPEN, policy_file


def test_product_cards_from_the_dialogue_become_cards_and_a_text_summary():
    content, signals = from_rasa({"custom": {"type": "products", "products": [
        {"sku": "HIK-001", "name": "Stormline Rain Jacket", "price": 129, "reason":
         "because you're interested in hiking", "image": "https://shop.example/hik-001.jpg"},
        {"sku": "HIK-004", "name": "Ridgeback Boots", "price": "169.00"},
        {"name": "no sku: dropped"},
    ]}})
    assert signals == []
    assert [(p.sku, p.price) for p in content.products] == [("HIK-001", "€129.00"),
                                                            ("HIK-004", "€169.00")]
    assert content.summary and "Stormline Rain Jacket — €129.00" in content.text
    # Telegram gets text; the widget gets cards and no duplicate summary text.
    assert content.plain_text().splitlines()[0] == "• Stormline Rain Jacket — €129.00"
    message = ChatMessage(1, 1, "outbound", "bot", content, datetime.now(UTC))
    assert message.to_json()["text"] == "" and len(message.to_json()["products"]) == 2
    # Stored and read back, it is the same content.
    assert Content.from_stored(content.text, content.payload()) == content


def test_cards_with_an_introduction_list_each_product_once_on_every_channel():
    content, _ = from_rasa({"text": "Here's what I'd suggest:", "custom": {
        "type": "products", "products": [
            {"sku": "KIT-002", "name": "Coffee Flask", "price": "29", "detail": "In stock.",
             "reason": "matches “coffee”"}]}})
    message = ChatMessage(1, 1, "outbound", "bot", content, datetime.now(UTC))
    # The widget: the introduction above the card, the name only on the card.
    assert message.to_json()["text"] == "Here's what I'd suggest:"
    assert message.to_json()["products"][0]["detail"] == "In stock."
    # Telegram and REST: the introduction, then one line per card with its detail and reason.
    lines = "Here's what I'd suggest:\n\n• Coffee Flask — €29.00\n   In stock.\n   matches “coffee”"
    assert content.plain_text() == lines
    assert rasa_shape("rest:x", message)["text"] == lines
    assert rasa_shape("rest:x", message)["custom"]["products"][0]["sku"] == "KIT-002"


def test_prices_are_written_in_the_shops_currency(tmp_path, monkeypatch):
    policy = policy_file(tmp_path, hours=ALWAYS_OPEN, shop={
        **load_policy().shop.model_dump(), "currency": "GBP", "locale": "en-GB"})
    monkeypatch.setenv("KEFU_POLICY_FILE", str(policy))
    load_policy.cache_clear()
    try:
        content, _ = from_rasa({"custom": {"type": "products", "products": [
            {"sku": "HIK-001", "name": "Stormline Rain Jacket", "price": "1299.5"}]}})
        assert content.products[0].price == "£1,299.50"
    finally:
        monkeypatch.delenv("KEFU_POLICY_FILE")
        load_policy.cache_clear()


def test_a_handoff_is_a_signal_not_a_message():
    content, signals = from_rasa({"custom": {"type": "handoff", "reason": "angry customer"}})
    assert content.empty
    assert [(s.type, s.data) for s in signals] == [("handoff", {"reason": "angry customer"})]


def test_unsafe_image_urls_and_malformed_buttons_are_dropped():
    content, _ = from_rasa({
        "text": "Look", "image": "javascript:alert(1)",
        "buttons": [{"title": "Yes", "payload": "/affirm"}, {"payload": "/deny"}, "junk",
                    {"title": "x" * 100}],
        "custom": {"type": "products", "products": [
            {"sku": "A", "name": "A", "image": "//evil.example/x.png"}]},
    })
    assert content.image is None and content.products[0].image is None
    assert [(b.title, b.payload) for b in content.buttons] == [("Yes", "/affirm"),
                                                               ("x" * 64, "x" * 100)]


def test_identity_tokens_match_the_normalised_email_only_with_the_secret():
    token = sign("s3cret", "Jane.Doe@Example.COM ")
    assert verify("s3cret", "jane.doe@example.com", token) == "jane.doe@example.com"
    assert verify("other", "jane.doe@example.com", token) is None
    assert verify("s3cret", "john@example.com", token) is None
    assert verify(None, "jane.doe@example.com", token) is None  # feature off
    assert verify("s3cret", "not an email", token) is None


def test_a_help_articles_source_joins_the_answer_it_came_with():
    # Rasa sends an action's text (with buttons) and its custom payload as two messages.
    contents, signals = from_rasa_replies([
        {"recipient_id": "x", "text": "Gift cards are valid for 24 months.",
         "buttons": [{"title": "Talk to a person", "payload": "/human_handoff"}]},
        {"recipient_id": "x", "custom": {"type": "help_article", "slug": "gift-cards",
                                         "title": "Gift cards", "score": 0.7}},
    ])
    assert signals == []
    [answer] = contents
    assert answer.article == ("gift-cards", "Gift cards")
    assert answer.payload()["article"] == {"slug": "gift-cards", "title": "Gift cards"}
    assert Content.from_stored(answer.text, answer.payload()).article == answer.article
