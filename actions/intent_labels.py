"""What each customer goal is called on a button ("Did you mean…?").

One mapping, so a second language is a second table here rather than words spread through the
fallback logic. Only goals a customer can pick are listed: small talk (greet, thank, affirm…),
out_of_scope and form answers (inform, rate) are never offered, so an intent missing from this
table is never a button.
"""

from __future__ import annotations

INTENT_LABELS: dict[str, str] = {
    "track_order": "Track an order",
    "cancel_order": "Cancel an order",
    "change_order": "Change an order",
    "return_item": "Start a return",
    "refund_status": "Ask about a refund",
    "delivery_options": "Delivery options",
    "payment_methods": "Ways to pay",
    "payment_issue": "A problem with a payment",
    "product_question": "A question about a product",
    "recommend_product": "Product suggestions",
    "complaint": "Make a complaint",
    "ticket_status": "Check on a complaint or ticket",
    "human_handoff": "Talk to a person",
    "subscribe_interest": "Get news about a topic",
    "unsubscribe": "Stop notifications",
    "account_help": "Help with my account",
    "contact_info": "Contact details and hours",
    "feedback": "Leave feedback",
}

# The button under the guesses for "none of these": it asks the customer to rephrase.
SOMETHING_ELSE = "Something else"


def label(intent: str) -> str | None:
    """The button label for `intent`; None for an intent that is never offered."""
    return INTENT_LABELS.get(intent)
