"""Which URLs a webhook may call: checked when an endpoint is saved and again at every attempt.

A URL is refused when its host is, or resolves to, an address that is not public: loopback,
private networks, link-local (which holds the cloud metadata service, 169.254.169.254),
carrier-grade NAT (100.64/10, Alibaba Cloud's metadata at 100.100.100.200), unique local IPv6,
multicast, reserved or unspecified. `allow_private_urls` lifts this for development and tests.
In production only `https://` is accepted. A URL carrying credentials (`user:pass@`) is refused
too: the endpoint's secret signs each call, and a password in a URL would be shown and logged.

At attempt time the dispatcher's HTTP client resolves names through `CheckedResolver`, which
refuses non-public addresses as it connects: a name that later resolves elsewhere (DNS
rebinding) cannot turn a checked URL into a call to an internal address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

MAX_URL_LENGTH = 2000
RESOLVE_TIMEOUT_SECONDS = 3.0

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UrlRefused(Exception):
    """The URL may not be called; the message says why, for people."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL: its parts, and the address to connect to (None: let the client resolve,
    when private addresses are allowed)."""

    url: str
    scheme: str
    host: str
    port: int
    address: str | None


def is_public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def parse(url: str, *, https_only: bool) -> tuple[str, str, int]:
    """Scheme, host and port of a URL we may store; `UrlRefused` otherwise."""
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused(f"must be at most {MAX_URL_LENGTH} characters")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise UrlRefused("must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(f"is not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UrlRefused("must be an http:// or https:// URL")
    if https_only and scheme != "https":
        raise UrlRefused("must be an https:// URL")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("must not carry credentials (user:password@)")
    host = parts.hostname
    if not host:
        raise UrlRefused("must name a host")
    if parts.fragment:
        raise UrlRefused("must not have a #fragment")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        try:
            # What the resolver will be asked: an internationalised name in ASCII form, each
            # label 1–63 characters (a longer one broke the resolver's encoding).
            host.encode("idna")
        except UnicodeError:
            raise UrlRefused(
                "its host is not a valid name (each dot-separated part 1–63 characters)"
            ) from None
    return scheme, host, port or (443 if scheme == "https" else 80)


async def resolve(host: str, port: int) -> list[Address]:
    """Every address `host` resolves to (itself, for an address literal)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError, UnicodeError):
        raise UrlRefused(f"its host {host!r} cannot be resolved") from None
    found: list[Address] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0])
        if address not in found:
            found.append(address)
    if not found:
        raise UrlRefused(f"its host {host!r} cannot be resolved")
    return found


async def check(url: str, *, allow_private: bool, https_only: bool) -> Target:
    """The URL as it may be called, or `UrlRefused` saying why not."""
    scheme, host, port = parse(url, https_only=https_only)
    if allow_private:
        return Target(url, scheme, host, port, None)
    addresses = await resolve(host, port)
    refused = [a for a in addresses if not is_public(a)]
    if refused:
        raise UrlRefused(
            f"resolves to {refused[0]}, a loopback, private, link-local or otherwise "
            "non-public address, which webhooks may not call"
        )
    return Target(url, scheme, host, port, str(addresses[0]))


class RefusedAddress(OSError):
    """Raised by `CheckedResolver`: the name resolves to a non-public address."""


class CheckedResolver(AbstractResolver):
    """The HTTP client's resolver: public addresses only (unless private ones are allowed)."""

    def __init__(self, *, allow_private: bool) -> None:
        self._allow_private = allow_private
        self._resolver = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._resolver.resolve(host, port, family)
        if not self._allow_private:
            for result in found:
                address = ipaddress.ip_address(result["host"])
                if not is_public(address):
                    raise RefusedAddress(
                        f"{host!r} resolves to {address}, a non-public address, which webhooks "
                        "may not call"
                    )
        return found

    async def close(self) -> None:
        await self._resolver.close()


def refusal_of(exc: Any) -> str | None:
    """The reason of a connection error that `CheckedResolver` caused, if it did."""
    cause = getattr(exc, "os_error", None)
    return str(cause) if isinstance(cause, RefusedAddress) else None
