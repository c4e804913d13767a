"""`make gpu-check`: check.sh builds .gpu-venv and runs bench.py, the segment step on a GPU."""
