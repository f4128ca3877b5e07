"""Live streams as a managed resource: add and remove camera/URL/file streams while the service runs.

Each stream runs the stream engine (the same stage classes and runner as ``sensorium run``) in
a Ray actor of its own (:mod:`.runner`), which owns the stream's stage actors, so killing it
releases them. :mod:`.manager` keeps the streams (a plain class in the ``--local`` process, or
behind the ``streams`` Serve deployment, :mod:`.deployment`); :mod:`.client` gives the REST
routes one async interface to either. What a client may ask for is checked first, by the
operator's :class:`~.policy.StreamPolicy`, before any actor starts.

This package's ``__init__`` imports nothing, so ``deploy/settings.py`` can read the policy
without importing Ray.
"""
