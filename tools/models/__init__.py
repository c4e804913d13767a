"""The model files: install.py fetches the md5-pinned weights, derive/ makes the serving files.

Kept free of imports: the worker images' first stage runs `python -m tools.models.install`
with only this package, install.py and shared/models.py copied in.
"""
