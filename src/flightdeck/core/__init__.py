"""Settings, the error tree and small shared values; depends on nothing else in Flightdeck."""
