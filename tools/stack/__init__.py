"""The local stack: real Redis, PostgreSQL, S3, Celery workers and gunicorn as child processes.

Shared by `make run` (run.py: the whole stack in the foreground, data under .run/) and the
tests (tests/stack.py and the suites' conftests start private stacks from processes.py), and
by make bench and make backup. Not deployed: production runs the images in deploy/.
"""
