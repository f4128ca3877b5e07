"""Request and response bodies of the REST API, one module per resource (they are its OpenAPI
schema: change them and the API changes)."""
