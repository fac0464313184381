"""The package of examples/offpath.py: `dispatch` is on the critical path
(quiet), `telemetry` is off it (busy, in a process of its own)."""
