"""Product questions and recommendations, answered from the knowledge index.

Only facts from the catalog are shown (name, price, stock, the customer-relevant sentence of
the description). When nothing matches well enough, the assistant says so instead of guessing.
Every product question also teaches the customer record a little: the topics mentioned become
inferred interests.
"""

from __future__ import annotations

import asyncio
import logging
import re
from decimal import Decimal
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.store import in_store, sender_identity
from crm_store.models import InterestSource
from crm_store.normalise import normalise_topic
from crm_store.services import customers, interests, products
from knowledge import SearchFilters, get_service, recommend_for_customer
from knowledge.search import SearchHit

logger = logging.getLogger(__name__)

# Below this hybrid score the best hit is not a real answer (measured on the labelled set:
# right answers score well above it, off-catalog questions below).
MIN_ANSWER_SCORE = 0.45
MIN_DENSE_SIMILARITY = 0.35
SHOW = 3
INFERRED_WEIGHT = 0.3

_BUDGET = re.compile(
    r"(?:under|below|less than|up to|max(?:imum)?|no more than|within|budget(?: of| is)?)\s*"
    r"(?:€|£|\$|eur|euros?|gbp|usd)?\s*(\d+(?:[.,]\d{1,2})?)", re.IGNORECASE)


def budget_from(text: str) -> Decimal | None:
    match = _BUDGET.search(text or "")
    return Decimal(match.group(1).replace(",", ".")) if match else None


def relevant_sentence(description: str, query: str) -> str:
    """The description's sentence sharing most words with the question (the first otherwise)."""
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", description or "") if s.strip()]
    if not sentences:
        return ""
    words = {w for w in re.findall(r"[a-z]{3,}", query.lower())}
    return max(sentences, key=lambda s: (len(words & set(re.findall(r"[a-z]{3,}", s.lower()))),
                                         -sentences.index(s)))


def stock_text(stock: int) -> str:
    if stock <= 0:
        return "currently out of stock"
    if stock < 5:
        return f"only {stock} left in stock"
    return "in stock"


def product_card(item, reason: str | None = None, detail: str | None = None) -> dict[str, Any]:
    """One product as the channels show it: the web widget as a card, text channels as a line
    the gateway writes from it (bot/messages.py), so a product is never listed twice."""
    card = {"sku": item.sku, "name": item.name, "price": str(item.price),
            "category": item.category, "in_stock": item.stock > 0,
            "detail": detail if detail is not None else stock_text(item.stock)}
    if reason:
        card["reason"] = reason
    return card


def is_good_answer(hit: SearchHit) -> bool:
    if hit.exact:
        return True
    dense = hit.dense if hit.dense is not None else 0.0
    return hit.score >= MIN_ANSWER_SCORE and dense >= MIN_DENSE_SIMILARITY


def _entity(tracker: Tracker, name: str) -> str | None:
    value = next(tracker.get_latest_entity_values(name), None)
    return str(value) if value else None


def topics_mentioned(text: str, known_topics: list[str], entity_topics: list[str]) -> list[str]:
    """Interest topics the message names: the NLU's `topic` entities, and any topic the shop
    already knows (from customers' interests) written out in the text ("for hiking")."""
    lowered = (text or "").lower()
    found = [normalise_topic(t) for t in entity_topics]
    for topic in known_topics:
        if re.search(rf"\b{re.escape(topic)}\b", lowered):
            found.append(topic)
    return [t for t in dict.fromkeys(found) if t]


def _record_inferred_interests(session, channel: str, external_id: str, text: str,
                               entity_topics: list[str]) -> None:
    topics = topics_mentioned(text, list(interests.topic_counts(session)), entity_topics)
    if not topics:
        return
    customer = customers.find_or_create_by_identity(session, channel=channel,
                                                    external_id=external_id)
    for topic in topics:
        interests.add(session, customer_id=customer.id, topic=topic,
                      source=InterestSource.INFERRED, weight=INFERRED_WEIGHT)


