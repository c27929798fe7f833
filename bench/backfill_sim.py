"""Backfilling an existing bucket on AWS, simulated: today's hourly reconciler against an SQS fan-out.

    .venv/bin/python bench/backfill_sim.py                          # 100,000 photos; labels / labels,text / all three
    .venv/bin/python bench/backfill_sim.py --features labels,text,faces --tps-labels 100 --tps-text 100 --tps-faces 100
    .venv/bin/python bench/backfill_sim.py --max-concurrency 1000     # no quota-derived cap: throttling and requeues

A discrete-event simulation in pure Python (stdlib only), deterministic for a given --seed: it
prints the same table every time.  Nothing talks to AWS.  Progress goes to stderr, the Markdown
table to stdout, followed by the target check and the exact command.

Design A (today).  One scheduled `reconcile` Lambda, `rate(1 hour)`, that may run for 900 s (Lambda's
maximum timeout) less the 30 s RECONCILE_SAFETY_SECONDS.  It walks S3 and the index in pages, and
analyses every photo it finds inline, one at a time: S3 HEAD/GET, then one Rekognition call per
enabled feature in sequence, and an OpenSearch bulk write (plus the checkpoint) per 100 photos.  When
the time is up it flushes, saves the checkpoint and the next hourly run resumes from it.

Design B (fan-out).  The same hourly reconciler only diffs (list + scan) and, per page of missing
keys, marks them `pending` in the index (bulk, so that a later hourly run does not enqueue them again
while they wait in the queue) and enqueues one SQS message per photo with SendMessageBatch (10 a
call).  An `@app.on_sqs_message(batch_size=1)` Lambda indexes one photo per invocation.  Lambda's SQS
pollers scale as described at SQS_* below, capped by the event source's `maximum_concurrency`, which
is derived from the Rekognition quota unless --max-concurrency sets it:

    per_worker_rate[api] = calls of that API per photo / mean seconds one warm invocation takes
    maximum_concurrency  = floor(min over the enabled APIs of TPS[api] * QUOTA_HEADROOM / per_worker_rate[api])

QUOTA_HEADROOM (0.9) keeps the mean call rate at 90 % of the quota: at 100 % the random latencies
push the rate over the quota now and then and calls get throttled (the table's extra rows show it).
At 50 TPS, 90 % gave no throttled call in 8 seeds; at low quotas (10 TPS, a 10-token bucket) an
occasional call is still throttled, and the retries absorb it.

Rekognition is throttled per API with a token bucket: TPS tokens a second, at most BURST_SECONDS of
them saved up; a call that finds no token gets ProvisionedThroughputExceededException.  The client
(chalicelib/retry.py: RETRY_ATTEMPTS 5, RETRY_BASE_SECONDS 0.2, RETRY_MAX_SECONDS 5) waits
uniform(0, min(5, 0.2 * 2**n)) and tries again; after the 5th throttled try the invocation fails and
the message comes back after the queue's visibility timeout (the photo is analysed again from the
start, so the calls it already made are paid twice).  In design A a photo that fails so is retried
after the rest of the walk.  Throttled calls are not billed and are counted apart.

Every latency, the burst size and the scaling rule are ASSUMPTIONS (AWS publishes no latencies);
they are the named constants below.  Not modelled: the SearchFaces calls that group faces into people
(their own quota), Lambda's scale-back when invocations fail, OpenSearch throttling, S3 request rates,
and the account's other Lambda traffic.
"""
import argparse
import heapq
import math
import os
import random
import shlex
import sys
import time
from collections import deque
from dataclasses import dataclass, field

# --- Rekognition ----------------------------------------------------------------------------------------
# ASSUMPTION: per-call latency, lognormal (median seconds, sigma).  Users report 0.5-2 s per call.
# DetectLabels median 0.8 s, sigma 0.35: p5 0.45 s, p95 1.4 s, p99.9 2.4 s; mean 0.85 s.
REKOGNITION_LATENCY = {
    "labels": (0.8, 0.35),      # DetectLabels
    "text": (0.6, 0.35),        # DetectText
    "faces": (0.7, 0.35),       # IndexFaces (into the collection, with ALL attributes)
}
API_NAME = {"labels": "DetectLabels", "text": "DetectText", "faces": "IndexFaces"}
# The default per-API quotas (transactions per second per account) in us-east-1 as commonly listed in
# AWS's "Amazon Rekognition endpoints and quotas" page.  Check the Service Quotas console for your
# account: they are adjustable, and accounts differ.  Override with --tps-labels/--tps-text/--tps-faces.
DEFAULT_TPS = {"labels": 50.0, "text": 50.0, "faces": 50.0}
BURST_SECONDS = 1.0             # ASSUMPTION: the token bucket holds one second of quota
THROTTLE_RESPONSE_S = (0.010, 0.030)    # ASSUMPTION: a throttling error comes back at once

