"""The embedded server: moto on 127.0.0.1, patched to behave like AWS, with EventBridge's
scheduler running beside it (embedded/scheduler.py), and the standard AWS environment
pointed at it."""

from __future__ import annotations

import logging
import os
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from reconciler.embedded.patches import patch_moto
from reconciler.embedded.scheduler import Scheduler

DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
DEFAULT_REGION = "eu-west-1"


def _moto_server(port: int) -> Any:
    """moto's threaded server with a dispatcher that remembers which backend serves a host:
    moto lists its package folder and tries its URL patterns on every request, about 1 ms
    each, a tenth of a describe's time (measured on the suite)."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class Dispatcher(DomainDispatcherApplication):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._backend_of: dict[str, Any] = {}

        def get_backend_for_host(self, host: str | None) -> Any:
            if host is None:
                return None
            if host not in self._backend_of:
                self._backend_of[host] = super().get_backend_for_host(host)
            return self._backend_of[host]

    class Server(ThreadedMotoServer):
        def _server_entry(self) -> None:
            self._server = make_server(self._ip_address, self._port,
                                       Dispatcher(create_backend_app), True,
                                       request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    return Server(ip_address="127.0.0.1", port=port, verbose=False)


class EmbeddedAws:
    """A moto server on 127.0.0.1, patched to behave like AWS. `url` is its endpoint;
    `scheduler` fires its scheduled rules."""

    def __init__(self, port: int = 0, patched: bool = True) -> None:
        # moto loads its thousands of public AMIs (with a snapshot and a volume each) into
        # every Region's EC2 backend after each reset, and GetResources walks them all: 0.27 s
        # of CPU per reset. Nothing here looks an AMI up (the spot fleets' are made up).
        os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        if patched:
            patch_moto()
        self._patched = patched
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = _moto_server(port)
        self.url = ""
        self.scheduler: Scheduler | None = None

    def start(self) -> EmbeddedAws:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        if self._patched:
            self.scheduler = Scheduler(self.url).start()
        return self

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
        self._server.stop()

    def reset(self) -> None:
        req = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()

    def event_queue(self, visibility: int = 120, trail: bool = True) -> str:
        """The SQS queue AWS's events arrive on, with its rules and a trail logging
        management events (made on first use)."""
        from reconciler.embedded.events import create_event_queue

        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") \
            or DEFAULT_REGION
        return create_event_queue(self.url, region, visibility=visibility, trail=trail)

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", DEFAULT_REGION),
            "AWS_REGION": os.environ.get("AWS_REGION", DEFAULT_REGION),
            **DUMMY_CREDENTIALS,
        }


@contextmanager
def embedded_aws() -> Iterator[EmbeddedAws]:
    """Start the embedded server and point the standard AWS environment at it."""
    server = EmbeddedAws().start()
    saved = {k: os.environ.get(k) for k in server.environment()}
    os.environ.update(server.environment())
    for k in ("AWS_PROFILE",):
        os.environ.pop(k, None)
    try:
        yield server
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()



def main() -> None:
    """`python -m reconciler.embedded [PORT]`: the patched moto server in the foreground, for
    benchmarks and anything that wants AWS's stand-in in its own process."""
    import argparse
    import time

    parser = argparse.ArgumentParser(prog="python -m reconciler.embedded")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--region", default=DEFAULT_REGION)
    parser.add_argument("--subnet", action="append", default=[])
    parser.add_argument("--security-group", action="append", default=[])
    args = parser.parse_args()
    from reconciler.embedded.network import seed_network

    server = EmbeddedAws(port=args.port).start()
    if args.subnet or args.security_group:
        seed_network(server.url, args.region, args.subnet, args.security_group)
    print(server.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


