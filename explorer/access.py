"""Who may open the page: this machine only, unless remote access is switched on.

``python -m explorer serve`` listens on 127.0.0.1. ``panel serve apps/explorer.py`` listens
on every interface unless given ``--address 127.0.0.1``, so the app entry point itself
refuses clients that are not on this machine. To expose the page deliberately (a trusted
network only: a page can train and read the snapshot folder), set
``SIZING_EXPLORER_ALLOW_REMOTE=1`` and pass both ``--address`` and
``--allow-websocket-origin=HOST:PORT`` to ``panel serve`` (Bokeh refuses websocket
connections from any other Origin).
"""

from __future__ import annotations

import ipaddress
import os
import socket

ALLOW_REMOTE = "SIZING_EXPLORER_ALLOW_REMOTE"


def remote_allowed() -> bool:
    return os.environ.get(ALLOW_REMOTE, "").strip().lower() in ("1", "true", "yes")


def is_loopback(address: str | None) -> bool:
    """Whether a client address is this machine (127.0.0.0/8, ::1, IPv4-mapped forms)."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def refusal(remote_ip: str | None) -> str | None:
    """The message for a client that may not open the page, or None when it may."""
    if remote_allowed() or is_loopback(remote_ip):
        return None
    return (
        "This Sizing Explorer accepts connections from its own machine only. To expose "
        f"it on purpose, set {ALLOW_REMOTE}=1 and serve it with --address and "
        "--allow-websocket-origin."
    )


def session_refusal() -> str | None:
    """:func:`refusal` for the current Panel session's client (None outside a server)."""
    import panel as pn

    doc = pn.state.curdoc
    context = getattr(doc, "session_context", None) if doc is not None else None
    request = getattr(context, "request", None) if context is not None else None
    if request is None:
        return None
    return refusal(getattr(request, "remote_ip", None))


def client_left() -> bool:
    """Whether the client of the page being built has already closed its connection (a
    tab closed or reloaded while the request waited behind other page builds): the page is
    then not built. Peeks at the socket of the tornado request behind Bokeh's session
    context: end of stream means the client closed it (tornado itself notices only at its
    next read or write, after the build); False when unknown."""
    import panel as pn

    doc = pn.state.curdoc
    context = getattr(doc, "session_context", None) if doc is not None else None
    proxy = getattr(context, "request", None) if context is not None else None
    request = getattr(proxy, "_request", None)  # bokeh.server.contexts._RequestProxy
    stream = getattr(getattr(request, "connection", None), "stream", None)
    if stream is None:
        return False
    if stream.closed():
        return True
    sock = getattr(stream, "socket", None)
    if sock is None:
        return False
    try:  # tornado's sockets do not block: an open idle client raises BlockingIOError
        return sock.recv(1, socket.MSG_PEEK) == b""  # end of stream: the client closed
    except BlockingIOError:
        return False
    except OSError:  # reset by the peer
        return True


#: what a client that left gets instead of the page (nobody sees it)
LEFT_NOTE = "the client closed its connection before this page was built"
