"""Settings for gridgov, read from the environment (see ../shared/DESIGN.md, "Public interfaces")."""
from config.settings import Settings, load_settings

__all__ = ["Settings", "load_settings"]
