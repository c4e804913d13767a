"""Micro-batching: the images of concurrent tasks in one process, run as one inference.

A GPU runs a batch of 8 photos in little more time than one; a worker that runs its tasks in
threads (`celery worker -P threads -c N`) hands each task's model input to one dispatcher
thread, which waits up to MICRO_BATCH_WAIT_MS after the first for up to MICRO_BATCH_SIZE
images, runs them in one call and hands each task its own map. Every other step of a task
(fetch, decode, refinement, encoding) stays in the task's own thread. On a CPU a batch is
no faster than its images one by one (measured: onnxruntime's kernels already use the
cores), so CPU workers keep MICRO_BATCH_SIZE=1; the results are the same either way (the
maps are computed per image and stretched per image: tests/unit/test_batching.py).
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future

import numpy as np
from PIL import Image

from shared.models import ModelSpec
from worker.inference import Segmenter

_Request = tuple[np.ndarray, Future]


class MicroBatcher:
    """A Segmenter's probability() shared by many threads, batched by one dispatcher."""

    def __init__(self, segmenter: Segmenter, max_batch: int, wait_ms: float) -> None:
        self.segmenter = segmenter
        self.spec: ModelSpec = segmenter.spec
        self.max_batch = max_batch
        self.wait_seconds = wait_ms / 1000.0
        self.batches_run = 0  # for tests and logs: how many session calls were made
        self._requests: queue.Queue[_Request] = queue.Queue()
        self._thread = threading.Thread(target=self._dispatch, name="micro-batcher",
                                        daemon=True)
        self._thread.start()

    def probability(self, image: Image.Image, flip: bool = False) -> np.ndarray:
        """[S, S] probability map, as Segmenter.probability, computed in a shared batch."""
        x = self.segmenter.prepare(image)  # in the caller's thread: resizes run in parallel
        if not flip:
            return self._submit(x)
        mirrored = np.ascontiguousarray(x[..., ::-1])
        plain, other = self._submit(x), self._submit(mirrored)
        return 0.5 * (plain + other[:, ::-1])

    def _submit(self, x: np.ndarray) -> np.ndarray:
        future: Future = Future()
        self._requests.put((x, future))
        return future.result()

    def _collect(self) -> list[_Request]:
        """The first waiting request, and those that arrive within the wait, up to the size."""
        batch = [self._requests.get()]
        deadline = time.monotonic() + self.wait_seconds
        while len(batch) < self.max_batch:
            left = deadline - time.monotonic()
            try:
                batch.append(self._requests.get(timeout=left) if left > 0
                             else self._requests.get_nowait())
            except queue.Empty:
                break
        return batch

    def _dispatch(self) -> None:
        while True:
            batch = self._collect()
            try:
                maps = self.segmenter.run(np.stack([x for x, _ in batch]))
            except Exception as exc:  # every waiting task fails with the session's error
                for _, future in batch:
                    future.set_exception(exc)
                continue
            self.batches_run += 1
            for (_, future), prob in zip(batch, maps, strict=True):
                future.set_result(prob)
