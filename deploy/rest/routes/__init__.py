"""The HTTP surface, one router per resource: ``agent`` (``/v1/agent/act``), ``perceive``
(``/v1/perceive``) and ``ops`` (health, metrics)."""
