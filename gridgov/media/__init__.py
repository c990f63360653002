"""Photos attached to events: intake (validation by content), storage (content-addressed files)
and the route that serves them to people who may see the event."""
from gridgov.media.errors import InvalidPhoto
from gridgov.media.intake import PhotoCandidate, inspect_photo, inspect_photos
from gridgov.media.storage import StoredFile, remove_files, staged_photos, store_photos

__all__ = ["InvalidPhoto", "PhotoCandidate", "StoredFile", "inspect_photo", "inspect_photos",
           "remove_files", "staged_photos", "store_photos"]
