"""The fixed vocabularies of the store. Values are what the database holds and the CSVs use."""

from __future__ import annotations

import enum


class InterestSource(enum.StrEnum):
    STATED = "stated"  # the customer said so in a conversation
    IMPORTED = "imported"  # came with a customer import
    INFERRED = "inferred"  # guessed from behaviour (questions asked, products viewed)
    PURCHASE = "purchase"  # derived from what the customer bought


class OrderStatus(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    RETURNED = "returned"
    REFUNDED = "refunded"


class ReturnStatus(enum.StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    RECEIVED = "received"
    REFUNDED = "refunded"


class TicketKind(enum.StrEnum):
    COMPLAINT = "complaint"  # something went wrong; follow up and check satisfaction
    SERVICE_REQUEST = "service_request"  # the customer asks us to do something (change an order)
    FEEDBACK = "feedback"  # a suggestion or praise, for the team to read


class TicketCategory(enum.StrEnum):
    # The complaint categories managers report on.
    DELIVERY = "delivery"
    PRODUCT_QUALITY = "product_quality"
    STAFF = "staff"
    PAYMENT = "payment"
    WEBSITE = "website"
    # Service-request topics.
    RETURN = "return"
    ACCOUNT = "account"
    OTHER = "other"


class TicketPriority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class TicketStatus(enum.StrEnum):
    OPEN = "open"
    PENDING = "pending"  # waiting on the customer or a third party
    RESOLVED = "resolved"
    CLOSED = "closed"


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class SenderKind(enum.StrEnum):
    CUSTOMER = "customer"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


class ConversationMode(enum.StrEnum):
    BOT = "bot"
    HUMAN = "human"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"


class HandoffStatus(enum.StrEnum):
    REQUESTED = "requested"
    WAITING = "waiting"  # announced to the agents' queue, nobody has it yet
    CLAIMED = "claimed"
    RESOLVED = "resolved"


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    SENDING = "sending"
    SENT = "sent"


class StaffRole(enum.StrEnum):
    AGENT = "agent"
    MARKETER = "marketer"
    ADMIN = "admin"


class AgentStatus(enum.StrEnum):
    """Whether a member of service staff takes new conversations (automatic assignment)."""

    ONLINE = "online"
    AWAY = "away"
