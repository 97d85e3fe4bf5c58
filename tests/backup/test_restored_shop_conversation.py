"""A shop restored from its backup into an empty data directory serves its customers: the real
Rasa and action server on the restored store, through the gateway, verify a customer against an
order that exists only in the backup and answer about it."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from crm_store import db
from crm_store.models import Product
from crm_store.normalise import normalise_order_number
from crm_store.services import customers
from kefu.backup import create_backup, restore_backup
from kefu_config.settings import Settings
from tests.backup.test_backup import (  # noqa: F401 - the shop and its fixtures
    _clean_settings,
    embedder,
    kefu,
    shop,
    use_data_dir,
)
from tests.conftest import free_port
from tests.crm_store import factories
from tests.support.gateway_server import GatewayServer
from tests.support.rasa_stack import running_rasa

pytestmark = pytest.mark.e2e


def test_a_customer_is_answered_about_their_order_on_the_restored_shop(shop, tmp_path,  # noqa: F811
                                                                       monkeypatch):
    with db.session_scope() as session:  # an order as `kefu import orders` stores its number
        buyer = customers.get_by_email(session, email="buyer3@example.com")
        jacket = session.scalar(select(Product).where(Product.sku == "HIK-001"))
        factories.order(session, normalise_order_number("KF-2003"), buyer, [(jacket, 1)])
    archive = tmp_path / "shop.tar.gz"
    create_backup(shop, archive)
    db.reset_engine()
    restored = use_data_dir(monkeypatch, tmp_path / "new-machine" / "var")
    restore_backup(restored, archive)
    prepared = kefu("prepare", data=restored.data_path)  # as the restore tells a shop to
    assert prepared.returncode == 0, prepared.stderr

    store_url = f"sqlite:///{restored.data_path / 'kefu.db'}"
    with running_rasa(store_url, restored.data_path) as servers:
        with GatewayServer(Settings(
                data_dir=restored.data_path, database_url=store_url, gateway_port=free_port(),
                rasa_port=servers.rasa_port, action_port=servers.action_port,
                rasa_timeout=60.0)) as gateway:
            def says(text: str) -> str:
                response = httpx.post(f"{gateway.url}/webhooks/rest/webhook", timeout=90,
                                      json={"sender": "restored-buyer", "message": text})
                assert response.status_code == 200, response.text
                return " ".join(m.get("text") or "" for m in response.json())

            assert "email" in says("where is my order KF-2003?").lower()
            answer = says("buyer3@example.com")
            assert "KF2003" in answer and "couldn't find" not in answer, answer