class ActionProductQuestion(Action):
    def name(self) -> str:
        return "action_product_question"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        query = tracker.latest_message.get("text") or ""
        category = _entity(tracker, "category")
        filters = SearchFilters(category=await _known_category(category),
                                max_price=budget_from(query))
        try:
            hits = await _search(query, k=SHOW * 3, filters=filters)
        except Exception:  # an index being rebuilt must not leave the customer without a reply
            logger.exception("product search failed")
            dispatcher.utter_message(response="utter_products_unavailable")
            return []
        entity_topics = [str(t) for t in tracker.get_latest_entity_values("topic")]
        channel, external_id = sender_identity(tracker)
        await in_store(lambda s: _record_inferred_interests(s, channel, external_id, query,
                                                            entity_topics))
        good = [hit for hit in hits if is_good_answer(hit)]
        if not good:
            dispatcher.utter_message(response="utter_no_product_match")
            return [SlotSet("shown_products", [])]
        best = good[0]
        item = best.item
        sentence = relevant_sentence(item.description, query)
        detail = f"{stock_text(item.stock).capitalize()}. {sentence}".strip()
        dispatcher.utter_message(
            text="Here's what I found:",
            json_message={"type": "products", "products": [product_card(item, detail=detail)]},
        )
        more = [hit.item.sku for hit in good[1:]]
        if more:
            dispatcher.utter_message(
                text="Would you like to see similar products?",
                buttons=[{"title": "Show more", "payload": "/affirm"},
                         {"title": "No, thanks", "payload": "/deny"}])
        return [SlotSet("shown_products", more)]


class ActionShowMoreProducts(Action):
    def name(self) -> str:
        return "action_show_more_products"

    async def run(self, dispatcher, tracker, domain):
        skus = list(tracker.get_slot("shown_products") or [])[:SHOW]
        if not skus:
            dispatcher.utter_message(response="utter_anything_else")
            return []
        found = await in_store(lambda s: products.get_many_by_sku(s, skus=skus))
        cards = [product_card(found[sku]) for sku in skus if sku in found]
        dispatcher.utter_message(text="Here are some more:",
                                 json_message={"type": "products", "products": cards})
        return [SlotSet("shown_products", [])]


class ActionRecommendProducts(Action):
    def name(self) -> str:
        return "action_recommend_products"

    async def run(self, dispatcher, tracker, domain):
        text = tracker.latest_message.get("text") or ""
        slot = tracker.get_slot("customer_id")
        channel, external_id = sender_identity(tracker)
        customer_id = await in_store(lambda s: _customer_id(s, slot, channel, external_id))
        topics = list(tracker.get_latest_entity_values("topic"))
        category = await _known_category(_entity(tracker, "category"))
        occasion = _occasion(text, topics, category)
        try:
            # The same profile and ranking as campaigns and `kefu recommend`.
            recs = await asyncio.to_thread(
                recommend_for_customer, customer_id=customer_id, k=SHOW,
                max_price=budget_from(text), category=category, occasion=occasion)
        except Exception:
            logger.exception("recommendation failed")
            dispatcher.utter_message(response="utter_products_unavailable")
            return []
        if not recs:
            dispatcher.utter_message(response="utter_no_product_match")
            return []
        dispatcher.utter_message(
            text="Here's what I'd suggest:",
            json_message={"type": "products",
                          "products": [product_card(r.item, r.reason) for r in recs]})
        return []


def _customer_id(session, slot: Any, channel: str, external_id: str) -> int:
    """The identified customer, else the sender's own record: a visitor gets one, where product
    questions keep the interests they infer, and a slot still naming a customer since merged
    into another finds the merged one through the sender's identity."""
    customer = customers.get(session, customer_id=int(slot)) if slot else None
    if customer is None:
        customer = customers.find_or_create_by_identity(session, channel=channel,
                                                        external_id=external_id)
    return customer.id


def _occasion(text: str, topics: list[str], category: str | None) -> str | None:
    """The request's own words, when it says more than "recommend me something"."""
    generic = re.sub(r"(?i)\b(recommend|suggest|something|anything|me|please|can|could|you|"
                     r"what|would|do|have|any|ideas?|for|a|an|the|i|need|want|looking)\b", "", text)
    if len(re.findall(r"[a-zA-Z]{3,}", generic)) >= 1 or topics:
        return text
    return None if category is None else category


async def _known_category(raw: str | None) -> str | None:
    """The catalog's own category name for what the customer said ("outdoor" -> "Hiking & Outdoor")."""
    if not raw:
        return None
    wanted = raw.casefold().strip()
    for category in await in_store(products.categories):
        if category.casefold() == wanted or wanted in category.casefold():
            return category
    return None


async def _search(query: str, *, k: int, filters: SearchFilters) -> list[SearchHit]:
    # The model and index are loaded once per process; encoding still takes ~15 ms of CPU.
    return await asyncio.to_thread(get_service().search, query, k=k, filters=filters)

