"""sensorium.deploy."""
