"""A GitOps reconciler for Amazon ECS: git is the source of truth, this keeps AWS equal to it.

The public surface is the `reconciler` command (`reconciler.cli:main`); the packages below
are its layers (see README.md, "Layout"), not a stable library API.
"""

__version__ = "0.2.0"

__all__ = ["__version__"]
