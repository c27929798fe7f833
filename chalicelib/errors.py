"""Domain errors.  app.py turns them into HTTP answers; nothing else does."""


class PhotoSearchError(Exception):
    status_code = 500
    code = "InternalError"

    def __init__(self, message=None):
        super().__init__(message or self.__doc__.strip())
        self.message = message or self.__doc__.strip()


class ConfigurationError(PhotoSearchError):
    """The deployment is misconfigured."""


class Unauthorized(PhotoSearchError):
    """A valid token is required."""
    status_code = 401
    code = "Unauthorized"


class NotFound(PhotoSearchError):
    """No such photo."""
    status_code = 404
    code = "NotFound"


class BadRequest(PhotoSearchError):
    """The request is not valid."""
    status_code = 400
    code = "BadRequest"


class BackendUnavailable(PhotoSearchError):
    """A backend (index, storage or analysis) is not answering; try again."""
    status_code = 503
    code = "ServiceUnavailable"


class VersionConflict(PhotoSearchError):
    """The document changed since it was read (optimistic concurrency)."""
    status_code = 409
    code = "Conflict"


class Forbidden(PhotoSearchError):
    """The signed URL is invalid or has expired."""
    status_code = 403
    code = "Forbidden"


class PayloadTooLarge(PhotoSearchError):
    """The upload is larger than its URL allows."""
    status_code = 413
    code = "PayloadTooLarge"