# --- the client's retries (chalicelib/retry.py, settings RETRY_*) --------------------------------------
RETRY_ATTEMPTS = 5
RETRY_BASE_S = 0.2
RETRY_CAP_S = 5.0

# --- S3, OpenSearch, SQS (ASSUMPTIONS: uniform ranges, seconds) ------------------------------------------
S3_HEAD_GET_S = (0.020, 0.040)          # per photo: HEAD + the first bytes to sniff the format
OPENSEARCH_BULK_S = (0.050, 0.150)      # one bulk request of up to BULK_SIZE documents
OPENSEARCH_PUT_S = (0.020, 0.060)       # one document (design B, batch size 1)
CHECKPOINT_PUT_S = (0.020, 0.040)       # S3 PUT of system/reconcile-state.json after each bulk
BULK_SIZE = 100                         # RECONCILE_BATCH_SIZE
LIST_KEYS_PER_S = 2000.0                # list S3 + scan the index, together
LIST_PAGE = 1000
SQS_SEND_BATCH_S = (0.015, 0.025)       # SendMessageBatch, ~20 ms
SQS_SEND_BATCH = 10                     # messages per SendMessageBatch (the API's maximum)
SQS_INVOKE_OVERHEAD_S = (0.010, 0.030)  # per message: receive, invoke, delete
SQS_WAKE_S = (0.005, 0.050)             # a long-polling poller that was idle sees a new message

# --- Lambda ----------------------------------------------------------------------------------------------
COLD_START_S = (0.8, 1.2)               # ASSUMPTION: ~1 s for a new instance (boto3 clients, imports)
SCHEDULE_S = 3600.0                     # rate(1 hour)
LAMBDA_MAX_TIMEOUT_S = 900.0            # Lambda's maximum timeout; the reconcile function's lambda_timeout
RECONCILE_SAFETY_S = 30.0               # RECONCILE_SAFETY_SECONDS
INDEXER_TIMEOUT_S = 120.0               # the indexer's lambda_timeout (index_photo's in .chalice/config.json)
VISIBILITY_TIMEOUT_S = 6 * INDEXER_TIMEOUT_S    # AWS: set the queue's visibility timeout to >= 6x the timeout
# ASSUMPTION, the SQS event source scaling rule since November 2023 ("Introducing faster polling scale-up
# for AWS Lambda functions configured with Amazon SQS", AWS Compute Blog, Nov 2023; AWS re:Post knowledge
# center "lambda-sqs-scaling"): Lambda starts with 5 concurrent invocations; while messages are waiting
# it adds up to 300 more a minute (modelled as +5 every second), up to 1,250 for a standard queue,
# never above the event source's maximum_concurrency (2..1000) or the account's concurrency (1,000).
SQS_START_CONCURRENCY = 5
SQS_SCALE_PER_MINUTE = 300
SQS_SCALE_STEP_S = 1.0
SQS_STANDARD_MAX_CONCURRENCY = 1250
MAXIMUM_CONCURRENCY_MIN, MAXIMUM_CONCURRENCY_MAX = 2, 1000
ACCOUNT_CONCURRENCY = 1000
QUOTA_HEADROOM = 0.9                    # derived maximum_concurrency aims at 90 % of the quota

TARGET_S = 2 * 3600.0                   # the target: design B, 100,000 photos, all features, under 2 hours
FEATURES = ("labels", "text", "faces")
DEFAULT_RUNS = ("labels", "labels,text", "labels,text,faces")


