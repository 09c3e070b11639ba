"""The URL rules, and the resolver that enforces them when the HTTP client connects."""

from __future__ import annotations

import ipaddress

import pytest

from resolvers.webhooks import urls


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),
        ("100.100.100.200", False),
        ("0.0.0.0", False),  # noqa: S104 - an address checked, not bound
        ("224.0.0.1", False),
        ("::1", False),
        ("fd00:ec2::254", False),
        ("fe80::1", False),
        ("::ffff:10.0.0.1", False),
    ],
)
def test_only_public_addresses_may_be_called(address: str, public: bool) -> None:
    assert urls.is_public(ipaddress.ip_address(address)) is public


async def test_the_resolver_refuses_a_name_of_a_private_address_at_connect_time() -> None:
    """A name that resolves inside (here localhost; in life a rebinding DNS) is refused as
    the client connects, whatever was checked when the endpoint was saved."""
    strict = urls.CheckedResolver(allow_private=False)
    try:
        with pytest.raises(urls.RefusedAddress, match="non-public"):
            await strict.resolve("localhost", 80)
    finally:
        await strict.close()
    lenient = urls.CheckedResolver(allow_private=True)
    try:
        found = await lenient.resolve("localhost", 80)
        assert found
    finally:
        await lenient.close()


def test_production_takes_https_only() -> None:
    with pytest.raises(urls.UrlRefused, match="https://"):
        urls.parse("http://receiver.example/hooks", https_only=True)
    assert urls.parse("https://receiver.example/hooks", https_only=True) == (
        "https",
        "receiver.example",
        443,
    )
