"""Structured JSON logs: one line per event, always with photo id and outcome."""
import json
import logging
import sys
import time

from chalicelib import settings

LOGGER_NAME = "photo_search"


class JsonFormatter(logging.Formatter):
    def format(self, record):
        line = {"level": record.levelname, "time": round(record.created, 3), "logger": record.name}
        fields = getattr(record, "fields", None)
        if fields:
            line.update(fields)
        else:
            line["message"] = record.getMessage()
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(line, default=str, ensure_ascii=False, sort_keys=False)


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout is now (Lambda ships stdout to CloudWatch)."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value):
        pass


def logger():
    log = logging.getLogger(LOGGER_NAME)
    if not getattr(log, "_photo_search_configured", False):
        handler = _StdoutHandler()
        handler.setFormatter(JsonFormatter())
        log.addHandler(handler)
        log.propagate = False
        log._photo_search_configured = True
    log.setLevel(settings.get("LOG_LEVEL").upper())
    return log


def event(name, outcome, level=logging.INFO, **fields):
    """Log one event, e.g. ``event("index", "indexed", photo_id=..., labels=3)``."""
    logger().log(level, name, extra={"fields": dict(event=name, outcome=outcome, **fields)})


class Timer:
    def __init__(self):
        self.start = time.monotonic()

    @property
    def ms(self):
        return int((time.monotonic() - self.start) * 1000)