# --- the engine -------------------------------------------------------------------------------------------
class Sim:
    """Processes are generators.  A process yields a number (sleep that many seconds) or a list (park
    in that list until someone calls wake()).  Events at the same time run in the order scheduled."""

    def __init__(self, progress=None):
        self.now = 0.0
        self._heap = []
        self._seq = 0
        self.events = 0
        self._progress = progress

    def start(self, gen, delay=0.0):
        heapq.heappush(self._heap, (self.now + delay, self._seq, gen))
        self._seq += 1

    def at(self, delay, fn):
        """Call fn() `delay` seconds from now."""
        self.start(_call(fn), delay)

    def wake(self, parked, delay=0.0):
        if parked:
            self.start(parked.pop(), delay)

    def run(self):
        heap, push, pop = self._heap, heapq.heappush, heapq.heappop
        while heap:
            t, _, gen = pop(heap)
            self.now = t
            self.events += 1
            if self._progress is not None and not self.events & 0xFFFF:
                self._progress(self)
            try:
                step = next(gen)
            except StopIteration:
                continue
            if step.__class__ is list:
                step.append(gen)
            else:
                push(heap, (t + step, self._seq, gen))
                self._seq += 1


def _call(fn):
    fn()
    yield from ()


# --- the services -----------------------------------------------------------------------------------------
class Quota:
    """A per-API TPS quota as a token bucket."""

    def __init__(self, tps):
        self.rate = float(tps)
        self.depth = max(1.0, self.rate * BURST_SECONDS)
        self.tokens = self.depth
        self.t = 0.0

    def take(self, now):
        self.tokens = min(self.depth, self.tokens + (now - self.t) * self.rate)
        self.t = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def lognormal_mean(median, sigma):
    return median * math.exp(sigma * sigma / 2)


def mid(bounds):
    return (bounds[0] + bounds[1]) / 2


@dataclass
class Result:
    design: str
    features: tuple
    photos: int
    concurrency: int
    concurrency_source: str = ""
    wall_s: float = 0.0
    calls: int = 0                  # billed (accepted) Rekognition calls
    throttled: int = 0              # calls refused with ProvisionedThroughputExceededException
    runs: int = 0                   # reconciler runs
    invocations: int = 0            # indexer invocations (design B)
    cold_starts: int = 0            # design A: reconciler runs started cold; design B: new indexer instances
    failed_attempts: int = 0        # photos given up after RETRY_ATTEMPTS throttled tries (then retried)
    writes: list = field(default_factory=list)   # index writes per photo: must all be 1
    indexed: int = 0
    events: int = 0

    @property
    def photos_per_min(self):
        return self.photos / (self.wall_s / 60.0) if self.wall_s else 0.0


class Analysis:
    """One photo's S3 read and Rekognition calls, with the client's backoff; shared by both designs."""

    def __init__(self, rng, features, quotas, result):
        self.rng, self.features, self.quotas, self.result = rng, features, quotas, result
        self.latency = [(f, math.log(REKOGNITION_LATENCY[f][0]), REKOGNITION_LATENCY[f][1]) for f in features]

    def photo(self, sim):
        """yields delays; returns True when every call succeeded, False when one was throttled 5 times."""
        rng, quotas, res = self.rng, self.quotas, self.result
        yield rng.uniform(*S3_HEAD_GET_S)
        for feature, mu, sigma in self.latency:
            quota = quotas[feature]
            for attempt in range(RETRY_ATTEMPTS):
                if quota.take(sim.now):
                    res.calls += 1
                    yield rng.lognormvariate(mu, sigma)
                    break
                res.throttled += 1
                yield rng.uniform(*THROTTLE_RESPONSE_S)
                if attempt == RETRY_ATTEMPTS - 1:
                    res.failed_attempts += 1
                    return False
                yield rng.uniform(0.0, min(RETRY_CAP_S, RETRY_BASE_S * 2 ** attempt))
        return True


def warm_invocation_seconds(features):
    """Mean seconds one warm design-B invocation takes, without throttling."""
    return (mid(SQS_INVOKE_OVERHEAD_S) + mid(S3_HEAD_GET_S)
            + sum(lognormal_mean(*REKOGNITION_LATENCY[f]) for f in features) + mid(OPENSEARCH_PUT_S))


