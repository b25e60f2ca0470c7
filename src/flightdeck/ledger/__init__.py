"""The usage ledger: one record per request, written off the request path, never lost."""

from flightdeck.ledger.queries import GroupBy, UsageQuery, UsageTotals, month_spend, query_usage
from flightdeck.ledger.record import UsageRecord
from flightdeck.ledger.spool import Spool
from flightdeck.ledger.writer import LedgerWriter

__all__ = [
    "GroupBy",
    "LedgerWriter",
    "Spool",
    "UsageQuery",
    "UsageRecord",
    "UsageTotals",
    "month_spend",
    "query_usage",
]
