"""Product questions and recommendations, answered from the knowledge index.

Only facts from the catalog are shown (name, price, stock, the customer-relevant sentence of
the description). When nothing matches well enough, the assistant says so instead of guessing.
Every product question also teaches the customer record a little: the topics mentioned become
inferred interests. The product last shown on its own is remembered (`last_product`), so "is it
in stock?" or "does it come in blue?" is answered about it from its catalog entry, and a card's
"Tell me more" button (`/product_question{"product_sku": ...}`) answers about that product.
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

from actions.identifiers import words_of_latest_request
from actions.product_details import AttributeAnswer, attribute_asked, only_about
from actions.product_followup import Asked, asked_about, is_about_shown, mentions
from actions.store import in_store, sender_identity
from actions.texts import money
from crm_store.models import InterestSource
from crm_store.normalise import normalise_topic
from crm_store.services import customers, interests, products
from knowledge import SearchFilters, get_service, recommend_for_customer
from knowledge.catalog import attribute_line
from knowledge.search import SearchHit

logger = logging.getLogger(__name__)

# Below this hybrid score the best hit is not a real answer (measured on the labelled set:
# right answers score well above it, off-catalog questions below).
MIN_ANSWER_SCORE = 0.45
MIN_DENSE_SIMILARITY = 0.35
SHOW = 3
INFERRED_WEIGHT = 0.3
# Fewer than this in stock is said as "only N left".
FEW_LEFT = 5
LAST_PRODUCT = "last_product"

_BUDGET = re.compile(
    r"(?:under|below|less than|up to|max(?:imum)?|no more than|within|budget(?: of| is)?)\s*"
    r"(?:€|£|\$|eur|euros?|gbp|usd)?\s*(\d+(?:[.,]\d{1,2})?)", re.IGNORECASE)


def budget_from(text: str) -> Decimal | None:
    match = _BUDGET.search(text or "")
    return Decimal(match.group(1).replace(",", ".")) if match else None


def description_sentences(description: str | None) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", description or "") if s.strip()]


def relevant_sentence(description: str, query: str) -> str:
    """The description's sentence sharing most words with the question (the first otherwise)."""
    sentences = description_sentences(description)
    if not sentences:
        return ""
    words = {w for w in re.findall(r"[a-z]{3,}", query.lower())}
    return max(sentences, key=lambda s: (len(words & set(re.findall(r"[a-z]{3,}", s.lower()))),
                                         -sentences.index(s)))


def stock_text(stock: int) -> str:
    if stock <= 0:
        return "currently out of stock"
    if stock < FEW_LEFT:
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
        sku = _entity(tracker, "product_sku")
        if sku:  # a card's "Tell me more": that product, whatever the search would find
            return await _answer_about_sku(dispatcher, sku)
        query = words_of_latest_request(tracker)
        if not query.strip():  # a bare "/product_question" tap: nothing to search for yet
            dispatcher.utter_message(response="utter_ask_product")
            return []
        shown = await _product(tracker.get_slot(LAST_PRODUCT))
        category = _entity(tracker, "category")
        filters = SearchFilters(category=await _known_category(category),
                                max_price=budget_from(query))
        try:
            hits = await _search(query, k=SHOW * 3, filters=filters)
        except Exception:  # an index being rebuilt must not leave the customer without a reply
            logger.exception("product search failed")
            if shown is not None and about_shown(query, shown, _entity(tracker, "product"), []):
                return _answer_about(dispatcher, shown, query)  # its entry is in the store
            dispatcher.utter_message(response="utter_products_unavailable")
            return []
        entity_topics = [str(t) for t in tracker.get_latest_entity_values("topic")]
        channel, external_id = sender_identity(tracker)
        await in_store(lambda s: _record_inferred_interests(s, channel, external_id, query,
                                                            entity_topics))
        good = [hit for hit in hits if is_good_answer(hit)]
        if shown is not None and about_shown(query, shown, _entity(tracker, "product"), good):
            return _answer_about(dispatcher, shown, query)
        if not good:
            dispatcher.utter_message(response="utter_no_product_match")
            return [SlotSet("shown_products", []), SlotSet(LAST_PRODUCT, None)]
        best = good[0]
        item = best.item
        asked = attribute_asked(query, item.name, item.attributes)
        sentence = (attribute_line(asked.name, asked.text) if asked
                    else relevant_sentence(item.description, query))
        detail = f"{stock_text(item.stock).capitalize()}. {sentence}".strip()
        dispatcher.utter_message(
            text="Here's what I found:",
            json_message={"type": "products", "products": [product_card(item, detail=detail)]},
        )
        if asked and asked.lacks:
            _say_attribute(dispatcher, item.name, asked)
        more = [hit.item.sku for hit in good[1:]]
        if more:
            dispatcher.utter_message(
                text="Would you like to see similar products?",
                buttons=[{"title": "Show more", "payload": "/affirm"},
                         {"title": "No, thanks", "payload": "/deny"}])
        return [SlotSet("shown_products", more), SlotSet(LAST_PRODUCT, item.sku)]