def derive_concurrency(features, tps, headroom=QUOTA_HEADROOM):
    """maximum_concurrency = floor(min over APIs of TPS * headroom / one worker's calls per second)."""
    per_photo = warm_invocation_seconds(features)
    limits = []
    for api in set(features):
        per_worker = features.count(api) / per_photo
        limits.append(tps[api] * headroom / per_worker)
    c = int(math.floor(min(limits) + 1e-9))
    return max(MAXIMUM_CONCURRENCY_MIN, min(MAXIMUM_CONCURRENCY_MAX, c))


def _rng(seed, *parts):
    return random.Random("%s|%s" % (seed, "|".join(str(p) for p in parts)))


# --- design A: the hourly reconciler analyses inline ------------------------------------------------------
def simulate_a(photos, features, tps, seed=1, progress=None):
    features = tuple(features)
    res = Result("A", features, photos, 1, "one run at a time", writes=[0] * photos)
    rng = _rng(seed, "A", ",".join(features), photos)
    quotas = {f: Quota(tps[f]) for f in features}
    analysis = Analysis(rng, features, quotas, res)
    budget = LAMBDA_MAX_TIMEOUT_S - RECONCILE_SAFETY_S

    def flush(batch):
        yield rng.uniform(*OPENSEARCH_BULK_S)
        yield rng.uniform(*CHECKPOINT_PUT_S)
        for p in batch:
            res.writes[p] += 1
        res.indexed += len(batch)
        res.wall_s = sim.now

    def reconciler():
        todo = deque(range(photos))     # keys in walk order; a throttled-out photo goes to the end
        listed = 0                      # keys listed (S3) and scanned (index) so far
        run_start = 0.0
        while todo:
            res.runs += 1
            res.cold_starts += 1        # an hour idle: assume the instance was reclaimed
            yield rng.uniform(*COLD_START_S)
            t0, batch = sim.now, []
            while todo and sim.now - t0 < budget:
                if todo[0] >= listed and listed < photos:
                    page = min(LIST_PAGE, photos - listed)
                    yield page / LIST_KEYS_PER_S
                    listed += page
                    continue
                p = todo.popleft()
                ok = yield from analysis.photo(sim)
                if ok:
                    batch.append(p)
                else:
                    todo.append(p)
                if len(batch) >= BULK_SIZE:
                    yield from flush(batch)
                    batch = []
            if batch:
                yield from flush(batch)
            if todo:
                run_start += SCHEDULE_S
                yield max(0.0, run_start - sim.now)

    sim = Sim(progress and (lambda s: progress(res, s)))
    sim.start(reconciler())
    sim.run()
    res.events = sim.events
    return res


