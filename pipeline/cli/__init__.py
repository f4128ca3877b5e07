"""sensorium.pipeline.cli."""
