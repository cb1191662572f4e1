"""The SMS door's engine: the one path every text takes (service), where texts go (providers), and the
texts held for later (held)."""

from .providers import Provider, ProviderRefused, ProviderUnavailable, Sent, make_provider
from .service import MAX_BODY, SmsOutcome, SmsRequest, SmsService

__all__ = [
    "MAX_BODY",
    "Provider",
    "ProviderRefused",
    "ProviderUnavailable",
    "Sent",
    "SmsOutcome",
    "SmsRequest",
    "SmsService",
    "make_provider",
]