# --- design B: the reconciler enqueues, an SQS-triggered Lambda indexes one photo per invocation ----------
def simulate_b(photos, features, tps, seed=1, max_concurrency=None, headroom=QUOTA_HEADROOM, progress=None):
    features = tuple(features)
    if max_concurrency is None:
        cap, source = derive_concurrency(features, tps, headroom), "derived at %g %% of quota" % (headroom * 100)
    else:
        cap, source = max_concurrency, "set"
    cap = min(cap, SQS_STANDARD_MAX_CONCURRENCY, ACCOUNT_CONCURRENCY)
    res = Result("B", features, photos, cap, source, writes=[0] * photos)
    rng = _rng(seed, "B", ",".join(features), photos, cap)
    quotas = {f: Quota(tps[f]) for f in features}
    analysis = Analysis(rng, features, quotas, res)
    budget = LAMBDA_MAX_TIMEOUT_S - RECONCILE_SAFETY_S
    visible = deque()               # messages that a poller can receive
    idle = []                       # pollers waiting (long polling) for a message
    state = {"done": False, "scaling": False}
    sim = Sim(progress and (lambda s: progress(res, s)))

    def send(p):
        visible.append(p)
        sim.wake(idle, rng.uniform(*SQS_WAKE_S))
        if not state["scaling"]:
            state["scaling"] = True
            sim.start(scaler())

    def finish():
        state["done"] = True
        res.wall_s = sim.now
        while idle:                 # let the idle pollers see that the work is done
            sim.wake(idle)

    def indexer_slot():
        cold = True
        while True:
            if not visible:
                if state["done"]:
                    return
                yield idle
                continue
            p = visible.popleft()
            received = sim.now
            res.invocations += 1
            yield rng.uniform(*SQS_INVOKE_OVERHEAD_S)
            if cold:
                cold = False
                res.cold_starts += 1
                yield rng.uniform(*COLD_START_S)
            ok = yield from analysis.photo(sim)
            if ok:
                yield rng.uniform(*OPENSEARCH_PUT_S)
                res.writes[p] += 1
                res.indexed += 1
                if res.indexed == photos:
                    finish()
            else:                   # the handler raises: the message reappears after the visibility timeout
                sim.at(received + VISIBILITY_TIMEOUT_S - sim.now, lambda p=p: send(p))

    def scaler():
        allowed = min(SQS_START_CONCURRENCY, cap)
        for _ in range(allowed):
            sim.start(indexer_slot())
        step = int(SQS_SCALE_PER_MINUTE * SQS_SCALE_STEP_S / 60.0)
        while allowed < cap and not state["done"]:
            yield SQS_SCALE_STEP_S
            if visible:             # scale up only while messages wait
                more = min(step, cap - allowed)
                allowed += more
                for _ in range(more):
                    sim.start(indexer_slot())

    def reconciler():
        enqueued = 0
        run_start = 0.0
        while not state["done"]:
            res.runs += 1
            yield rng.uniform(*COLD_START_S)
            t0 = sim.now
            if enqueued < photos:
                while enqueued < photos and sim.now - t0 < budget:
                    page = min(LIST_PAGE, photos - enqueued)
                    yield page / LIST_KEYS_PER_S                    # diff one page
                    for _ in range(0, page, BULK_SIZE):             # mark the page's photos `pending`
                        yield rng.uniform(*OPENSEARCH_BULK_S)
                    for start in range(enqueued, enqueued + page, SQS_SEND_BATCH):
                        yield rng.uniform(*SQS_SEND_BATCH_S)
                        for p in range(start, min(start + SQS_SEND_BATCH, enqueued + page)):
                            send(p)
                    enqueued += page
                yield rng.uniform(*CHECKPOINT_PUT_S)
            else:                   # a later run diffs everything and skips the `pending` (queued) photos
                yield min(budget, photos / LIST_KEYS_PER_S)
            run_start += SCHEDULE_S
            yield max(0.0, run_start - sim.now)

    sim.start(reconciler())
    sim.run()
    res.events = sim.events
    return res


