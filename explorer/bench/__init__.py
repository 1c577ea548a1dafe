"""Benchmarks, in one place. Speed is measured here, never in timed tests.

- :mod:`explorer.bench.suite`: every figure in one table (``python -m explorer bench [--quick]``);
  its rows come from :mod:`explorer.bench.table` (interleaved timing, median and spread)
- :mod:`explorer.bench.optimizers`: AdaRad vs Adam/RMSprop step cost (``bench --optimizers``)
- :mod:`explorer.bench.training`: garbage collection vs masking, trainer vs a plain loop
- :mod:`explorer.bench.tiny`: TINY's eigen-solve routes and the TINY-vs-static race
  (``python -m explorer bench --tiny``, ``python -m explorer.bench.tiny --race 30``)
- :mod:`explorer.bench.app`: what the live page costs training (``python -m explorer bench --app``;
  needs the ``bench`` extra for ``psutil`` and the ``test`` extra for Playwright)
- :mod:`explorer.bench.cpu_use`: Chromium's CPU and the trainer thread's run/wait times for it
- :mod:`explorer.bench.snapshot`: snapshot write/load/restore times
  (``python -m explorer.bench.snapshot``)
"""
