"""`python -m reconciler.embedded`: the patched moto server in the foreground."""

from reconciler.embedded.server import main

main()
