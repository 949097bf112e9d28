"""SMS providers. Importing the package registers every built-in provider."""

from providers import gsm_modem, http, script, sipgate, smpp, smtp  # noqa: F401  (registers)
from providers.base import Provider, ProviderContext, ProviderOptions, SendError, SendResult
from providers.registry import OptionsInvalid, UnknownProvider, registry

__all__ = [
    "OptionsInvalid",
    "Provider",
    "ProviderContext",
    "ProviderOptions",
    "SendError",
    "SendResult",
    "UnknownProvider",
    "registry",
]
