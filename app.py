"""photo-search: routes, S3 event handlers and the reconciliation schedule.

Thin on purpose: requests and events become chalicelib calls, domain errors
become HTTP answers.  Everything else lives in chalicelib/.
"""
import functools
import time

from chalice import BadRequestError, Chalice, CognitoUserPoolAuthorizer, Response

from chalicelib import components, logs, photos, settings
from chalicelib.auth import caller_from_context
from chalicelib.errors import PhotoSearchError
from chalicelib.pipeline import events, reconcile as reconciliation

app = Chalice(app_name="photo-search")

BUCKET = settings.declared("PHOTO_BUCKET", "photo-search-bucket-unset")
authorizer = CognitoUserPoolAuthorizer(
    "PhotoSearchUserPool",
    provider_arns=[settings.declared("USER_POOL_ARN",
                                     "arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_UNSET")])


def api(fn):
    """Resolve the caller, call the route, turn domain errors into JSON answers."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            caller = caller_from_context(app.current_request.context)
            return fn(caller, *args, **kwargs)
        except PhotoSearchError as e:
            if e.status_code >= 500:
                logs.event("request", "error", photo_id=kwargs.get("photo_id"), error=e.code, message=e.message)
            return Response({"error": e.code, "message": e.message}, status_code=e.status_code)
    return wrapper


def _json_body():
    try:
        return app.current_request.json_body or {}
    except BadRequestError:
        return None


def _query(name):
    return (app.current_request.query_params or {}).get(name)


@app.route("/search", methods=["POST"], authorizer=authorizer)
@api
def search_by_header(caller):
    body = _json_body() or {}
    q = app.current_request.headers.get("search-key", body.get("q"))
    return photos.search(components.services(), caller, q,
                         limit=body.get("limit", _query("limit")), cursor=body.get("cursor", _query("cursor")))


@app.route("/photos", methods=["GET"], authorizer=authorizer)
@api
def search_photos(caller):
    return photos.search(components.services(), caller, _query("q"), limit=_query("limit"), cursor=_query("cursor"))


@app.route("/photos/{photo_id}", methods=["GET"], authorizer=authorizer)
@api
def get_photo(caller, photo_id):
    return photos.get(components.services(), caller, photo_id)


@app.route("/photos/{photo_id}", methods=["DELETE"], authorizer=authorizer)
@api
def delete_photo(caller, photo_id):
    return photos.delete(components.services(), caller, photo_id)


@app.route("/uploads", methods=["POST"], authorizer=authorizer)
@api
def create_upload(caller):
    return Response(photos.create_upload(components.services(), caller, _json_body()), status_code=201)


def _deadline(context):
    """When retries must stop: before Lambda's own timeout, with a margin."""
    remaining = context.get_remaining_time_in_millis() / 1000.0
    return time.monotonic() + remaining - min(5.0, remaining * 0.2)


@app.on_s3_event(bucket=BUCKET, events=["s3:ObjectCreated:*"], prefix="usercontent/")
def index_photo(event):
    return events.handle(components.services(), event.to_dict(), "ObjectCreated:", _deadline(event.context))


@app.on_s3_event(bucket=BUCKET, events=["s3:ObjectRemoved:*"], prefix="usercontent/")
def remove_photo(event):
    return events.handle(components.services(), event.to_dict(), "ObjectRemoved:")


@app.schedule(settings.declared("RECONCILE_SCHEDULE", "rate(1 hour)"))
def reconcile(event):
    context = event.context
    return reconciliation.reconcile(components.services(),
                                    time_left=lambda: context.get_remaining_time_in_millis() / 1000.0)
