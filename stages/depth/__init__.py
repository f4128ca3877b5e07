"""sensorium.stages.depth."""
