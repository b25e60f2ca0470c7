"""The ``azure-openai`` provider: deployment URLs, ``api-version``, key or bearer token."""

from __future__ import annotations

from flightdeck.core.errors import UpstreamError
from flightdeck.core.settings import ModelDeployment
from flightdeck.providers.openai_compat import OpenAIProvider

DEFAULT_API_VERSION = "2024-10-21"


class AzureOpenAIProvider(OpenAIProvider):
    """``{base_url}/openai/deployments/{deployment}/{path}?api-version=...``."""

    kind = "azure-openai"

    def __init__(self, deployment: ModelDeployment) -> None:
        if not deployment.base_url:
            raise UpstreamError(f"model {deployment.name!r}: provider azure-openai needs base_url")
        super().__init__(deployment)
        name = deployment.deployment or deployment.upstream_model
        version = deployment.api_version or DEFAULT_API_VERSION
        self._prefix = f"{self.base_url}/openai/deployments/{name}"
        self._query = f"?api-version={version}"

    def auth_headers(self) -> dict[str, str]:
        key = self.deployment.api_key
        if key is None:
            return {}
        if self.deployment.auth == "bearer":
            return {"Authorization": f"Bearer {key.get_secret_value()}"}
        return {"api-key": key.get_secret_value()}

    def url(self, path: str) -> str:
        return f"{self._prefix}/{path}{self._query}"
