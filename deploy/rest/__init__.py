"""The REST service: pydantic schemas, errors, middleware and routes over a service object,
assembled by :func:`sensorium.deploy.rest.app.create_app`."""
