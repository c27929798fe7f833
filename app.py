"""photo-search: routes, S3 event handlers and the reconciliation schedule.

Thin on purpose: requests and events become chalicelib calls, domain errors
become HTTP answers.  Everything else lives in chalicelib/.
"""
import functools
import time

from chalice import BadRequestError, Chalice, CognitoUserPoolAuthorizer, Response

from chalicelib import auth, baseurl, components, logs, people, photos, settings, webpage
from chalicelib.errors import BadRequest, NotFound, PhotoSearchError
from chalicelib.jobs import worker
from chalicelib.pipeline import events, reconcile as reconciliation

app = Chalice(app_name="photo-search")

BUCKET = settings.declared("PHOTO_BUCKET", "photo-search-bucket-unset")
# On AWS, API Gateway verifies Cognito tokens.  The local stage (AUTH_MODE=local) has no
# authorizer in front: the app verifies its own tokens (chalicelib.auth), and chalice
# local's simulated Cognito authorizer would crash on a malformed Authorization header.
# AUTH_MODE=jwks has no authorizer either: the app verifies Cognito tokens against the pool's keys.
authorizer = None if settings.declared("AUTH_MODE", "cognito") in ("local", "jwks") else CognitoUserPoolAuthorizer(
    "PhotoSearchUserPool",
    provider_arns=[settings.declared("USER_POOL_ARN",
                                     "arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_UNSET")])