# --- the report -------------------------------------------------------------------------------------------
def hmm(seconds):
    minutes = int(round(seconds / 60.0))
    return "%d:%02d" % (minutes // 60, minutes % 60)


def row(r):
    if r.design == "A":
        design, conc = "A: hourly reconciler, inline", "1"
        runs = "%s reconciler runs" % format(r.runs, ",")
    else:
        design, conc = "B: SQS fan-out", "%d (%s)" % (r.concurrency, r.concurrency_source)
        runs = "%d reconciler + %s indexer (%d cold)" % (r.runs, format(r.invocations, ","), r.cold_starts)
    return "| %s | %s | %s | %s | %s | %s | %s | %s |" % (
        design, ",".join(r.features), conc, hmm(r.wall_s), format(int(round(r.photos_per_min)), ","),
        format(r.calls, ","), format(r.throttled, ","), runs)


HEADER = ("| design | features | concurrency | wall time (h:mm) | photos/min | Rekognition calls | throttled calls "
          "| Lambda invocations/runs |\n|---|---|---|---|---:|---:|---:|---|")


def needed_tps(photos, features, tps, seed, headroom, progress=None):
    """The smallest per-API quota (the same for every enabled API) with which design B, with
    maximum_concurrency derived from it, finishes within TARGET_S.  Estimated, then checked."""
    per_api = max(features.count(f) for f in features)
    guess = max(1, int(math.ceil(per_api * photos / (TARGET_S - 300.0) / headroom)))
    result = None
    for q in range(guess, guess + 50):
        result = simulate_b(photos, features, {f: float(q) for f in FEATURES}, seed, None, headroom, progress)
        if result.wall_s <= TARGET_S:
            return q, result
    return None, (q, result)


def command_line(argv):
    here = os.getcwd()

    def rel(path):
        r = os.path.relpath(path, here)
        return path if r.startswith("..") else r

    exe = sys.executable
    venv_python = os.path.join(here, ".venv", "bin", "python")
    if os.path.exists(venv_python) and os.path.realpath(exe) == os.path.realpath(venv_python):
        exe = venv_python
    return shlex.join([rel(exe), rel(os.path.abspath(__file__))] + list(argv))


def parse_features(text):
    features = tuple(f.strip() for f in text.split(",") if f.strip())
    unknown = [f for f in features if f not in FEATURES]
    if not features or unknown or len(set(features)) != len(features):
        raise argparse.ArgumentTypeError("features: a comma-separated subset of %s" % ",".join(FEATURES))
    return features


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=100000, help="photos in the bucket (default 100000)")
    parser.add_argument("--features", type=parse_features, action="append",
                        help="comma-separated features; repeat for several rows (default: %s)"
                             % " / ".join(DEFAULT_RUNS))
    parser.add_argument("--tps-labels", type=float, default=DEFAULT_TPS["labels"], help="DetectLabels TPS quota")
    parser.add_argument("--tps-text", type=float, default=DEFAULT_TPS["text"], help="DetectText TPS quota")
    parser.add_argument("--tps-faces", type=float, default=DEFAULT_TPS["faces"], help="IndexFaces TPS quota")
    parser.add_argument("--max-concurrency", type=int, default=None,
                        help="design B's maximum_concurrency (default: derived from the quotas)")
    parser.add_argument("--headroom", type=float, default=QUOTA_HEADROOM,
                        help="share of the quota the derived concurrency aims at (default %g)" % QUOTA_HEADROOM)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.photos < 1 or not 0 < args.headroom <= 2:
        parser.error("--photos must be >= 1 and --headroom in (0, 2]")
    if args.max_concurrency is not None and not (
            MAXIMUM_CONCURRENCY_MIN <= args.max_concurrency <= MAXIMUM_CONCURRENCY_MAX):
        parser.error("--max-concurrency: maximum_concurrency must be %d..%d" % (
            MAXIMUM_CONCURRENCY_MIN, MAXIMUM_CONCURRENCY_MAX))
    runs = args.features or [parse_features(f) for f in DEFAULT_RUNS]
    tps = {"labels": args.tps_labels, "text": args.tps_text, "faces": args.tps_faces}
    if min(tps.values()) <= 0:
        parser.error("TPS quotas must be > 0")

    last = [0.0]

    def progress(res, sim):
        if time.monotonic() - last[0] < 0.25:
            return
        last[0] = time.monotonic()
        sys.stderr.write("\r\033[Kdesign %s %-18s %7d/%d indexed, simulated %s h:mm" % (
            res.design, ",".join(res.features), res.indexed, res.photos, hmm(sim.now)))
        sys.stderr.flush()

    started = time.monotonic()
    results = []
    for features in runs:
        for design in ("A", "B"):
            if design == "A":
                r = simulate_a(args.photos, features, tps, args.seed, progress)
            else:
                r = simulate_b(args.photos, features, tps, args.seed, args.max_concurrency, args.headroom, progress)
            results.append(r)
            sys.stderr.write("\r\033[Kdesign %s %-18s done: %s h:mm, %d events\n" % (
                design, ",".join(features), hmm(r.wall_s), r.events))

    if args.max_concurrency is None:
        # what happens without the quota-derived cap: the formula at 100 % of the quota, and no cap at all
        extra = [(1.0, None)] if args.headroom != 1.0 else []
        for headroom, conc in extra + [(args.headroom, MAXIMUM_CONCURRENCY_MAX)]:
            r = simulate_b(args.photos, runs[-1], tps, args.seed, conc, headroom, progress)
            results.append(r)
            sys.stderr.write("\r\033[Kdesign B %-18s concurrency %d done: %s h:mm, %d events\n" % (
                ",".join(runs[-1]), r.concurrency, hmm(r.wall_s), r.events))

    full = parse_features("labels,text,faces")
    target_b = next((r for r in results if r.design == "B" and r.features == full), None)
    quota_tps = {f: tps[f] for f in FEATURES}
    if target_b is None:
        target_b = simulate_b(args.photos, full, tps, args.seed, args.max_concurrency, args.headroom, progress)
    need, need_result = needed_tps(args.photos, full, quota_tps, args.seed, args.headroom, progress)
    sys.stderr.write("\r\033[Kdone in %.1f s\n" % (time.monotonic() - started))

    print("Backfill of %s photos on AWS, simulated (seed %d).  Rekognition quotas: %s.  "
          "Design B's maximum_concurrency: %s." % (
              format(args.photos, ","), args.seed,
              ", ".join("%s %g TPS" % (API_NAME[f], tps[f]) for f in FEATURES),
              "--max-concurrency %d" % args.max_concurrency if args.max_concurrency else
              "derived, floor(TPS x %g / one worker's calls per second)" % args.headroom))
    print()
    print(HEADER)
    for r in results:
        print(row(r))
    print()
    label = "design B, %s photos, labels,text,faces, under %s" % (format(args.photos, ","), hmm(TARGET_S))
    if target_b.wall_s <= TARGET_S:
        print("Target (%s): met, %s h:mm." % (label, hmm(target_b.wall_s)))
    else:
        print("Target (%s): NOT met, %s h:mm with these quotas." % (label, hmm(target_b.wall_s)))
    if need is not None:
        print("Quota needed for the target: %d TPS for each of DetectLabels, DetectText and IndexFaces "
              "(simulated with it: %s h:mm at maximum_concurrency %d)." % (
                  need, hmm(need_result.wall_s), need_result.concurrency))
    else:
        print("Quota needed for the target: none up to %d TPS per API (%s h:mm there): something other than "
              "Rekognition limits it." % (need_result[0], hmm(need_result[1].wall_s)))
    per_photo = warm_invocation_seconds(full)
    print("Derivation (labels,text,faces): one warm indexer invocation takes %.2f s on average, so one worker "
          "makes %.3f calls/s to each API; maximum_concurrency = floor(%g TPS x %g / %.3f) = %d." % (
              per_photo, 1.0 / per_photo, min(tps.values()), args.headroom, 1.0 / per_photo,
              derive_concurrency(full, {f: min(tps.values()) for f in FEATURES}, args.headroom)))
    print("Rekognition calls are the accepted (billed) ones; throttled calls are refused and counted apart.")
    a_rows = [r for r in results if r.design == "A"]
    print("Design A: %s; one Lambda analyses one photo at a time for %d s an hour. Design B is bound by the "
          "quota, not by Lambda: each API has its own, so a photo costs one token of each whatever the features."
          % ("; ".join("%s %.1f days" % (",".join(r.features), r.wall_s / 86400.0) for r in a_rows),
             LAMBDA_MAX_TIMEOUT_S - RECONCILE_SAFETY_S))
    for r in results:
        assert all(w == 1 for w in r.writes), "a photo was not indexed exactly once"
    print()
    print("Assumptions: Rekognition latency lognormal, medians DetectLabels %.1f s, DetectText %.1f s, IndexFaces "
          "%.1f s (sigma %.2f); quotas a token bucket of %g s; S3 %d-%d ms a photo; OpenSearch bulk %d-%d ms per "
          "%d; list + scan %d keys/s; SendMessageBatch ~20 ms per 10; cold start ~1 s; SQS scaling %d to start, "
          "+%d a minute, max %d; retries %d attempts, full jitter, base %g s, cap %g s; visibility timeout %d s. "
          "See the docstring of bench/backfill_sim.py." % (
              REKOGNITION_LATENCY["labels"][0], REKOGNITION_LATENCY["text"][0], REKOGNITION_LATENCY["faces"][0],
              REKOGNITION_LATENCY["labels"][1], BURST_SECONDS, S3_HEAD_GET_S[0] * 1000, S3_HEAD_GET_S[1] * 1000,
              OPENSEARCH_BULK_S[0] * 1000, OPENSEARCH_BULK_S[1] * 1000, BULK_SIZE, LIST_KEYS_PER_S,
              SQS_START_CONCURRENCY, SQS_SCALE_PER_MINUTE, SQS_STANDARD_MAX_CONCURRENCY, RETRY_ATTEMPTS,
              RETRY_BASE_S, RETRY_CAP_S, VISIBILITY_TIMEOUT_S))
    print()
    print("command: %s" % command_line(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
