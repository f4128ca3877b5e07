"""The commands that need the REST layer: ``serve`` and ``agent``."""
