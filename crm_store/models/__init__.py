"""Every table of the customer store; import models from here."""

from crm_store.models.attachments import Attachment
from crm_store.models.base import Base, UTCDateTime, utcnow
from crm_store.models.campaigns import Campaign, CampaignDelivery
from crm_store.models.catalog import Product
from crm_store.models.conversations import Conversation, Handoff, Message
from crm_store.models.customers import ChannelIdentity, Customer, Interest
from crm_store.models.dialogue import DialogueEvent
from crm_store.models.enums import (
    AgentStatus,
    CampaignStatus,
    ConversationMode,
    DeliveryStatus,
    Direction,
    HandoffStatus,
    InterestSource,
    OrderStatus,
    ReturnStatus,
    SenderKind,
    StaffRole,
    TicketCategory,
    TicketKind,
    TicketPriority,
    TicketStatus,
)
from crm_store.models.links import LinkCode
from crm_store.models.notes import ConversationNote
from crm_store.models.orders import Order, OrderLine, ReturnRequest
from crm_store.models.segments import CustomerRfm, Segment
from crm_store.models.staff import AgentAvailability, AuditEntry, StaffUser
from crm_store.models.staff_auth import LoginThrottle, StaffSession
from crm_store.models.tickets import Ticket

__all__ = [
    "AgentAvailability", "AgentStatus", "Attachment", "AuditEntry", "Base", "Campaign", "CampaignDelivery", "CampaignStatus", "ChannelIdentity",
    "Conversation", "ConversationMode", "ConversationNote", "Customer", "CustomerRfm", "DeliveryStatus", "DialogueEvent", "Direction", "Handoff",
    "HandoffStatus", "Interest", "InterestSource", "LinkCode", "LoginThrottle", "Message", "Order", "OrderLine",
    "OrderStatus", "Product", "ReturnRequest", "ReturnStatus", "Segment", "SenderKind", "StaffRole",
    "StaffSession", "StaffUser", "Ticket", "TicketCategory", "TicketKind", "TicketPriority", "TicketStatus", "UTCDateTime",
    "utcnow",
]
