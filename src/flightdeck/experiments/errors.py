"""Errors of experiments (a branch of ``flightdeck.core.errors.FlightdeckError``).

FlightdeckError
+-- RequestError
    +-- InvalidRequest
        +-- ExperimentError     a definition, a result file or an analysis input is
                                invalid; the message names the field (400)
"""

from __future__ import annotations

from flightdeck.core.errors import InvalidRequest


class ExperimentError(InvalidRequest):
    """An experiment definition or analysis input is invalid; the message names the problem."""

    code = "invalid_experiment"
