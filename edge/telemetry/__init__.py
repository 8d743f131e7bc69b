"""Fleet telemetry: aggregated, non-identifying figures and health of this booth, published over MQTT.

figures.py turns LiveState (and the monitor's snapshot) into the payloads; mqtt.py publishes them.
Topic layout and payloads: docs/fleet.md.
"""
