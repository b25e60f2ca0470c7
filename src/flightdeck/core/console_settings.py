"""``[console]``: the operator's console at ``/console`` (see docs/operations.md)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ConsoleSettings(BaseModel):
    """How the console polls, and where a trace id links to."""

    model_config = ConfigDict(extra="forbid")

    refresh_seconds: float = Field(
        10.0, ge=1, le=3600, description="how often the page polls for new data"
    )
    trace_url: str = Field(
        "",
        description=(
            "a trace viewer's URL with {trace_id} in it (e.g. Jaeger's "
            "http://jaeger:16686/trace/{trace_id}); empty: trace ids are shown, not linked"
        ),
    )

    @field_validator("trace_url")
    @classmethod
    def _a_web_link_with_the_id(cls, value: str) -> str:
        if value and not (value.startswith(("http://", "https://")) and "{trace_id}" in value):
            raise ValueError("must be an http(s) URL containing {trace_id}")
        return value
