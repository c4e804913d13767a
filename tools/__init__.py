"""What developers and operators run from a checkout; none of it is deployed.

setup.sh (make setup / make run's installs), models/ (install the pinned weights, derive the
serving files: make models; the worker images run both at build), stack/ (the local process
stack: make run, and the tests), bench/ (make bench), quality/ (make quality), backup.py
(make backup / make restore), gpu/ (make gpu-check). What is deployed lives in deploy/.
"""
