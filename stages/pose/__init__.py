"""sensorium.stages.pose: body keypoints with sigma per coordinate."""
