"""Fixtures giving a test the AWS environment of a clean machine with static test credentials,
a pytest plugin of conftest.py.

botocore looks for credentials in many places (a profile, a session token, a role to assume, a
web identity, a container or instance endpoint) and for endpoints in the environment: a developer's
own settings would leak into the tests. ``aws_env`` (one test) and ``module_aws_env`` (a module's
fixtures too) clear all of them and set ``ACCESS_KEY`` and ``SECRET_KEY``, which moto's servers
accept.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

ACCESS_KEY = "AKIAKADATESTKEY00001"
SECRET_KEY = "kada/test/secret/key/000000000000000000000"
REGION = "eu-west-1"
# What else the credential chain and the endpoint resolution would read.
_CLEARED = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_LOGS", "AWS_ENDPOINT_URL_S3")


def use_test_credentials(patch: pytest.MonkeyPatch) -> None:
    """Sets the test credentials and the region, and clears the rest of the chain, with ``patch``."""
    for name in _CLEARED:
        patch.delenv(name, raising=False)
    for name, value in {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                        "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": os.devnull,
                        "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true"}.items():
        patch.setenv(name, value)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test credentials, for one test."""
    use_test_credentials(monkeypatch)


@pytest.fixture(scope="module")
def module_aws_env() -> Iterator[None]:
    """The test credentials, for a module's tests and its module-scoped fixtures."""
    with pytest.MonkeyPatch.context() as patch:
        use_test_credentials(patch)
        yield
