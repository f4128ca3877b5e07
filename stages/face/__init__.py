"""sensorium.stages.face."""
