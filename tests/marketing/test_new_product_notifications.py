"""A newly imported product is announced to consenting customers whose interests match it
(real embeddings, the shop's threshold), with the product and why — and to nobody else."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from crm_store.db import session_scope
from crm_store.importers.products import import_products
from crm_store.models import Message
from kefu_config.policy import load_policy
from kefu_config.settings import get_settings
from knowledge.embedder import get_embedder
from marketing import matching, sending, triggered
from tests.marketing.helpers import chat, london, person, shop_policy

# Depends on the date or time of day: CI runs it at other moments too (.ci/clock-guard).
pytestmark = pytest.mark.clock

os.environ.setdefault("HF_HUB_OFFLINE", "1")

NOON = london(2026, 11, 18, 12)

CATALOG = """sku,name,category,price,description,stock,tags
KIT-900,Cast Iron Skillet,Home & Kitchen,39.00,"A pre-seasoned 26 cm pan for searing and baking.",10,pan;cast iron
"""
NEW = CATALOG + """HIK-900,Ridgeline Trekking Poles,Hiking & Outdoor,59.00,"Light carbon poles that fold to 38 cm, with cork grips for long mountain hikes and trails.",25,trekking poles;hiking
"""


def _outbound(session, conversation_id):
    return list(session.scalars(select(Message).where(Message.conversation_id == conversation_id,
                                                      Message.direction == "outbound")))


def test_new_hiking_product_notifies_only_the_consenting_hiker(store, tmp_path):
    encode = get_embedder(get_settings().embedding_model).encode
    threshold = load_policy().marketing.match_threshold
    with session_scope() as session:
        hiker = person(session, "hiker@example.com", name="Hana Ito", topics=("hiking",),
                       consent="telegram")
        hiker_chat = chat(session, hiker, "telegram", "2001")
        cook = person(session, "cook@example.com", name="Cole Ng", topics=("cooking",),
                      consent="telegram")
        cook_chat = chat(session, cook, "telegram", "2002")
        shy = person(session, "shy@example.com", name="Shy Hiker", topics=("hiking",))
        shy_chat = chat(session, shy, "telegram", "2003")
        ids = (hiker_chat.id, cook_chat.id, shy_chat.id)
    (tmp_path / "a.csv").write_text(CATALOG, encoding="utf-8")
    import_products(tmp_path / "a.csv")
    (tmp_path / "b.csv").write_text(NEW, encoding="utf-8")
    result = import_products(tmp_path / "b.csv")
    assert result.added == ["HIK-900"]
    with session_scope() as session:
        matches = matching.match_product(session, sku="HIK-900", threshold=threshold,
                                          encode=encode)
        assert [(m.customer_id, m.topic) for m in matches] == [(hiker.id, "hiking")]
        sent = triggered.notify_new_product(session, sku="HIK-900", threshold=threshold,
                                            encode=encode, now=NOON, policy=shop_policy())
        assert sent.customer_ids == [hiker.id]
        [note] = _outbound(session, ids[0])
        assert "Ridgeline Trekking Poles" in note.text and "/stop" in note.text
        [card] = note.payload["products"]
        assert card["sku"] == "HIK-900"
        assert card["reason"] == "because you're interested in hiking"
        assert _outbound(session, ids[1]) == [] and _outbound(session, ids[2]) == []
        # Announced a second time, the product does not reach the hiker again within the cap.
        again = triggered.notify_new_product(session, sku="HIK-900", threshold=threshold,
                                             encode=encode, now=NOON, policy=shop_policy())
        assert (again.queued, again.capped) == (0, 1)


def test_new_product_in_the_quiet_hours_waits_until_morning(store, tmp_path):
    encode = get_embedder(get_settings().embedding_model).encode
    threshold = load_policy().marketing.match_threshold
    with session_scope() as session:
        hiker = person(session, "hiker@example.com", name="Hana Ito", topics=("hiking",),
                       consent="telegram")
        chat(session, hiker, "telegram", "2001")
    (tmp_path / "b.csv").write_text(NEW, encoding="utf-8")
    import_products(tmp_path / "b.csv")
    with session_scope() as session:
        night = london(2026, 11, 18, 23)
        sent = triggered.notify_new_product(session, sku="HIK-900", threshold=threshold,
                                            encode=encode, now=night, policy=shop_policy())
        assert sent.queued == 0 and sent.deferred_until == london(2026, 11, 19, 9)
        assert sending.send_due(session, now=night, policy=shop_policy()) == {}
        morning = sending.send_due(session, now=london(2026, 11, 19, 9, 1),
                                     policy=shop_policy())
        [result] = morning.values()
        assert result.customer_ids == [hiker.id]
