"""Intake: gated, minimising, lossless collection into separated identity and content zones."""

from linkhaven.intake.deliveries import (
    Delivery,
    current_deliveries,
    delivery_status,
    export_quarantine,
    quarantine_summary,
)
from linkhaven.intake.gates import (
    add_agreement,
    list_agreements,
    list_notices,
    notice_versions,
    publish_notice,
    registered_agreements,
)
from linkhaven.intake.load import IntakeResult, intake_file, take_in

__all__ = [
    "Delivery",
    "IntakeResult",
    "add_agreement",
    "current_deliveries",
    "delivery_status",
    "export_quarantine",
    "intake_file",
    "list_agreements",
    "list_notices",
    "notice_versions",
    "publish_notice",
    "quarantine_summary",
    "registered_agreements",
    "take_in",
]
