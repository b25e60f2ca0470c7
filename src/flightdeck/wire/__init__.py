"""Wire-format translation: every external API to and from the internal chat-completions model.

One module per external format, each with pure functions for requests and replies, and stream
translators that are small state machines (events in, events out), shared by inbound routes
and outbound providers:

    anthropic.py, anthropic_messages.py, anthropic_stream.py    Anthropic Messages API
    gemini.py, gemini_stream.py                                 Gemini generateContent
    responses.py, responses_items.py, responses_stream.py       OpenAI Responses API
    chat.py     the internal model (chat completions + the fields it lacks), assembly, usage
    sse.py      server-sent events from and to bytes
    content.py  content parts shared by the translators; ``refuse`` (the 400 naming a field)

Chat-completions passthrough never comes here: the gateway forwards those bytes untouched.
"""

from flightdeck.wire.anthropic_stream import AnthropicToChat, ChatToAnthropic
from flightdeck.wire.chat import (
    ChatAssembler,
    FromChat,
    Notes,
    ToChat,
    Usage,
    assemble,
    completion_chunks,
)
from flightdeck.wire.gemini_stream import ChatToGemini, GeminiToChat
from flightdeck.wire.responses_stream import ChatToResponses, ResponsesToChat
from flightdeck.wire.sse import Event, IncompleteEvent, SSEDecoder

__all__ = [
    "AnthropicToChat",
    "ChatAssembler",
    "ChatToAnthropic",
    "ChatToGemini",
    "ChatToResponses",
    "Event",
    "FromChat",
    "GeminiToChat",
    "IncompleteEvent",
    "Notes",
    "ResponsesToChat",
    "SSEDecoder",
    "ToChat",
    "Usage",
    "assemble",
    "completion_chunks",
]
