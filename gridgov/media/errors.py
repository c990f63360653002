"""The one error a photo upload can raise: bilingual, with a stable code per kind of refusal."""
from __future__ import annotations

from gridgov.errors import AppError


class InvalidPhoto(AppError):
    """A photo was refused; nothing of the request is stored.

    `code` names the kind (photo_too_large, photo_not_image, …) so clients can react without parsing
    the message; `details["filename"]` names the upload the person chose.
    """

    status, code = 400, "invalid_photo"

    def __init__(self, message_zh: str, message_en: str, code: str, *, status: int = 400,
                 filename: str | None = None):
        details = {"filename": filename} if filename else None
        super().__init__(message_zh, message_en, status=status, code=code, details=details)
