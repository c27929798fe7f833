"""The pipeline: index a photo, remove a photo, reconcile storage with the index.

Every function takes a Services tuple (storage, index, analyzer, and for faces
the face store and matcher, None when faces are not set up, and the job queue
(chalicelib.jobs), None to analyse inline) so the same code
runs on AWS backends and on embedded ones.
"""
from collections import namedtuple

Services = namedtuple("Services", "storage index analyzer faces matcher queue")
Services.__new__.__defaults__ = (None, None, None)   # queue None: work is done where it is found
