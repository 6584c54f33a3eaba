"""Scenarios: what the emulated agent answers, as a Script of timed events."""
