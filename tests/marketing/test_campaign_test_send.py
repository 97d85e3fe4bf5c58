"""A marketer sends a campaign to themselves before it goes out: POST
/api/campaigns/{id}/test-send queues "[Test] " and the message, rendered for the customer account
with the marketer's own email, on that account's chat, through the outbound queue a real send
uses. The campaign itself is untouched: no delivery, nothing in its report, still a draft; and
neither consent nor the frequency cap holds the test back. Clear refusals otherwise."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from crm_store import db
from crm_store.db import session_scope
from crm_store.models import CampaignDelivery, Conversation, Customer, Direction, Message, utcnow
from crm_store.services import audit, staff
from kefu_config import clock
from kefu_config.settings import Settings
from marketing import composing
from marketing.rules import capped
from tests.conftest import free_port
from tests.marketing.helpers import chat, london, marketing_team, person, shop_policy
from tests.support.demo_store import fresh_store
from tests.support.gateway_server import GatewayServer

PASSWORD = "correct horse battery staple"
NOON = london(2026, 11, 18, 12)  # outside the quiet hours
BOOTS = {"sku": "HIK-7", "name": "Trail boots", "price": "89.5", "reason": "for your hikes"}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("kefu-test-send")
    url = fresh_store(data_dir)
    with session_scope() as session:
        marketing_team(session, PASSWORD)
        for email, role, name in (("ada@shop.example", "admin", "Ada"),
                                  ("max@shop.example", "marketer", "Max"),
                                  ("noa@shop.example", "marketer", "Noa")):
            staff.create_user(session, email=email, password=PASSWORD, role=role, name=name)
        # Mia's own customer account: she never consented to marketing, and proved on
        # Telegram that the account is hers (an order verified with her email).
        mia = person(session, "mia@shop.example", name="Mia Rossi")
        chat(session, mia, "telegram", "mia-tg", verified=True)
        # Ada consented in the web chat and is a hiker: a real campaign reaches her.
        ada = person(session, "ada@shop.example", name="Ada King", topics=("hiking",),
                     consent="web")
        chat(session, ada, "web", "ada-web")
        # Noa's account has only a chat she never proved is hers.
        noa = person(session, "noa@shop.example", name="Noa Berg")
        chat(session, noa, "web", "noa-web", verified=False)
        hiker = person(session, "hiker@example.com", name="Hana Ito", topics=("hiking",),
                       consent="web")
        chat(session, hiker, "web", "test-send-hiker")
    clock.set_source(clock.running_from_moment(NOON))
    settings = Settings(data_dir=data_dir, database_url=url, rasa_port=free_port(),
                        action_port=free_port(), gateway_port=free_port())
    server = GatewayServer(settings).start()
    yield server
    server.stop()
    clock.set_source(None)
    db.reset_engine()


@pytest.fixture
def boots(monkeypatch):
    """The product index recommends trail boots to everyone (the gateway runs in-process)."""
    monkeypatch.setattr(composing, "recommendation_or_none", lambda session, customer, topic: BOOTS)


def client(gateway, email: str) -> httpx.Client:
    response = httpx.post(f"{gateway.url}/api/auth/login",
                          json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return httpx.Client(base_url=f"{gateway.url}/api", timeout=30,
                        headers={"Authorization": f"Bearer {response.json()['token']}"})


def draft(marketer: httpx.Client, name: str, message: str) -> int:
    created = marketer.post("/campaigns", json={"name": name, "message": message,
                                                "topic": "hiking"})
    assert created.status_code == 201, created.text
    return created.json()["id"]


def outbound(external_id: str) -> list[Message]:
    """What was queued for the chat with this sender, oldest first."""
    with session_scope() as session:
        rows = session.scalars(
            select(Message).join(Conversation, Conversation.id == Message.conversation_id)
            .where(Conversation.external_id == external_id,
                   Message.direction == Direction.OUTBOUND).order_by(Message.id))
        found = list(rows)
        session.expunge_all()
        return found


def deliveries(campaign_id: int) -> int:
    with session_scope() as session:
        return session.scalar(select(func.count(CampaignDelivery.id)).where(
            CampaignDelivery.campaign_id == campaign_id))


def test_a_test_send_reaches_my_own_chat_and_leaves_the_campaign_alone(gateway, boots):
    mia = client(gateway, "mia@shop.example")
    campaign = draft(mia, "Boots week", "Hi {first_name}, {product} for {product_price}!")

    sent = mia.post(f"/campaigns/{campaign}/test-send")

    assert sent.status_code == 200, sent.text
    assert sent.json()["channel"] == "telegram"
    [message] = outbound("mia-tg")
    assert message.text.startswith("[Test] Hi Mia, Trail boots for €89.50!")
    assert "/stop" in message.text  # exactly what a customer reads, opt-out line included
    assert message.payload["products"][0]["name"] == "Trail boots"
    assert sent.json()["message_id"] == message.id
    # Nobody else got anything, and the campaign is as it was: a draft nobody received.
    assert outbound("test-send-hiker") == []
    assert deliveries(campaign) == 0
    shown = {c["id"]: c for c in mia.get("/campaigns").json()}[campaign]
    assert (shown["status"], shown["recipients"], shown["sent_at"]) == ("draft", 0, None)
    report = mia.get(f"/campaigns/{campaign}/report").json()
    assert (report["recipients"], report["queued"], report["reached"]) == (0, 0, 0)
    with session_scope() as session:
        trail = [(e.action, e.staff_id) for e in
                 audit.for_entity(session, entity="campaign", entity_id=campaign)]
    assert trail[-1][0] == "campaign.test_send"

    # The real send afterwards still goes to the whole audience.
    real = mia.post(f"/campaigns/{campaign}/send")
    assert real.status_code == 200 and real.json()["queued"] == 2, real.text
    assert deliveries(campaign) == 2
    # And a test send of a campaign that went out changes nothing about it either.
    assert mia.post(f"/campaigns/{campaign}/test-send").status_code == 200
    assert deliveries(campaign) == 2
    assert len(outbound("mia-tg")) == 2


def test_the_frequency_cap_does_not_hold_back_my_test(gateway, boots):
    ada = client(gateway, "ada@shop.example")
    first = draft(ada, "Poles", "Hi {first_name}, poles!")
    assert ada.post(f"/campaigns/{first}/send").status_code == 200
    with session_scope() as session:
        account = session.scalar(select(Customer).where(Customer.email == "ada@shop.example"))
        # Ada's account just got a campaign: the next real one would be held back for her.
        assert capped(session, customer_id=account.id, now=utcnow(),
                      cap_days=shop_policy().cap_days)
    before = len(outbound("ada-web"))
    second = draft(ada, "Gaiters", "Hi {first_name}, gaiters!")
    sent = ada.post(f"/campaigns/{second}/test-send")
    assert sent.status_code == 200, sent.text
    assert sent.json()["channel"] == "web"
    texts = [m.text for m in outbound("ada-web")]
    assert len(texts) == before + 1 and texts[-1].startswith("[Test] Hi Ada, gaiters!")
    assert deliveries(second) == 0


def test_a_test_send_is_refused_with_the_reason(gateway):
    mia = client(gateway, "mia@shop.example")
    campaign = draft(mia, "Maps", "Hi {first_name}, maps!")

    nobody = client(gateway, "max@shop.example").post(f"/campaigns/{campaign}/test-send")
    assert nobody.status_code == 409, nobody.text
    assert nobody.json()["detail"] == (
        "No customer account uses your email max@shop.example; chat with the shop's assistant "
        "on Telegram or the website and verify an order with that email first")

    unproven = client(gateway, "noa@shop.example").post(f"/campaigns/{campaign}/test-send")
    assert unproven.status_code == 409, unproven.text
    assert "has no chat to send the test to" in unproven.json()["detail"]
    assert outbound("noa-web") == []

    unknown = mia.post("/campaigns/99999/test-send")
    assert unknown.status_code == 404 and unknown.json()["detail"] == "no campaign 99999"

    agent = client(gateway, "anna@shop.example").post(f"/campaigns/{campaign}/test-send")
    assert agent.status_code == 403 and "marketer or admin" in agent.json()["detail"]
    assert httpx.post(f"{gateway.url}/api/campaigns/{campaign}/test-send").status_code == 401
    assert deliveries(campaign) == 0
