"""Recommendations follow interests and purchases, never offer what cannot or should not be sold."""

from __future__ import annotations

from decimal import Decimal

from knowledge.recommend import CustomerProfile, Interest

HIKER = CustomerProfile(interests=(Interest("hiking", "stated", 1.0),))


def skus(recs):
    return [r.item.sku for r in recs]


def test_stated_interest_leads_and_gives_the_reason(shared_service):
    recs = shared_service.recommend(HIKER, k=3)
    assert len(recs) == 3
    assert recs[0].item.category == "Hiking"
    assert recs[0].reason == "because you're interested in hiking"


def test_out_of_stock_products_are_never_recommended(shared_service, catalog):
    out_of_stock = {i.sku for i in catalog if i.stock == 0}
    assert out_of_stock == {"HIK-003", "RUN-003"}
    profile = CustomerProfile(interests=(Interest("hiking daypack"), Interest("gps running watch")))
    for k in (3, 10, 20):
        assert not out_of_stock & set(skus(shared_service.recommend(profile, k=k)))


def test_bought_products_are_never_recommended_and_explain_the_rest(shared_service):
    profile = CustomerProfile(interests=(Interest("hiking"),), bought=("HIK-001", "HIK-002"))
    recs = shared_service.recommend(profile, k=20)
    assert not {"HIK-001", "HIK-002"} & set(skus(recs))
    assert recs and all(r.reason for r in recs)


def test_a_purchase_alone_leads_to_related_products_in_other_categories(shared_service):
    # Bought the tent, said nothing else: camping and hiking gear that goes with it, not
    # a second tent, and the reason names what they bought.
    profile = CustomerProfile(bought=("CAM-001",))
    recs = shared_service.recommend(profile, k=3)
    assert "CAM-001" not in skus(recs)
    assert {r.item.category for r in recs} <= {"Camping", "Hiking"}
    assert any(r.reason == "goes with the Two-Person Dome Tent you bought" for r in recs)


def test_stated_interest_outranks_a_weak_inferred_one(shared_service):
    profile = CustomerProfile(interests=(
        Interest("coffee", "stated", 1.0),
        Interest("dogs", "inferred", 0.3),
    ))
    recs = shared_service.recommend(profile, k=2)
    assert all(r.item.category == "Kitchen" for r in recs), skus(recs)
    assert all("coffee" in r.reason for r in recs)


def test_categories_are_diversified(shared_service):
    profile = CustomerProfile(interests=(Interest("hiking"), Interest("camping"), Interest("running")))
    recs = shared_service.recommend(profile, k=4)
    categories = [r.item.category for r in recs]
    assert len(recs) == 4
    assert max(categories.count(c) for c in categories) <= 2  # ceil(4 / 2)
    assert len(set(categories)) >= 2


def test_budget_and_category_constraints_hold(shared_service):
    recs = shared_service.recommend(HIKER, k=5, max_price=Decimal("40"))
    assert recs and all(r.item.price <= Decimal("40") for r in recs)
    recs = shared_service.recommend(HIKER, k=5, category="Camping")
    assert recs and {r.item.category for r in recs} == {"Camping"}


def test_occasion_leads_and_interests_break_ties(shared_service):
    recs = shared_service.recommend(HIKER, k=2, occasion="a gift for a child who likes science")
    assert recs[0].item.sku in {"TOY-001", "TOY-002"}
    # Why it fits, in the request's own words that the product has; never the request again.
    assert recs[0].reason.startswith("matches “") and "science" in recs[0].reason
    assert "a gift for a child" not in recs[0].reason


def test_new_customer_gets_popular_products_in_stock(shared_service):
    popular = ["HIK-003", "KIT-002", "ELE-001", "KIT-003"]  # HIK-003 is out of stock
    recs = shared_service.recommend(None, k=3, popular=popular)
    assert skus(recs) == ["KIT-002", "ELE-001", "KIT-003"]
    assert {r.reason for r in recs} == {"popular with other customers"}


def test_new_customer_in_a_shop_without_orders_gets_a_spread(shared_service):
    recs = shared_service.recommend(None, k=4)
    assert len({r.item.category for r in recs}) == 4
    assert all(r.item.stock > 0 for r in recs)


def test_new_customer_with_a_request_gets_matches_only(shared_service):
    recs = shared_service.recommend(None, k=3, occasion="something for my cat")
    assert recs[0].item.sku == "PET-002"
    assert recs[0].reason == "matches “cat”"
    # A product close in meaning but sharing no word gets no reason rather than a made-up one.
    assert all(r.reason == "" or r.reason.startswith("matches “") for r in recs)


def test_recommending_is_cheap_once_loaded(shared_service):
    import time

    shared_service.recommend(HIKER, k=5)  # load model and index
    started = time.perf_counter()
    for _ in range(20):
        shared_service.recommend(HIKER, k=5, max_price=Decimal("200"))
    assert (time.perf_counter() - started) / 20 < 0.25
