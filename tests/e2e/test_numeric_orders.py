"""A shop whose orders are numbered 90001, not like the demo shop's A1234 (issue 14), end to end:
`kefu import orders` with numeric ids, then a customer tracks one and cancels another over the
REST channel, verified by email, on the real stack (`kefu run`).

The shop's policy names its own example ("90001"); its patterns are the defaults, which accept
plain digits, so nothing in the NLU data or the code knows this shop's numbers.
"""

from __future__ import annotations

import csv
import os
import subprocess

import pytest
import yaml

from crm_store import db
from crm_store.db import session_scope
from crm_store.models import OrderStatus
from crm_store.services import identities, orders
from kefu_config.policy import policy_path
from tests.conftest import free_port
from tests.e2e.stack import KEFU, REPO, Customer, start_stack

pytestmark = pytest.mark.e2e

EMAIL = "numeric.shop@example.com"
ORDERS = """order_id,customer_email,status,items,total,created_at,shipped_at,carrier,tracking_number
90001,{email},shipped,{sku}:1,{price},2025-11-20T10:00:00,2025-11-21T09:00:00,DHL,NUM90001TRACK
#90002,{email},paid,{sku}:1,{price},2025-11-25T10:00:00,,,
123-4567890-1234567,{email},paid,{sku}:2,{double},2025-11-26T10:00:00,,,
"""


def _kefu(*args: str, env: dict[str, str]) -> None:
    done = subprocess.run([str(KEFU), *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def numeric_shop(tmp_path_factory):
    work = tmp_path_factory.mktemp("numeric-shop")
    data_dir = work / "data"
    env = {**os.environ, "KEFU_DATA_DIR": str(data_dir)}
    _kefu("prepare", env=env)  # the demo catalog, so the orders' SKU exists
    with (REPO / "demo_shop" / "products.csv").open(encoding="utf-8") as fh:
        product = next(csv.DictReader(fh))
    price = float(product["price"])
    orders_csv = work / "orders.csv"
    orders_csv.write_text(ORDERS.format(email=EMAIL, sku=product["sku"], price=f"{price:.2f}",
                                        double=f"{2 * price:.2f}"), encoding="utf-8")
    _kefu("import", "orders", str(orders_csv), env=env)

    policy = yaml.safe_load(policy_path().read_text(encoding="utf-8"))
    policy["identifiers"] = {"order_number": {
        "patterns": [r"\d{3}-\d{7}-\d{7}", r"\d{4,8}"], "example": "90001"}}
    policy_file = work / "shop.yml"
    policy_file.write_text(yaml.safe_dump(policy, sort_keys=False, allow_unicode=True),
                           encoding="utf-8")

    ports = {"gateway": free_port(), "rasa": free_port(), "actions": free_port()}
    running = start_stack(data_dir, ports, extra_env={"KEFU_POLICY_FILE": str(policy_file)})
    db.configure(running.database_url)
    yield running
    running.stop()
    db.reset_engine()


def test_imported_numeric_ids_are_stored_as_customers_type_them(numeric_shop):
    with session_scope() as session:
        for typed in ("90001", "#90002", "123-4567890-1234567"):
            assert orders.status_for(session, order_number=typed, email=EMAIL), typed


def test_a_numeric_order_is_tracked_after_email_verification(numeric_shop):
    noor = Customer(numeric_shop, "e2e-numeric-track")
    asked = noor.says("where is my order 90001?")
    assert "email" in asked.lower() and "A1234" not in asked, asked
    answer = noor.says(EMAIL)
    assert "90001" in answer and "shipped" in answer and "NUM90001TRACK" in answer, answer
    with session_scope() as session:
        identity = identities.get(session, channel="rest", external_id="e2e-numeric-track")
        assert identity.verified and identity.customer.email == EMAIL


def test_a_numeric_order_is_cancelled_after_confirmation(numeric_shop):
    noor = Customer(numeric_shop, "e2e-numeric-cancel")
    asked = noor.says("I'd like to cancel an order")
    # The question shows the shop's own example, from its policy file.
    assert "order number" in asked and "90001" in asked and "A1234" not in asked, asked
    assert "email" in noor.says("#90002").lower()
    question = noor.say(EMAIL)
    assert any("Shall I cancel it" in (m.get("text") or "") for m in question), question
    assert "90002 is cancelled" in noor.says("yes")
    with session_scope() as session:
        assert orders.get_by_number(session, order_number="90002").status == \
            OrderStatus.CANCELLED


def test_a_marketplace_order_is_tracked(numeric_shop):
    noor = Customer(numeric_shop, "e2e-numeric-marketplace")
    noor.says("what's the status of order 123-4567890-1234567?")
    answer = noor.says(EMAIL)
    assert "123-4567890-1234567" in answer and "paid" in answer, answer
