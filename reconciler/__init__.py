"""A GitOps reconciler for Amazon ECS: git is the source of truth, this keeps AWS equal to it."""

__version__ = "0.1.0"
