"""sensorium.stages.embed."""
