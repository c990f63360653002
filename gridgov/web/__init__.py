"""Blueprints for pages people use; each parses the request, calls a service, renders."""
