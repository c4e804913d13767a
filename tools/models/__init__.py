"""The model files: install.py fetches the pinned weights, derive/ makes the serving files.

Kept free of imports: the worker images' first stage runs `python -m tools.models.install`
with only this package, install.py, fetchers.py, listing.py and shared/'s catalogue modules
(models, model_spec, families, models_file) copied in.
"""
