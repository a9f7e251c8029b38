"""The embedded default: a moto server on 127.0.0.1 standing in for AWS, for `reconciler
demo`, `serve --local` and the tests.

This package is the only place that knows it talks to moto. moto has measured gaps
(shared/MOTO.md); each is closed here, in `patches/`, by making moto behave like AWS, so the
reconciler's core never branches on moto. Each patch has a test (tests/test_embedded.py)
that fails once moto itself behaves, so the patch can be dropped. Never imported by the core,
the kinds or the controller.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reconciler.embedded.network import network_ids, seed_network
from reconciler.embedded.patches import patch_moto
from reconciler.embedded.server import EmbeddedAws, embedded_aws


@contextmanager
def local_default(manifests: list[dict[str, object]] | Path) -> Iterator[EmbeddedAws]:
    """The embedded server with the network that these manifest specs name, and the AWS
    environment pointed at it (demo and `serve --local`)."""
    with embedded_aws() as server:
        subnets, groups = network_ids(manifests)
        seed_network(server.url, os.environ["AWS_REGION"], subnets, groups)
        yield server


__all__ = ["EmbeddedAws", "embedded_aws", "local_default", "network_ids", "patch_moto",
           "seed_network"]
