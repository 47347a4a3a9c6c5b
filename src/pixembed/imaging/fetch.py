"""Download an image by URL without letting the URL reach into the server's own network (SSRF).

Every hop is checked the same way: the scheme must be http(s), the host is resolved here and each
address it resolves to must be public, and the request then goes to that checked address itself, with
the original name kept in ``Host`` and in TLS SNI. Connecting to the name instead would let DNS answer
differently a second time (rebinding) after the check passed.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable

import anyio
import httpx

from pixembed import __version__
from pixembed.errors import FetchFailed, PayloadTooLarge, UrlRefused
from pixembed.imaging.sources import read_limited

Resolver = Callable[[str, int], Awaitable[list[str]]]

_HEADERS = {
    "Accept": "image/*",
    # Images are compressed already; asking for identity keeps a gzip bomb from expanding in memory.
    "Accept-Encoding": "identity",
    "User-Agent": f"pixembed/{__version__}",
}
# Credential and platform endpoints of cloud hosts, refused even with PIXEMBED_ALLOW_PRIVATE_URLS: AWS IMDS
# (and its IPv6 form), ECS task metadata, EKS Pod Identity (and its IPv6 form), Alibaba, Azure's WireServer,
# Oracle Cloud's metadata block (192.0.0.192/29).
_CLOUD_METADATA = tuple(
    ipaddress.ip_network(network)
    for network in (
        "169.254.169.254/32",
        "fd00:ec2::254/128",
        "169.254.170.2/32",
        "169.254.170.23/32",
        "fd00:ec2::23/128",
        "100.100.100.200/32",
        "168.63.129.16/32",
        "192.0.0.192/29",
    )
)
# Deprecated IPv6 site-local addresses: Python does not count them private, but they are a LAN's.
_SITE_LOCAL = ipaddress.IPv6Network("fec0::/10")
_SHARED_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


async def fetch_url(
    url: str,
    *,
    max_bytes: int,
    connect_timeout_s: float,
    total_timeout_s: float,
    max_redirects: int,
    allow_private: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver | None = None,
) -> bytes:
    """The body at an http(s) URL, refusing private addresses on every hop, within time and size limits.

    Raises ``UrlRefused`` (scheme, credentials, non-public address), ``PayloadTooLarge`` (over
    ``max_bytes``, by Content-Length or while streaming) and ``FetchFailed`` (DNS, connection, HTTP
    status, too many redirects, or ``total_timeout_s`` passed). ``transport`` and ``resolver`` are
    for tests; ``allow_private`` is for trusted deployments.
    """
    start = _parse_url(url)
    timeout = httpx.Timeout(total_timeout_s, connect=connect_timeout_s)
    try:
        # One deadline over DNS, connects, redirects and the body: httpx's timeouts are per operation,
        # so a server trickling a byte a second would otherwise never time out.
        with anyio.fail_after(total_timeout_s):
            async with httpx.AsyncClient(
                transport=transport, timeout=timeout, follow_redirects=False, trust_env=False
            ) as client:
                return await _follow(
                    client,
                    start,
                    resolve=resolver or _system_resolve,
                    allow_private=allow_private,
                    max_bytes=max_bytes,
                    max_redirects=max_redirects,
                )
    except TimeoutError as exc:
        raise FetchFailed(f"fetching from {start.host} took longer than {total_timeout_s:g} s") from exc


async def _follow(
    client: httpx.AsyncClient,
    url: httpx.URL,
    *,
    resolve: Resolver,
    allow_private: bool,
    max_bytes: int,
    max_redirects: int,
) -> bytes:
    """Fetch ``url``, following at most ``max_redirects`` redirects, each re-checked from scratch."""
    for _ in range(max_redirects + 1):
        addresses = await _allowed_addresses(url, resolve, allow_private)
        outcome = await _get_once(client, url, addresses, max_bytes)
        if isinstance(outcome, bytes):
            return outcome
        url = outcome
    raise FetchFailed(f"more than {max_redirects} redirects, the last to {url.host}")


async def _get_once(
    client: httpx.AsyncClient, url: httpx.URL, addresses: list[str], max_bytes: int
) -> bytes | httpx.URL:
    """One GET: the body, or the (already parsed and scheme-checked) URL it redirects to."""
    try:
        response = await _send_pinned(client, url, addresses)
        try:
            if response.has_redirect_location:
                return _redirect_target(url, response.headers["location"])
            if not response.is_success:
                raise FetchFailed(
                    f"{url.host} answered HTTP {response.status_code} {response.reason_phrase}".rstrip()
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise PayloadTooLarge(
                    f"{url.host} declares {int(declared):,} bytes, over the limit of {max_bytes:,} bytes"
                )
            return await read_limited(response.aiter_bytes(), max_bytes)
        finally:
            await response.aclose()
    except httpx.TimeoutException as exc:
        raise FetchFailed(f"timed out fetching from {url.host} ({type(exc).__name__})") from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        # InvalidURL: an address httpx cannot put in a URL, such as a scoped IPv6 one.
        raise FetchFailed(f"fetching from {url.host} failed: {exc or type(exc).__name__}") from exc


async def _send_pinned(client: httpx.AsyncClient, url: httpx.URL, addresses: list[str]) -> httpx.Response:
    """Send to each checked address in turn until one accepts the connection."""
    extensions = {}
    if url.scheme == "https" and _ip_literal(url.host) is None:
        # The connection goes to an IP, so TLS must be told which name to send and verify.
        extensions["sni_hostname"] = url.raw_host.decode("ascii")
    headers = {**_HEADERS, "Host": url.netloc.decode("ascii")}
    failure: httpx.TransportError | None = None
    for address in addresses:
        target = url if _ip_literal(url.host) is not None else url.copy_with(host=address)
        request = client.build_request("GET", target, headers=headers, extensions=extensions)
        try:
            return await client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            failure = exc
    raise FetchFailed(f"could not connect to {url.host}: {failure or 'no address'}")


async def _allowed_addresses(url: httpx.URL, resolve: Resolver, allow_private: bool) -> list[str]:
    """The addresses to connect to for ``url``; ``UrlRefused`` if any of them is not public."""
    literal = _ip_literal(url.host)
    if literal is not None:
        addresses = [literal]
    else:
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            addresses = await resolve(url.raw_host.decode("ascii"), port)
        except OSError as exc:
            raise FetchFailed(f"could not resolve {url.host}: {exc}") from exc
        if not addresses:
            raise FetchFailed(f"{url.host} resolves to no address")
    for address in addresses:
        reason = refusal_reason(address)
        # allow_private opens the LAN to trusted deployments, never the cloud metadata service,
        # whose credentials are what an SSRF is after.
        if reason is not None and (not allow_private or reason.startswith("cloud metadata")):
            article = "an" if reason[0] in "aeiou" else "a"
            raise UrlRefused(
                f"{url.host} resolves to {address}, {article} {reason} address; "
                "only public addresses are fetched"
            )
    return addresses


async def _system_resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to; getaddrinfo blocks, so anyio runs it in a worker thread."""
    infos = await anyio.getaddrinfo(host.encode("ascii"), port, type=socket.SOCK_STREAM)
    # getaddrinfo also normalises the odd IPv4 spellings (2130706433, 0x7f.1, 0177.1) to dotted quads.
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def refusal_reason(address: str) -> str | None:
    """Why fetching from ``address`` is refused ("loopback", "private", ...), or None for a public one."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "unparseable"
    if any(ip.version == network.version and ip in network for network in _CLOUD_METADATA):
        return "cloud metadata"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            # A mapped address is the IPv4 host itself, reached over a dual-stack socket.
            inner = refusal_reason(str(ip.ipv4_mapped))
            return None if inner is None else f"{inner} (IPv4 {ip.ipv4_mapped} inside IPv6)"
        embedded = _embedded_ipv4(ip)
        if embedded is not None and (inner := refusal_reason(str(embedded))) is not None:
            return f"{inner} (IPv4 {embedded} inside IPv6)"
    flags = (
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("site-local", isinstance(ip, ipaddress.IPv6Address) and ip in _SITE_LOCAL),
        ("shared (carrier-grade NAT)", ip in _SHARED_CGNAT),
        ("non-global", not ip.is_global),
    )
    return next((label for label, flagged in flags if flagged), None)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a tunnelling or translating IPv6 one carries (6to4, Teredo, NAT64, compatible)."""
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _parse_url(raw: str) -> httpx.URL:
    """Parse and vet one URL: http(s) only, a host, and no credentials to confuse what the host is."""
    try:
        url = httpx.URL(raw)
    except (httpx.InvalidURL, TypeError) as exc:
        raise UrlRefused(f"{raw[:200]!r} is not a valid URL: {exc}") from exc
    if url.scheme not in ("http", "https"):
        scheme = f"{url.scheme}:" if url.scheme else "a URL without a scheme"
        raise UrlRefused(f"only http and https URLs are fetched, not {scheme}")
    if url.userinfo:
        raise UrlRefused("URLs with credentials (user@host) are not fetched")
    if not url.host:
        raise UrlRefused(f"{raw[:200]!r} has no host")
    return url


def _redirect_target(current: httpx.URL, location: str) -> httpx.URL:
    """The URL a ``Location`` header points to, relative to the current one, vetted like the first."""
    try:
        return _parse_url(str(current.join(location)))
    except httpx.InvalidURL as exc:
        raise UrlRefused(f"{current.host} redirected to an invalid URL: {exc}") from exc


def _ip_literal(host: str) -> str | None:
    """``host`` itself when it is an IP address written out, else None."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None
