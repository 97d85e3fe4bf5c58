"""A verified customer picks one of their recent orders instead of typing its number.

Asked "which order?", a chat that already proved who it is gets its latest orders as buttons
(the number, when it was placed and where it is); each button answers with the order number
as an entity, exactly as if it had been typed. An unverified chat gets no list: which orders
an email has is only shown to its owner.
"""

from __future__ import annotations

import json
from typing import Any

from rasa_sdk import Tracker

from actions.store import in_store
from crm_store.services import orders

RECENT = 5


async def recent_order_buttons(tracker: Tracker) -> list[dict[str, str]]:
    customer_id = tracker.get_slot("customer_id")
    if not customer_id:
        return []

    def latest(session) -> list[tuple[str, Any, str]]:
        return [(order.order_number, order.created_at, order.status.value)
                for order in orders.for_customer(session, customer_id=int(customer_id),
                                                 limit=RECENT)]

    return [{"title": f"{number} · {placed:%-d %b} · {status}",
             "payload": "/inform" + json.dumps({"order_id": number})}
            for number, placed, status in await in_store(latest)]
