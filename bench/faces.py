"""Benchmark of faces and people on the local engine.

    ./dev bench-faces [--orders 5] [--faces 10000] [--queries 200]

1. Verification: every pair of the labelled face photos (Obama x5, Biden, Grace Hopper,
   Eileen Collins, Tom Hanks, and the six people of a group photo, cropped apart) and of
   their augmented copies (a crop, two rescales, darker, brighter) is judged same/different
   at FACE_MATCH_THRESHOLD and at PEOPLE_MATCH_THRESHOLD.
2. Grouping: the same faces arrive one by one, in several random orders, through the real
   grouping code (SQLite face store, embedding matcher); no person may mix two real people,
   and each real person's faces should end up in one group.
3. Latency of GET /faces/{face_id}/photos (chalicelib.people.face_photos, the route's
   whole work) with --faces faces and photos in a fresh embedded index (SQLite), after
   one warm-up call.
Prints tables.  Photos come from registry packages (tools/fetch_test_images.py).
"""
import argparse
import io
import itertools
import os
import random
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("LOG_LEVEL", "WARNING")              # one JSON line per grouping step otherwise
os.environ.setdefault("ANALYSIS_FEATURES", "labels,faces")  # face indexing needs the faces feature

from PIL import Image, ImageEnhance  # noqa: E402

from chalicelib import settings  # noqa: E402
from chalicelib.faces import similarity  # noqa: E402

TESTDATA = os.path.join(ROOT, "var", "testdata")
LABELLED = {"obama": ["obama.jpg", "obama2.jpg", "obama3.jpg", "obama_partial_face.jpg", "obama_partial_face2.jpg"],
            "biden": ["biden.jpg"], "hopper": ["hopper.jpg"], "collins": ["astronaut.png"],
            "hanks": ["tom_hanks.png"]}
# The group photo's six people, one crop each (left, top, right, bottom in its 1280 px frame).
GROUP = {"group-1": (0, 210, 250, 470), "group-2": (240, 85, 430, 330), "group-3": (425, 200, 640, 440),
         "group-4": (710, 270, 925, 500), "group-5": (850, 0, 1080, 260), "group-6": (1080, 210, 1280, 470)}


def progress(msg):
    print(msg, file=sys.stderr, flush=True)


