"""Bokeh's ``curdoc()`` put back after a callback that raised.

Bokeh runs each server-side callback inside ``bokeh.io.doc.patch_curdoc(doc)``, which pushes
the session's document on a process-wide list and pops it after the callback, but not when
the callback raises (Bokeh 3.9.2: no ``try``/``finally``). One exception in any callback
(ours, Panel's, Bokeh's own "_pending_writes should be non-None" seen in a soak) then leaves
that session's document as ``curdoc()`` for every thread of the process, for as long as the
document lives: ``pn.state.curdoc`` outside any session answers another session's document,
so code that asks "which page am I on?" (the status line, the refresh acknowledgement, an
upload's check of the client) writes to or reads the wrong page. On the test server it made
eleven later tests of the suite see a closed page's document (a clean-clone CI run).

:func:`install` replaces ``patch_curdoc`` with the same context manager, popping in a
``finally``. Bokeh's ``invoke_with_curdoc`` imports ``patch_curdoc`` from its module at each
call, so the replacement takes effect everywhere. Feature-detected: with a Bokeh without the
list (another implementation), nothing is replaced.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import bokeh.io.doc as bokeh_doc


@contextmanager
def patch_curdoc(doc) -> Iterator[None]:
    """``bokeh.io.doc.patch_curdoc``, exception-safe: ``doc`` is ``curdoc()`` in the body."""
    patched = bokeh_doc._PATCHED_CURDOCS
    patched.append(weakref.ref(doc))
    del doc
    try:
        yield
    finally:
        patched.pop()


def install() -> bool:
    """Use :func:`patch_curdoc` for Bokeh's callbacks; False where Bokeh has no such list."""
    if not isinstance(getattr(bokeh_doc, "_PATCHED_CURDOCS", None), list):
        return False
    bokeh_doc.patch_curdoc = patch_curdoc
    return True
