"""When a marketing message may go: the frequency cap and the quiet hours (policy/shop.yml
`marketing:`), the same for campaigns and new-product notices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.models import CampaignDelivery, DeliveryStatus
from crm_store.services import campaigns
from kefu_config.policy import load_policy


@dataclass(frozen=True)
class SendPolicy:
    """The cap and quiet hours, in the shop's time zone."""

    cap_days: float
    quiet_start: time
    quiet_end: time
    tz: Any  # a ZoneInfo

    @classmethod
    def from_shop(cls) -> SendPolicy:
        policy = load_policy()
        start, end = policy.marketing.quiet_span()
        return cls(policy.marketing.cap_days, start, end, policy.tz)

    def quiet(self, now: datetime) -> bool:
        local = now.astimezone(self.tz).time()
        if self.quiet_start < self.quiet_end:
            return self.quiet_start <= local < self.quiet_end
        return local >= self.quiet_start or local < self.quiet_end  # spans midnight

    def quiet_ends(self, now: datetime) -> datetime:
        """The first moment after `now` outside the quiet hours (`now` if not quiet)."""
        if not self.quiet(now):
            return now
        local = now.astimezone(self.tz)
        end = datetime.combine(local.date(), self.quiet_end, tzinfo=self.tz)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.quiet_end,
                                   tzinfo=self.tz)
        return end


def capped(session: Session, *, customer_id: int, now: datetime, cap_days: float) -> bool:
    """Did this customer get a campaign or notification within the cap?"""
    since = now - timedelta(days=cap_days)
    return session.scalar(campaigns.with_message(select(CampaignDelivery.id)).where(
        CampaignDelivery.customer_id == customer_id, CampaignDelivery.created_at > since,
        campaigns.delivery_state() != DeliveryStatus.FAILED).limit(1)) is not None
