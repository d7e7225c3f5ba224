"""What is particular to AWS RDS and Aurora: their endpoints, their CA bundle, their internal objects."""

import re

# Where AWS publishes the CA bundle of every RDS and Aurora region (docs/rds.md).
RDS_CA_BUNDLE_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
# RDS's own database (visible in pg_database, closed to customers) and its own role.
RDS_INTERNAL_DATABASES = ("rdsadmin",)
# The role a user needs to log in with an IAM token.
RDS_IAM_ROLE = "rds_iam"

# Instance, cluster (writer, reader, custom), proxy and global endpoints, in the commercial, China
# and isolated partitions: <name>.<...>.<region>.rds.amazonaws.com[.cn], ...
_RDS_ENDPOINT = re.compile(
    r"^(?:[a-z0-9-]+\.)+rds\.(?:amazonaws\.com(?:\.cn)?|c2s\.ic\.gov|sc2s\.sgov\.gov)\.?$", re.IGNORECASE)


def is_rds_endpoint(server):
    """Whether ``server`` is the DNS name of an RDS or Aurora endpoint (instance, cluster, proxy)."""
    return bool(server) and bool(_RDS_ENDPOINT.match(server.strip()))
