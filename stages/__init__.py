"""sensorium.stages."""
