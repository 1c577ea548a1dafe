"""``serve`` (the live page) and ``show`` (a saved snapshot on the page): Panel servers on
this machine's address by default."""

from __future__ import annotations

import sys


def add_show_parser(sub) -> None:
    show = sub.add_parser("show", help="serve the explorer on a saved snapshot (replay)")
    show.add_argument("snapshot", help="a snapshot folder or .zip (run --out writes one)")
    show.add_argument(
        "--resume",
        action="store_true",
        help="restore the trainer too, so the page can train on from it",
    )
    show.add_argument("--port", type=int, default=5006)
    show.add_argument("--address", default="127.0.0.1")
    show.add_argument("--show", action="store_true", help="open a browser tab")


def add_serve_parser(sub) -> None:
    serve = sub.add_parser("serve", help="serve the live explorer page (Panel)")
    serve.add_argument("--port", type=int, default=5006)
    serve.add_argument(
        "--address",
        default="127.0.0.1",
        help="interface to listen on (default 127.0.0.1, this machine only)",
    )
    serve.add_argument("--show", action="store_true", help="open a browser tab")


#: largest websocket message the served page accepts (an upload travels as one message)
WEBSOCKET_MAX_BYTES = 100 << 20
#: Bokeh server options of the served page. Unused sessions are looked for every second, so a
#: closed tab's session (and its trainer) ends about a second after the 3 s it is given to
#: reconnect (explorer/page/closed_tab.py asks Bokeh to expire it). Bokeh's names end in
#: ``_milliseconds``; ``pn.serve`` passed ``check_unused_sessions=1000`` (and a 1 s lifetime)
#: on unread. The lifetime stays Bokeh's 15 s: it is how long a page still loading may take
#: to open its websocket, and with 1 s or 5 s a page loading on a busy machine (load 15)
#: found its session gone and got a new one, its trainer never started (scripts/soak.py).
#: The websocket limit is above the upload limits (64 MB), so a too-large upload gets a
#: message from the page instead of a closed websocket.
SERVER_OPTIONS = {
    "check_unused_sessions_milliseconds": 1000,
    "unused_session_lifetime_milliseconds": 15_000,
    "websocket_max_message_size": WEBSOCKET_MAX_BYTES,
}


def serve_command(args) -> int:
    import panel as pn

    from explorer.access import LEFT_NOTE, client_left
    from explorer.app import ExplorerApp
    from explorer.page.reconnect import serve_settings
    from explorer.page.runs_tab import served_tabs

    if not 0 < args.port < 65536:
        raise ValueError(f"--port must be 1..65535, got {args.port}")

    def make():  # served pages train in a child process (explorer/runner_process.py)
        return ExplorerApp(trainer_in="process", tabs=served_tabs())

    if args.command == "show":
        from explorer.snapshot import load_snapshot

        load_snapshot(args.snapshot)  # a bad file fails here, before the server starts

        def make():
            return ExplorerApp.open_snapshot(
                args.snapshot, resume=args.resume, trainer_in="process"
            )

    print(f"Sizing Explorer at http://{args.address}:{args.port}/ (Ctrl-C stops)")
    serve_settings()  # a dropped websocket reconnects (explorer/page/reconnect.py)
    _stop_on_sigterm()
    try:
        pn.serve(
            lambda: pn.pane.Markdown(LEFT_NOTE) if client_left() else make().template(),
            port=args.port,
            address=args.address,
            show=args.show,
            title="Sizing Explorer",
            websocket_origin=[f"{args.address}:{args.port}", f"localhost:{args.port}"],
            **SERVER_OPTIONS,
        )
    except KeyboardInterrupt:
        pass
    finally:
        from explorer.session import close_all

        print(f"stopped; closed {close_all()} page session(s)", file=sys.stderr)
    return 0


def _stop_on_sigterm() -> None:
    """SIGTERM stops the server like Ctrl-C does, so the trainers are closed (explorer/
    session.py close_all), not orphaned."""
    import signal

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
