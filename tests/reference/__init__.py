"""numpy references of the worker's compiled image steps, for the tests that compare them.

Production code never imports from here: worker/refine.py and worker/edge_colours.py run the
same steps as numba kernels, and tests/unit/test_refine.py and tests/unit/test_edge_colours.py
hold each kernel to its reference within one level of 255.
"""
