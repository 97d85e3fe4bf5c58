"""What the segment rule builder offers (the values the store holds) and where a marketer's
test send to their own customer account goes (a consented chat, else a proved one, never a
chat the account never proved is its own)."""

from __future__ import annotations

from crm_store.db import session_scope
from crm_store.models import utcnow
from crm_store.services import segments
from tests.crm_store import factories
from tests.marketing.helpers import chat, person


def test_the_builder_offers_the_values_the_store_holds(store):
    with session_scope() as session:
        ann = person(session, "ann@example.com", name="Ann", topics=("hiking", "camping"))
        ann.tags, ann.language = ["VIP", "wholesale"], "en"
        ben = person(session, "ben@example.com", name="Ben", topics=("hiking",))
        ben.tags, ben.language = ["vip"], "de"
        gone = person(session, "gone@example.com", name="Gone", topics=("knitting",))
        gone.erased_at = utcnow()
        factories.product(session, "HIK-1", category="Hiking & Outdoor")
        factories.product(session, "KIT-1", category="Home & Kitchen")
        old = factories.product(session, "OLD-1", category="Discontinued")
        old.archived_at = utcnow()
        session.flush()
        known = segments.known_values(session)
    assert known["interests"] == ["camping", "hiking"]  # an erased customer's are not offered
    assert known["categories"] == ["Hiking & Outdoor", "Home & Kitchen"]
    assert known["tags"] == ["VIP", "wholesale"]  # one "vip", whatever its case
    assert known["languages"] == ["de", "en"]
    assert known["rfm_tiers"] == list(segments.RFM_TIERS)
    assert known["channels"] == ["web", "telegram", "rest"]


def test_my_own_chat_is_a_consented_one_else_one_i_proved_is_mine(store):
    with session_scope() as session:
        # No marketing consent, but a Telegram chat proved hers (an order verified).
        mia = person(session, "mia@example.com", name="Mia")
        proved = chat(session, mia, "telegram", "mia-tg", verified=True)
        chat(session, mia, "web", "mia-web-unproved")
        assert segments.own_reach(session, mia) == segments.Reach("telegram", proved.id)
        assert segments.reachable(session, mia) is None  # no campaign would reach her
        # Consent given in a web chat: that is where a campaign, and her test, reaches her.
        ada = person(session, "ada@example.com", name="Ada", consent="web")
        web = chat(session, ada, "web", "ada-web")
        chat(session, ada, "telegram", "ada-tg", verified=True)
        assert segments.own_reach(session, ada) == segments.Reach("web", web.id)
        # Only a chat she never proved is hers: nowhere.
        noa = person(session, "noa@example.com", name="Noa")
        chat(session, noa, "web", "noa-web")
        assert segments.own_reach(session, noa) is None
        noa.erased_at = utcnow()
        mia.erased_at = utcnow()
        assert segments.own_reach(session, mia) is None
