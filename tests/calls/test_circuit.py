from flightdeck.calls.circuit import Circuit, CircuitState


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_and_admits_one_probe_after_cooldown() -> None:
    clock = Clock()
    circuit = Circuit(failures_to_open=3, cooldown=10, clock=clock)
    circuit.record_failure()
    circuit.record_failure()
    assert circuit.available()
    circuit.record_failure()
    assert circuit.state is CircuitState.OPEN and not circuit.available()
    clock.now += 10
    assert circuit.state is CircuitState.HALF_OPEN and circuit.available()
    circuit.on_send()  # the probe is in flight
    assert not circuit.available()
    circuit.record_success()
    assert circuit.state is CircuitState.CLOSED and circuit.available()


def test_failed_probe_reopens_for_a_full_cooldown() -> None:
    clock = Clock()
    circuit = Circuit(failures_to_open=1, cooldown=5, clock=clock)
    circuit.record_failure()
    clock.now += 5
    circuit.on_send()
    circuit.record_failure()
    assert circuit.state is CircuitState.OPEN
    clock.now += 4.9
    assert not circuit.available()


def test_success_resets_the_failure_count() -> None:
    circuit = Circuit(failures_to_open=2, cooldown=5, clock=Clock())
    circuit.record_failure()
    circuit.record_success()
    circuit.record_failure()
    assert circuit.state is CircuitState.CLOSED


def test_retry_after_defers_without_opening() -> None:
    clock = Clock()
    circuit = Circuit(failures_to_open=5, cooldown=5, clock=clock)
    circuit.record_failure(retry_after=2)
    assert circuit.deferred() and circuit.available()
    clock.now += 2
    assert not circuit.deferred()
