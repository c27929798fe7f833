"""photo-search: everything behind app.py.

One module or package per concern (see README, "Code map"):
settings, keys, auth, storage, analysis, index, pipeline, photos (the
service the routes call) and components (the lazy wiring of adapters).
"""
