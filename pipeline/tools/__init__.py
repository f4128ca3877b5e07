"""sensorium.pipeline.tools."""
