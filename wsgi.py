"""WSGI entry point for gunicorn and `flask --app wsgi`."""
from gridgov import create_app

app = create_app()
