"""A page is not built for a client that left: requests abandoned while they waited behind
another page build (a tab closed or reloaded) cost no ExplorerApp."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request

import panel as pn
from conftest import free_port, wait_for

from explorer.access import LEFT_NOTE, client_left


def test_client_left_is_false_outside_a_server():
    assert client_left() is False


def test_requests_abandoned_while_queued_are_not_built():
    built: list[int] = []
    skipped: list[int] = []
    release = threading.Event()

    def app_fn():
        if client_left():
            skipped.append(1)
            return pn.pane.Markdown(LEFT_NOTE)
        built.append(1)
        if len(built) == 1:  # the first build holds the event loop, as a slow build does
            release.wait(10)
        return pn.pane.Markdown("page")

    port = free_port()
    server = pn.serve(app_fn, port=port, address="127.0.0.1", threaded=True, show=False)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_for(lambda: urllib.request.urlopen(url + "favicon.ico", timeout=5) or True,
                 what="server")  # fmt: skip
        first = threading.Thread(target=lambda: urllib.request.urlopen(url, timeout=60).read())
        first.start()
        wait_for(lambda: built, what="the first build to begin")
        for _ in range(5):  # five clients ask for the page and leave at once
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        time.sleep(0.5)
        release.set()
        first.join(60)
        wait_for(lambda: len(built) + len(skipped) >= 6, timeout=30, what="all six requests")
        assert len(built) == 1 and len(skipped) == 5, (built, skipped)
    finally:
        release.set()
        server.stop()
