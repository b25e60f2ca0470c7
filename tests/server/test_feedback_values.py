"""``POST /v1/feedback`` bodies: what is refused, with the parameter named (the parsing alone;
the route is tested end to end in tests/experiments)."""

from __future__ import annotations

import pytest

from flightdeck.core.errors import InvalidRequest
from flightdeck.server.feedback import feedback_values

ID = "search-0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"response_id": ID, "name": "click", "value": -1e300}, "value"),  # broke the analysis
        ({"response_id": ID, "name": "click", "value": 1e10}, "value"),
        ({"response_id": ID, "rating": 1e12}, "rating"),
        ({"response_id": ID, "name": "thumbs", "value": 7}, "name"),  # thumbs: its own field
        ({"response_id": ID, "name": "rating", "value": 7}, "name"),
        ({"response_id": ID, "thumbs": "sideways"}, "thumbs"),
        ({"response_id": ID, "name": "click", "value": float("nan")}, "value"),
    ],
)
def test_bad_values_are_refused_naming_the_parameter(body: dict[str, object], param: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        feedback_values(body)
    assert refused.value.param == param


def test_values_within_bounds_are_kept() -> None:
    body = {"response_id": ID, "thumbs": "up", "rating": 4, "name": "click", "value": 1e9}
    assert feedback_values(body) == (ID, [("thumbs", 1.0), ("rating", 4.0), ("click", 1e9)])
