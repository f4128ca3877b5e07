"""sensorium.stages.gui."""
