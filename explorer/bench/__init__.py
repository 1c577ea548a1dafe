"""Benchmarks, in one place. Speed is measured here, never in timed tests.

- :mod:`explorer.bench.optimizers`: AdaRad vs Adam/RMSprop step cost (``python -m explorer bench``)
- :mod:`explorer.bench.tiny`: TINY's eigen-solve routes and the TINY-vs-static race
  (``python -m explorer bench --tiny``, ``python -m explorer.bench.tiny --race 30``)
- :mod:`explorer.bench.app`: what the live page costs training (``python -m explorer bench --app``;
  needs the ``bench`` extra for ``psutil`` and the ``test`` extra for Playwright)
- :mod:`explorer.bench.snapshot`: snapshot write/load/restore times
  (``python -m explorer.bench.snapshot``)
"""