def variants(img):
    """The photo and its augmented copies: a crop, rescaled to 400 and 1000 px, darker, brighter."""
    w, h = img.size
    out = {"original": img, "crop": img.crop((w // 10, h // 12, w - w // 10, h - h // 8))}
    for side in (400, 1000):
        scale = side / max(w, h)
        out["scale%d" % side] = img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BICUBIC)
    out["dark"] = ImageEnhance.Brightness(img).enhance(0.6)
    out["bright"] = ImageEnhance.Brightness(img).enhance(1.5)
    return out


def photos():
    group = Image.open(os.path.join(TESTDATA, "insightface_t1.jpg")).convert("RGB")
    for person, names in LABELLED.items():
        for name in names:
            yield person, name, Image.open(os.path.join(TESTDATA, name)).convert("RGB")
    for person, box in GROUP.items():
        yield person, "insightface_t1.jpg" + str(box), group.crop(box)


def encode(img):
    out = io.BytesIO()
    img.save(out, "JPEG", quality=92)
    return out.getvalue()


def embed_all():
    from chalicelib.faces.local import _vectors
    faces, missed = [], []
    items = [(p, n, v, im) for p, n, img in photos() for v, im in variants(img).items()]
    for i, (person, name, variant, img) in enumerate(items, 1):
        found = _vectors({"bytes": encode(img)})
        if found:
            faces.append((person, "%s/%s" % (name, variant), found[0][1]))
        else:
            missed.append("%s/%s" % (name, variant))
        if i % 10 == 0 or i == len(items):
            progress("  embedded %d/%d images" % (i, len(items)))
    return faces, missed, len(items)


def verification(faces, threshold):
    import numpy as np
    same = diff = wrong_same = wrong_diff = 0
    low_same, high_diff = 100.0, 0.0
    for (p1, _, v1), (p2, _, v2) in itertools.combinations(faces, 2):
        sim = similarity(float(np.linalg.norm(np.asarray(v1) - np.asarray(v2))))
        if p1 == p2:
            same += 1
            wrong_same += sim < threshold
            low_same = min(low_same, sim)
        else:
            diff += 1
            wrong_diff += sim >= threshold
            high_diff = max(high_diff, sim)
    return {"same": same, "diff": diff, "false_rejects": wrong_same, "false_accepts": wrong_diff,
            "accuracy": 100.0 * (same + diff - wrong_same - wrong_diff) / (same + diff),
            "lowest_same": low_same, "highest_diff": high_diff}


def grouping(faces, seed):
    from chalicelib.faces import face_id
    from chalicelib.faces.grouping import group_faces
    from chalicelib.faces.local import EmbeddingMatcher
    from chalicelib.faces.sqlite import SQLiteFaceStore
    order = list(faces)
    random.Random(seed).shuffle(order)
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteFaceStore(os.path.join(tmp, "faces.sqlite3"))
        store.ensure()
        matcher = EmbeddingMatcher(store)
        truth = {}
        for i, (person, name, vector) in enumerate(order):
            pid = "%032x" % i
            record = {"face_id": face_id(pid, "e", 1), "owner": "bench", "photo_id": pid, "n": 1,
                      "box": {"width": 0.3, "height": 0.3, "left": 0.3, "top": 0.3}, "confidence": 99.0,
                      "crop_key": None, "person_id": None, "assigned_by": None, "rejected": [], "grouped": False,
                      "matcher_id": None, "created_at": "2026-11-23T00:00:00Z", "embedding": vector}
            store.put_faces([record])
            group_faces(store, matcher, [record])       # as the pipeline does after each photo
            truth[record["face_id"]] = person
        groups = {}
        for face in store.faces("bench"):
            if face.get("person_id"):
                groups.setdefault(face["person_id"], []).append(truth[face["face_id"]])
    mixed = sum(1 for members in groups.values() if len(set(members)) > 1)
    counts = {}
    for person in truth.values():
        counts[person] = counts.get(person, 0) + 1
    together = total = 0
    for person, n in counts.items():
        if n < 2:
            continue
        largest = max([m.count(person) for m in groups.values()] or [0])
        together += largest
        total += n
    return {"people": len(groups), "mixed": mixed, "together": 100.0 * together / total if total else 100.0}


def latency(n_faces, queries):
    import numpy as np
    from chalicelib import people
    from chalicelib.auth import Caller
    from chalicelib.faces import face_id
    from chalicelib.faces.local import EmbeddingMatcher
    from chalicelib.faces.sqlite import SQLiteFaceStore
    from chalicelib.index import documents
    from chalicelib.index.sqlite import SQLiteIndex
    from chalicelib.keys import photo_id
    from chalicelib.pipeline import Services
    from chalicelib.storage import ObjectInfo
    from chalicelib.storage.disk import DiskStorage
    from datetime import datetime, timezone
    rng = np.random.default_rng(7)
    owner = "bench-owner"
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LOCAL_SECRET_FILE"] = os.path.join(tmp, "secret")
        path = os.path.join(tmp, "index.sqlite3")
        index, store = SQLiteIndex(path), SQLiteFaceStore(path)
        index.ensure_index()
        store.ensure()
        storage = DiskStorage(os.path.join(tmp, "bucket"), "bench", "http://127.0.0.1:8000")
        services = Services(storage, index, None, store, EmbeddingMatcher(store))
        identities = rng.normal(0, 0.09, size=(max(1, n_faces // 20), 128)).astype(np.float32)
        t0, docs, records = time.perf_counter(), [], []
        for i in range(n_faces):
            key = "usercontent/%s/%05d.jpg" % (owner, i)
            pid = photo_id("bench", key)
            face = {"box": {"width": 0.2, "height": 0.2, "left": 0.4, "top": 0.3}, "confidence": 99.0}
            info = ObjectInfo(key, "etag%d" % i, 100000, datetime(2026, 1, 1, tzinfo=timezone.utc), "image/jpeg")
            doc = documents.build(pid, owner, "bench", key, info, "", "indexed", faces=[face])
            doc["faces"][0]["face_id"] = face_id(pid, info.etag, 1)
            docs.append(("put", doc, None))
            sample = doc
            vector = identities[i % len(identities)] + rng.normal(0, 0.025, 128).astype(np.float32)
            records.append({"face_id": face_id(pid, info.etag, 1), "owner": owner, "photo_id": pid, "n": 1,
                            "box": face["box"], "confidence": 99.0, "crop_key": None, "person_id": None,
                            "assigned_by": None, "rejected": [], "grouped": True, "matcher_id": None,
                            "created_at": "2026-11-23T00:00:00Z", "embedding": vector.tolist()})
            if len(docs) == 1000:
                index.bulk(docs)
                store.put_faces(records)
                docs, records = [], []
                progress("  stored %d/%d faces" % (i + 1, n_faces))
        index.bulk(docs)
        store.put_faces(records)
        build = time.perf_counter() - t0
        caller = Caller(owner, owner)
        ids = [f["face_id"] for f in store.faces(owner)]
        picks = random.Random(3).sample(ids, min(queries, len(ids)))
        t = time.perf_counter()
        first = people.face_photos(services, caller, picks[0])
        cold = (time.perf_counter() - t) * 1000
        times, hits = [], []
        for fid in picks:
            t = time.perf_counter()
            out = people.face_photos(services, caller, fid)
            times.append((time.perf_counter() - t) * 1000)
            hits.append(len(out["photos"]))
        newcomer = dict(store.get_face(picks[0], with_embeddings=True), face_id="f" * 32,
                        photo_id=sample["photo_id"])
        store.put_faces([newcomer])              # a new face: the owner's vectors are read again
        t = time.perf_counter()
        people.face_photos(services, caller, picks[0])
        after_change = (time.perf_counter() - t) * 1000
    times.sort()
    return {"faces": n_faces, "build_s": build, "cold_ms": cold, "after_change_ms": after_change,
            "p50": statistics.median(times), "p95": times[int(len(times) * 0.95) - 1], "max": times[-1],
            "hits": statistics.median(hits + [len(first["photos"])])}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=5, help="random arrival orders for grouping")
    parser.add_argument("--faces", type=int, default=10000, help="faces in the index for the latency test")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    match_t = settings.get_float("FACE_MATCH_THRESHOLD")
    group_t = settings.get_float("PEOPLE_MATCH_THRESHOLD")

    progress("1/3 verification: detecting and embedding faces")
    t0 = time.perf_counter()
    faces, missed, images = embed_all()
    seconds = time.perf_counter() - t0
    identities = len({p for p, _, _ in faces})
    print("\n## Verification (local engine: BlazeFace + dlib ResNet, similarity = 100 - 100*d/3)\n")
    print("images %d (%d photos x 6 variants), faces found in %d, %d people; %.1f s (%.0f ms per image)"
          % (images, images // 6, len(faces), identities, seconds, 1000 * seconds / images))
    if missed:
        print("no face found in: %s" % ", ".join(missed))
    print("\n| threshold | same pairs | different pairs | false rejects | false accepts | accuracy |"
          " lowest same | highest different |")
    print("|---|---|---|---|---|---|---|---|")
    for name, threshold in (("FACE_MATCH_THRESHOLD", match_t), ("PEOPLE_MATCH_THRESHOLD", group_t)):
        v = verification(faces, threshold)
        print("| %s = %g | %d | %d | %d | %d | %.2f %% | %.1f | %.1f |" % (
            name, threshold, v["same"], v["diff"], v["false_rejects"], v["false_accepts"], v["accuracy"],
            v["lowest_same"], v["highest_diff"]))

    progress("2/3 grouping in %d random orders" % args.orders)
    print("\n## Grouping (%d faces arriving one by one; PEOPLE_MATCH_THRESHOLD %g, PEOPLE_MIN_MATCHES %s, "
          "PEOPLE_MIN_SHARE %s)\n" % (len(faces), group_t, settings.get("PEOPLE_MIN_MATCHES"),
                                      settings.get("PEOPLE_MIN_SHARE")))
    print("| order (seed) | people formed | people mixing two real people | faces in their person's main group |")
    print("|---|---|---|---|")
    results = []
    for seed in range(args.orders):
        g = grouping(faces, seed)
        results.append(g)
        print("| %d | %d | %d | %.1f %% |" % (seed, g["people"], g["mixed"], g["together"]))
    print("| all | | %d | min %.1f %%, mean %.1f %% |" % (
        sum(g["mixed"] for g in results), min(g["together"] for g in results),
        statistics.mean(g["together"] for g in results)))

    progress("3/3 latency of GET /faces/{id}/photos with %d faces" % args.faces)
    lat = latency(args.faces, args.queries)
    print("\n## GET /faces/{face_id}/photos in the embedded index (SQLite)\n")
    print("| faces and photos | queries | p50 | p95 | max | first call (loads the owner's vectors) |"
          " after a new face | photos per answer |")
    print("|---|---|---|---|---|---|---|---|")
    print("| %d | %d | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %d |" % (
        lat["faces"], args.queries, lat["p50"], lat["p95"], lat["max"], lat["cold_ms"], lat["after_change_ms"],
        lat["hits"]))
    print("\ncommand: ./dev bench-faces --orders %d --faces %d --queries %d" % (args.orders, args.faces, args.queries))


if __name__ == "__main__":
    main()