def about_shown(query: str, shown, named: str | None, good: list[SearchHit]) -> bool:
    """Whether the question is about the product shown last rather than a new search."""
    attribute = attribute_asked(query, shown.name, shown.attributes)
    if attribute is not None and not named and only_about(query, shown.name, attribute):
        return True  # "what sizes?" right after a card
    return is_about_shown(query, shown_name=shown.name, named=named,
                          best_match_name=good[0].item.name if good else None,
                          asks_attribute=attribute is not None)


async def _product(sku: Any):
    """The catalog entry for `sku`; None once it has left the catalog (archived)."""
    if not sku:
        return None
    item = await in_store(lambda s: products.get_by_sku(s, sku=str(sku)))
    return item if item is not None and item.archived_at is None else None


async def _answer_about_sku(dispatcher: CollectingDispatcher, sku: str) -> list[dict[str, Any]]:
    item = await _product(sku)
    if item is None:  # a card from before the product left the catalog
        dispatcher.utter_message(response="utter_no_product_match")
        return [SlotSet(LAST_PRODUCT, None)]
    return _answer_about(dispatcher, item, "")


def _answer_about(dispatcher: CollectingDispatcher, item, question: str) -> list[dict[str, Any]]:
    """What the question asks about this one product, from its catalog entry only: its price,
    its stock, and whether the words asked about (a colour, a material, a feature) are in its
    name or description, or its attributes; a question that asks nothing in particular gets
    its card."""
    asked = asked_about(question, item.name)
    # "what colours?", "is it dishwasher safe?": answered in the shop's own words.
    attribute = attribute_asked(question, item.name, item.attributes)
    if attribute is None and not asked.anything():  # "tell me more": the whole entry
        lines = [attribute_line(name, text) for name, text in (item.attributes or {}).items()]
        detail = " ".join([f"{stock_text(item.stock).capitalize()}.", item.description or "",
                           *(f"{line.rstrip('.')}." for line in lines)]).strip()
        dispatcher.utter_message(
            text=f"Here's more about {item.name}:",
            json_message={"type": "products", "products": [product_card(item, detail=detail)]})
        return [SlotSet(LAST_PRODUCT, item.sku)]
    if asked.price:
        dispatcher.utter_message(response="utter_product_price", product=item.name,
                                 price=money(item.price))
    if asked.stock:
        _say_stock(dispatcher, item)
    if attribute is not None:
        _say_attribute(dispatcher, item.name, attribute)
    else:
        _say_features(dispatcher, item, asked)
    return [SlotSet(LAST_PRODUCT, item.sku)]


def _say_attribute(dispatcher: CollectingDispatcher, product: str,
                   answer: AttributeAnswer) -> None:
    line = attribute_line(answer.name, answer.text)
    if answer.lacks:
        dispatcher.utter_message(response="utter_product_attribute_lacks", product=product,
                                 line=line.rstrip("."), value=answer.lacks)
    else:
        dispatcher.utter_message(response="utter_product_attribute", product=product, line=line)


def _say_stock(dispatcher: CollectingDispatcher, item) -> None:
    if item.stock <= 0:
        dispatcher.utter_message(response="utter_product_out_of_stock", product=item.name)
    elif item.stock < FEW_LEFT:
        dispatcher.utter_message(response="utter_product_few_left", product=item.name,
                                 count=item.stock)
    else:
        dispatcher.utter_message(response="utter_product_in_stock", product=item.name)


def _say_features(dispatcher: CollectingDispatcher, item, asked: Asked) -> None:
    """Only what its entry says: a word it does not mention is said to be not mentioned,
    never guessed from similar products."""
    entry = f"{item.name}. {item.description or ''}"
    found = [word for word in asked.features if mentions(word, entry)]
    missing = [word for word in asked.features if word not in found]
    if found:
        dispatcher.utter_message(response="utter_product_mentions", product=item.name,
                                 sentence=_evidence(item, found[0]))
    if missing:
        dispatcher.utter_message(response="utter_product_not_mentioned", product=item.name,
                                 attribute=" or ".join(missing))


def _evidence(item, word: str) -> str:
    """The description's sentence that names `word`; the name when only the name does."""
    return next((sentence for sentence in description_sentences(item.description)
                 if mentions(word, sentence)), item.name)


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
        # Several products on screen: "is it in stock?" no longer means the one shown before.
        return [SlotSet("shown_products", []), SlotSet(LAST_PRODUCT, None)]


class ActionRecommendProducts(Action):
    def name(self) -> str:
        return "action_recommend_products"

    async def run(self, dispatcher, tracker, domain):
        text = words_of_latest_request(tracker)  # "" for a button: no occasion to match
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
        # "Is it in stock?" means a product only when one was shown.
        return [SlotSet(LAST_PRODUCT, recs[0].item.sku if len(recs) == 1 else None)]


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

