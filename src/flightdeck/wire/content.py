"""Content parts shared by the translators: images and files as data URLs, refusals by name.

Chat completions carries images as ``image_url`` parts (an https URL or a ``data:`` URL) and
PDFs as ``file`` parts (``file_data``: a ``data:`` URL); the other formats carry a media type
and base64 data, or a URL. Everything here raises ``InvalidRequest`` naming the field it
cannot carry.
"""

from __future__ import annotations

from typing import Any, NoReturn

from flightdeck.core.errors import InvalidRequest


def refuse(param: str, target: str, why: str = "") -> NoReturn:
    """Raise the 400 for a field the target format cannot carry."""
    reason = f": {why}" if why else ""
    raise InvalidRequest(f"'{param}' cannot be carried to {target}{reason}", param=param)


def split_data_url(url: str, param: str) -> tuple[str, str]:
    """``data:image/png;base64,AAAA`` -> (``image/png``, ``AAAA``)."""
    head, sep, data = url.partition(",")
    if not sep or not head.startswith("data:") or not head.endswith(";base64"):
        raise InvalidRequest(f"'{param}' must be an http(s) URL or a base64 data: URL", param=param)
    return head[5:-7], data


def data_url(media_type: str, data: str) -> str:
    return f"data:{media_type};base64,{data}"


def is_web_url(url: str) -> bool:
    return url.startswith(("https://", "http://"))


def text_of(content: Any, param: str, target: str) -> str:
    """The text of a chat ``content`` that must be plain text (a string or text parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for i, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text":
                refuse(f"{param}[{i}]", target, "only text parts fit here")
            out.append(str(part.get("text", "")))
        return "".join(out)
    raise InvalidRequest(f"'{param}' must be a string or an array of parts", param=param)


def check_only(
    body: dict[str, Any], allowed: frozenset[str], target: str, prefix: str = ""
) -> None:
    """Refuse (400) the first key of ``body`` that is not in ``allowed``."""
    for key in body:
        if key not in allowed:
            refuse(f"{prefix}{key}", target)


def harmless(body: dict[str, Any], key: str) -> bool:
    """Whether a chat parameter holds its default value (so leaving it out changes nothing)."""
    value = body.get(key)
    defaults: dict[str, tuple[Any, ...]] = {
        "n": (None, 1),
        "logprobs": (None, False),
        "presence_penalty": (None, 0, 0.0),
        "frequency_penalty": (None, 0, 0.0),
        "stream_options": (None,),
        "parallel_tool_calls": (None, True),
        "store": (None, False),
        "service_tier": (None, "auto"),
    }
    if key == "stream_options":
        return value is None or isinstance(value, dict)
    return value in defaults.get(key, (None,))
