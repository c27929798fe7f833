"""Deployability: the stage config, the least-privilege policy, and a real
`chalice package --pkg-format terraform` (offline: no AWS credentials needed)."""
import ast
import json
import os
import pathlib
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text())


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    out = tmp_path_factory.mktemp("tf")
    env = dict(os.environ, AWS_DEFAULT_REGION="us-east-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
        env.pop(name, None)
    chalice = pathlib.Path(sys.executable).parent / "chalice"
    done = subprocess.run([str(chalice), "package", "--pkg-format", "terraform", "--stage", "dev", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads((out / "chalice.tf.json").read_text()), out / "deployment.zip"


def test_terraform_has_both_s3_notifications_on_the_photo_prefix(package):
    tf, _ = package
    bucket = CONFIG["stages"]["dev"]["environment_variables"]["PHOTO_BUCKET"]
    notification, = tf["resource"]["aws_s3_bucket_notification"].values()
    assert notification["bucket"] == bucket
    by_events = {tuple(f["events"]): f for f in notification["lambda_function"]}
    assert set(by_events) == {("s3:ObjectCreated:*",), ("s3:ObjectRemoved:*",)}
    assert all(f["filter_prefix"] == "usercontent/" for f in by_events.values())
    assert "index_photo" in by_events[("s3:ObjectCreated:*",)]["lambda_function_arn"]
    assert "remove_photo" in by_events[("s3:ObjectRemoved:*",)]["lambda_function_arn"]


def test_terraform_has_the_cognito_authorizer_on_every_api_route(package):
    tf, _ = package
    api, = tf["resource"]["aws_api_gateway_rest_api"].values()
    assert api["body"] == "${local.chalice_api_swagger}"
    swagger = json.loads(tf["locals"]["chalice_api_swagger"])
    (name, scheme), = swagger["securityDefinitions"].items()
    auth = scheme["x-amazon-apigateway-authorizer"]
    assert auth["type"] == "cognito_user_pools"
    assert auth["providerARNs"] == [CONFIG["stages"]["dev"]["environment_variables"]["USER_POOL_ARN"]]
    operations = [(path, method) for path, item in swagger["paths"].items() for method in item if method != "options"]
    assert sorted(operations) == sorted([
        ("/search", "post"), ("/photos", "get"), ("/photos/{photo_id}", "get"), ("/photos/{photo_id}", "delete"),
        ("/uploads", "post"), ("/photos/{photo_id}/faces", "get"), ("/faces", "delete"), ("/faces/opt-in", "post"),
        ("/faces/search", "post"), ("/faces/compare", "post"), ("/faces/{face_id}/photos", "get"),
        ("/faces/{face_id}/person", "put"), ("/faces/{face_id}/person", "delete"), ("/people", "get"),
        ("/people/{person_id}", "get"), ("/people/{person_id}", "patch"), ("/people/{person_id}/photos", "get"),
        ("/people/{person_id}/merge", "post"), ("/status", "get")] + PUBLIC)
    for path, method in operations:
        if (path, method) in PUBLIC:
            assert "security" not in swagger["paths"][path][method], (path, method)
        else:
            assert swagger["paths"][path][method]["security"] == [{name: []}], (path, method)


# The web page, its files and signing in (a token only ever comes with a password) have no
# authorizer: nobody has a token yet when they load the page.
PUBLIC = [("/", "get"), ("/web/{name}", "get"), ("/auth/signin", "post")]


def test_terraform_has_the_schedule_and_function_settings(package):
    tf, _ = package
    rule, = tf["resource"]["aws_cloudwatch_event_rule"].values()
    assert rule["schedule_expression"] == CONFIG["stages"]["dev"]["environment_variables"]["RECONCILE_SCHEDULE"]
    functions = tf["resource"]["aws_lambda_function"]
    assert functions["reconcile"]["timeout"] == 900
    assert functions["index_photo"]["environment"]["variables"]["PHOTO_BUCKET"].startswith("photo-search-dev")


def test_terraform_has_the_job_queue_its_dead_letter_queue_and_the_worker_limits(package, tmp_path):
    tf, _ = package
    mapping = tf["resource"]["aws_lambda_event_source_mapping"]["index_job-sqs-event-source"]
    env = CONFIG["stages"]["dev"]["environment_variables"]
    assert mapping["event_source_arn"].endswith(":" + env["JOBS_QUEUE_NAME"])
    assert mapping["batch_size"] == 1          # one bad message never retries another
    assert mapping["scaling_config"] == {"maximum_concurrency": int(env["INDEX_MAX_CONCURRENCY"])}
    sys.path.insert(0, str(ROOT / "tools"))
    import queues_tf
    queues_tf.main(["dev", str(tmp_path)])
    queues = json.loads((tmp_path / "queues.tf.json").read_text())["resource"]["aws_sqs_queue"]
    timeout = CONFIG["stages"]["dev"]["lambda_functions"]["index_job"]["lambda_timeout"]
    assert queues["jobs"]["name"] == env["JOBS_QUEUE_NAME"]
    assert queues["jobs"]["visibility_timeout_seconds"] >= 6 * timeout
    assert json.loads(queues["jobs"]["redrive_policy"]) == {
        "deadLetterTargetArn": "${aws_sqs_queue.jobs_dlq.arn}", "maxReceiveCount": int(env["QUEUE_MAX_RECEIVES"])}
    override = json.loads((tmp_path / "chalice_override.tf.json").read_text())
    assert set(override["resource"]["aws_lambda_event_source_mapping"]) == set(
        tf["resource"]["aws_lambda_event_source_mapping"])


def test_the_lambda_package_stays_small_and_holds_no_dev_or_model_dependencies(package):
    _, zip_path = package
    assert zip_path.stat().st_size < 10 * 1024 * 1024         # chalice's limit is 50 MB
    tops = {name.split("/")[0] for name in zipfile.ZipFile(zip_path).namelist()}
    assert {"app.py", "chalicelib", "opensearchpy", "requests_aws4auth", "PIL", "pillow_heif"} <= tops
    assert not tops & {"boto3", "botocore", "moto", "pytest", "grpc", "numpy", "onnxruntime", "rapidocr",
                       "mediapipe", "dlib", "cv2"}


def _actions(policy):
    return {a for s in policy["Statement"] for a in s["Action"]}


def test_the_policy_is_hand_written_and_least_privilege():
    stage = CONFIG["stages"]["dev"]
    assert stage["autogen_policy"] is False and stage["iam_policy_file"] == "policy-dev.json"
    policy = json.loads((ROOT / ".chalice" / "policy-dev.json").read_text())
    assert _actions(policy) == {
        "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "rekognition:DetectLabels", "rekognition:DetectText", "rekognition:DetectFaces",
        "rekognition:DetectModerationLabels", "rekognition:CompareFaces", "rekognition:CreateCollection",
        "rekognition:IndexFaces", "rekognition:SearchFaces", "rekognition:SearchFacesByImage", "rekognition:DeleteFaces",
        "es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut", "es:ESHttpDelete",
        "sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes", "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}
    assert not any("*" in a for a in _actions(policy))
    collection = [st for st in policy["Statement"] if "rekognition:IndexFaces" in st["Action"]][0]
    assert collection["Resource"] == ["arn:aws:rekognition:us-east-1:123456789012:collection/%s"
                                      % stage["environment_variables"]["FACE_COLLECTION"]]
    queue = [st for st in policy["Statement"] if "sqs:SendMessage" in st["Action"]][0]
    assert queue["Resource"] == ["arn:aws:sqs:us-east-1:123456789012:%s"
                                 % stage["environment_variables"]["JOBS_QUEUE_NAME"]]


def test_every_aws_api_the_code_calls_is_in_the_policy():
    """Each boto3 call in chalicelib maps to an allowed action (HEAD needs GetObject,
    presigned POST needs PutObject on the signer)."""
    calls = set()
    for path in (ROOT / "chalicelib").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) \
                    and node.value.attr == "client" and node.attr[0].islower():
                calls.add(node.attr)
    needed = {"head_object": "s3:GetObject", "get_object": "s3:GetObject", "put_object": "s3:PutObject",
              "delete_object": "s3:DeleteObject", "get_paginator": "s3:ListBucket",
              "generate_presigned_url": "s3:GetObject", "generate_presigned_post": "s3:PutObject",
              "detect_labels": "rekognition:DetectLabels", "detect_text": "rekognition:DetectText",
              "detect_faces": "rekognition:DetectFaces",
              "detect_moderation_labels": "rekognition:DetectModerationLabels",
              "create_collection": "rekognition:CreateCollection", "index_faces": "rekognition:IndexFaces",
              "search_faces": "rekognition:SearchFaces", "search_faces_by_image": "rekognition:SearchFacesByImage",
              "delete_faces": "rekognition:DeleteFaces", "compare_faces": "rekognition:CompareFaces",
              "send_message_batch": "sqs:SendMessage", "receive_message": "sqs:ReceiveMessage",
              "delete_message": "sqs:DeleteMessage", "change_message_visibility": "sqs:ChangeMessageVisibility",
              "get_queue_attributes": "sqs:GetQueueAttributes"}
    opensearch = {"get", "index", "create", "delete", "bulk", "search", "indices"}
    unknown = calls - set(needed) - opensearch
    assert not unknown, "add these calls to the policy and this table: %s" % unknown
    policy = json.loads((ROOT / ".chalice" / "policy-dev.json").read_text())
    assert {needed[c] for c in calls if c in needed} <= _actions(policy)
