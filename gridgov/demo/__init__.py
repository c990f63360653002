"""The demo county: areas, departments, categories, users and events for trying gridgov out."""
