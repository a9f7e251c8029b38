"""The AWS edge: the only package that imports boto3. `Aws` is the one door (client,
retries, quotas, slots); everything else reaches AWS through `reconciler.core.ports.AwsApi`.
"""

from reconciler.aws.client import Aws, ConnectError, NoRegionError, connect, region_of
from reconciler.core.ports import AwsError

__all__ = ["Aws", "AwsError", "ConnectError", "NoRegionError", "connect", "region_of"]