def api(fn):
    """Resolve the caller, call the route, turn domain errors into JSON answers."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return _answer(lambda: fn(auth.caller(app.current_request), *args, **kwargs), kwargs.get("photo_id"))
    return wrapper


RETRY_AFTER_SECONDS = 5    # sent with every 503: when a client may try again


def _answer(call, photo_id=None):
    try:
        with baseurl.using(app.current_request.headers):    # the base of the local stage's signed URLs
            return call()
    except PhotoSearchError as e:
        if e.status_code >= 500:
            logs.event("request", "error", photo_id=photo_id, error=e.code, message=e.message)
        retry_after = getattr(e, "retry_after", RETRY_AFTER_SECONDS if e.status_code == 503 else None)
        headers = {"Retry-After": str(retry_after)} if retry_after else {}
        return Response({"error": e.code, "message": e.message}, status_code=e.status_code, headers=headers)


def _json_body():
    try:
        return app.current_request.json_body or {}
    except (BadRequestError, RecursionError):     # not JSON, or nested past the parser's depth
        return None


def _query(name):
    return (app.current_request.query_params or {}).get(name)


@app.route("/search", methods=["POST"], authorizer=authorizer)
@api
def search_by_header(caller):
    body = _json_body() or {}
    if not isinstance(body, dict):
        raise BadRequest('send a JSON object, e.g. {"q": "dog", "limit": 20}, or no body')
    q = app.current_request.headers.get("search-key", body.get("q"))
    filters = body.get("filters") if isinstance(body.get("filters"), dict) else app.current_request.query_params
    return photos.search(components.services(), caller, q, limit=body.get("limit", _query("limit")),
                         cursor=body.get("cursor", _query("cursor")), filters=filters,
                         sort=body.get("sort", _query("sort")))


@app.route("/photos", methods=["GET"], authorizer=authorizer)
@api
def search_photos(caller):
    return photos.search(components.services(), caller, _query("q"), limit=_query("limit"), cursor=_query("cursor"),
                         filters=app.current_request.query_params, sort=_query("sort"))


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


@app.route("/status", methods=["GET"], authorizer=authorizer)
@api
def library_status(caller):
    return photos.status(components.services(), caller)


@app.route("/photos/{photo_id}/faces", methods=["GET"], authorizer=authorizer)
@api
def photo_faces(caller, photo_id):
    return people.photo_faces(components.services(), caller, photo_id)


@app.route("/faces", methods=["DELETE"], authorizer=authorizer)
@api
def forget_faces(caller):
    return people.forget(components.services(), caller)


@app.route("/faces/opt-in", methods=["POST"], authorizer=authorizer)
@api
def opt_in_faces(caller):
    return people.opt_in(components.services(), caller)


@app.route("/faces/search", methods=["POST"], authorizer=authorizer)
@api
def search_faces(caller):
    return people.search_faces(components.services(), caller, _json_body())


@app.route("/faces/compare", methods=["POST"], authorizer=authorizer)
@api
def compare_faces(caller):
    return people.compare_faces(components.services(), caller, _json_body())


@app.route("/faces/{face_id}/photos", methods=["GET"], authorizer=authorizer)
@api
def face_photos(caller, face_id):
    return people.face_photos(components.services(), caller, face_id, _query("threshold"), _query("limit"))


@app.route("/faces/{face_id}/person", methods=["PUT"], authorizer=authorizer)
@api
def move_face(caller, face_id):
    return people.move_face(components.services(), caller, face_id, _json_body())


@app.route("/faces/{face_id}/person", methods=["DELETE"], authorizer=authorizer)
@api
def not_this_person(caller, face_id):
    return people.not_this_person(components.services(), caller, face_id)


@app.route("/people", methods=["GET"], authorizer=authorizer)
@api
def list_people(caller):
    return people.list_people(components.services(), caller)


@app.route("/people/{person_id}", methods=["GET"], authorizer=authorizer)
@api
def get_person(caller, person_id):
    return people.get_person(components.services(), caller, person_id)


@app.route("/people/{person_id}", methods=["PATCH"], authorizer=authorizer)
@api
def update_person(caller, person_id):
    return people.update_person(components.services(), caller, person_id, _json_body())


@app.route("/people/{person_id}/photos", methods=["GET"], authorizer=authorizer)
@api
def person_photos(caller, person_id):
    return people.person_photos(components.services(), caller, person_id, _query("limit"), _query("cursor"),
                                _query("sort"))


@app.route("/people/{person_id}/merge", methods=["POST"], authorizer=authorizer)
@api
def merge_people(caller, person_id):
    return people.merge_people(components.services(), caller, person_id, _json_body())


# ---- the web page (chalicelib/web/, chalicelib/webpage.py) and signing in: no authorizer ----

def _web(answer):
    """A page or asset answer (status, body, headers), or 404 for a name that is not one."""
    def serve():
        result = answer()
        if result is None:
            raise NotFound("no such file")
        status, body, headers = result
        return Response(body=body, headers=headers, status_code=status)
    return _answer(serve)


@app.route("/", methods=["GET"])
def web_page():
    request = app.current_request
    return _web(lambda: webpage.page(components.storage(), request.context, request.headers.get("if-none-match")))


@app.route("/web/{name}", methods=["GET"])
def web_asset(name):
    request = app.current_request
    return _web(lambda: webpage.asset(components.storage(), name, _query("v"), request.headers.get("if-none-match")))


@app.route("/auth/signin", methods=["POST"])
def sign_in():
    request = app.current_request
    return _answer(lambda: auth.sign_in(_json_body(), auth.client_address(request)))


def get_file():
    def serve():
        data, content_type = photos.serve_file(components.services(), app.current_request.query_params)
        return Response(body=data, headers={"Content-Type": content_type}, status_code=200)
    return _answer(serve)


def put_file():
    request = app.current_request
    return _answer(lambda: Response(photos.receive_upload(
        components.services(), request.query_params, request.raw_body, request.headers.get("content-type")),
        status_code=201))


# The local stage's signed URLs: the app serves and receives files as S3 would.  Declared
# only when the stage stores photos on disk (never on AWS).  No authorizer: the URL's
# signature is the authorization.
if settings.declared("STORAGE_BACKEND", "s3") == "disk":
    app.route("/files", methods=["GET"])(get_file)
    app.route("/files", methods=["PUT"], content_types=list(settings.UPLOAD_CONTENT_TYPES) + [
        "application/octet-stream"])(put_file)
    # `chalice local` then builds a hardened server: a deep listen backlog, requests judged on
    # their headers before any body is read (chalicelib/localhttp.py).
    from chalicelib import localhttp
    localhttp.install()


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


# The analysis: one SQS message per photo (batch size 1: chalice 1.34 cannot ask for partial
# batch responses, and one bad message must not retry others), as many at once as the
# Rekognition quota allows (INDEX_MAX_CONCURRENCY; README: what to tune).
@app.on_sqs_message(queue=settings.declared("JOBS_QUEUE_NAME", "photo-search-jobs"), batch_size=1,
                    maximum_concurrency=int(settings.declared("INDEX_MAX_CONCURRENCY", "10")))
def index_job(event):
    return worker.handle_sqs_event(components.services(), event.to_dict(), _deadline(event.context))


@app.schedule(settings.declared("RECONCILE_SCHEDULE", "rate(1 hour)"))
def reconcile(event):
    context = event.context
    return reconciliation.reconcile(components.services(),
                                    time_left=lambda: context.get_remaining_time_in_millis() / 1000.0)
