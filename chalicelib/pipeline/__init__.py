"""The pipeline: index a photo, remove a photo, reconcile storage with the index.

Every function takes a Services tuple (storage, index, analyzer) so the same
code runs on AWS backends and on embedded ones.
"""
from collections import namedtuple

Services = namedtuple("Services", "storage index analyzer")
