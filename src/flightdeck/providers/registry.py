"""The provider registry: built-ins first, then the ``flightdeck.providers`` entry-point group."""

from __future__ import annotations

from importlib.metadata import entry_points

from flightdeck.core.errors import ConfigError
from flightdeck.providers.anthropic import AnthropicProvider
from flightdeck.providers.azure import AzureOpenAIProvider
from flightdeck.providers.base import Provider
from flightdeck.providers.gemini import GeminiProvider
from flightdeck.providers.local_embeddings import LocalEmbeddingsProvider
from flightdeck.providers.local_extractive import LocalExtractiveProvider
from flightdeck.providers.openai_compat import OpenAIProvider

ENTRY_POINT_GROUP = "flightdeck.providers"
BUILTINS: tuple[type[Provider], ...] = (
    OpenAIProvider,
    AzureOpenAIProvider,
    AnthropicProvider,
    GeminiProvider,
    LocalEmbeddingsProvider,
    LocalExtractiveProvider,
)


class ProviderRegistry:
    """Maps a config's ``provider = "..."`` to the class that implements it."""

    def __init__(self) -> None:
        self._kinds: dict[str, type[Provider]] = {}

    @classmethod
    def default(cls) -> ProviderRegistry:
        registry = cls()
        for provider in BUILTINS:
            registry.register(provider)
        registry.load_entry_points()
        return registry

    def register(self, provider: type[Provider]) -> None:
        existing = self._kinds.get(provider.kind)
        if existing is not None and existing is not provider:
            raise ConfigError(f"provider {provider.kind!r} is registered twice")
        self._kinds[provider.kind] = provider

    def load_entry_points(self) -> None:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                provider = ep.load()
            except Exception as exc:  # a broken plugin names itself, and does not stop start-up
                raise ConfigError(f"provider plugin {ep.name!r} failed to load: {exc}") from exc
            if not (isinstance(provider, type) and issubclass(provider, Provider)):
                raise ConfigError(f"provider plugin {ep.name!r} is not a Provider subclass")
            if provider.kind != ep.name:
                raise ConfigError(f"provider plugin {ep.name!r} declares kind {provider.kind!r}")
            self.register(provider)

    def get(self, kind: str) -> type[Provider]:
        try:
            return self._kinds[kind]
        except KeyError:
            known = ", ".join(sorted(self._kinds))
            raise ConfigError(f"unknown provider {kind!r} (known: {known})") from None

    def kinds(self) -> list[str]:
        return sorted(self._kinds)
