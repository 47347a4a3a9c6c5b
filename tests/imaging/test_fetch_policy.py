"""fetch_url's address policy, redirects and pinning, with a fake resolver and httpx.MockTransport.

No test here opens a socket: names resolve through ``fake_resolver`` (or, for numeric hosts and
localhost, through the system resolver, which answers those without the network), and the default
transport refuses to be used at all, which proves a refused URL is never requested.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from pixembed.errors import FetchFailed, PayloadTooLarge, UrlRefused
from pixembed.imaging import fetch_url, refusal_reason

PUBLIC = "93.184.216.34"
PUBLIC_V6 = "2606:2800:220:1:248:1893:25c8:1946"
DNS = {
    "images.example": [PUBLIC],
    "two.example": [PUBLIC, "93.184.216.35"],
    "cdn.example": [PUBLIC_V6],
    "evil.example": ["10.1.2.3"],
    "mixed.example": [PUBLIC, "127.0.0.1"],
    "mapped.example": ["::ffff:169.254.169.254"],
}
PNG = b"\x89PNG\r\n\x1a\n" + b"pretend pixels" * 10


async def fake_resolver(host: str, port: int) -> list[str]:
    if host not in DNS:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return list(DNS[host])


def refuse_all(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"a refused URL must never be requested, but {request.url} was")


async def fetch(
    url: str,
    handler: Callable[[httpx.Request], httpx.Response] = refuse_all,
    *,
    resolver: object = fake_resolver,
    **limits: object,
) -> bytes:
    options: dict[str, object] = {
        "max_bytes": 1_000_000,
        "connect_timeout_s": 2.0,
        "total_timeout_s": 5.0,
        "max_redirects": 3,
    }
    options.update(limits)
    return await fetch_url(url, transport=httpx.MockTransport(handler), resolver=resolver, **options)  # type: ignore[arg-type]


REFUSED = [
    ("ftp://images.example/cat.png", "ftp"),
    ("file:///etc/passwd", "file"),
    ("gopher://images.example/", "gopher"),
    ("//images.example/cat.png", "without a scheme"),
    ("http://127.0.0.1/", "loopback"),
    ("http://10.0.0.1/", "private"),
    ("http://172.16.0.1", "private"),
    ("http://192.168.1.1", "private"),
    ("http://169.254.169.254/latest/meta-data", "cloud metadata"),
    ("http://169.254.10.10/", "link-local"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://100.64.0.1/", "carrier-grade NAT"),
    ("http://224.0.0.1/", "multicast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://[::1]/", "loopback"),
    ("http://[::]/", "unspecified"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://[::ffff:10.0.0.1]/", "private"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fc00::1]/", "private"),
    ("http://[fd00:ec2::254]/", "cloud metadata"),
    ("http://168.63.129.16/machine?comp=goalstate", "cloud metadata"),  # Azure WireServer
    ("http://192.0.0.192/opc/v2/instance/", "cloud metadata"),  # Oracle Cloud
    ("http://192.0.0.199/", "cloud metadata"),  # the rest of its /29
    ("http://169.254.170.2/v2/credentials/x", "cloud metadata"),  # ECS task credentials
    ("http://[fec0::1]/", "site-local"),
    ("http://[feff::1]/", "site-local"),
    ("http://[2002:7f00:1::]/", "loopback (IPv4 127.0.0.1 inside IPv6)"),  # 6to4
    ("http://[64:ff9b::a00:1]/", "private (IPv4 10.0.0.1 inside IPv6)"),  # NAT64
    ("http://evil.example/", "evil.example resolves to 10.1.2.3, a private address"),
    ("http://mixed.example/", "127.0.0.1"),  # one bad address among good ones is enough
    ("http://mapped.example/", "cloud metadata"),
    ("http://user:secret@images.example/", "credentials"),
    ("http://images.example@127.0.0.1/", "credentials"),
    ("http://0177.0.0.1/", "not a valid URL"),  # httpx itself refuses leading-zero dotted quads
]


@pytest.mark.anyio
@pytest.mark.parametrize(("url", "reason"), REFUSED)
async def test_refused_urls_are_never_requested(url: str, reason: str) -> None:
    with pytest.raises(UrlRefused) as caught:
        await fetch(url)
    assert reason in caught.value.message


@pytest.mark.anyio
@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0x7f.0.0.1/",
        "http://0177.1/",
        "http://127.1/",
        "http://localhost/",
    ],
)
async def test_odd_loopback_spellings_are_caught_after_system_resolution(url: str) -> None:
    with pytest.raises(UrlRefused) as caught:
        await fetch(url, resolver=None)
    message = caught.value.message
    assert "loopback" in message
    assert "127.0.0.1" in message or "::1" in message


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        (PUBLIC, None),
        (PUBLIC_V6, None),
        ("8.8.8.8", None),
        ("10.255.255.255", "private"),
        ("172.31.0.1", "private"),
        ("172.32.0.1", None),
        ("::ffff:8.8.8.8", None),
        ("fe80::1%eth0", "link-local"),
        ("2001::80ff:fffe", "loopback (IPv4 127.0.0.1 inside IPv6)"),
        ("2002:808:808::1", None),
        ("::7f00:1", "loopback (IPv4 127.0.0.1 inside IPv6)"),
        ("not an address", "unparseable"),
    ],
)
def test_refusal_reason(address: str, reason: str | None) -> None:
    assert refusal_reason(address) == reason


@pytest.mark.anyio
@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.170.2/v2/credentials/x",
        "http://168.63.129.16/",
        "http://192.0.0.192/",
        "http://[fd00:ec2::254]/",
    ],
)
async def test_credential_endpoints_stay_refused_when_private_urls_are_allowed(url: str) -> None:
    with pytest.raises(UrlRefused) as caught:
        await fetch(url, allow_private=True)
    assert "cloud metadata" in caught.value.message


@pytest.mark.anyio
async def test_allowing_private_urls_opens_site_local_and_the_rest_of_link_local() -> None:
    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=PNG, headers={"Content-Type": "image/png"})

    for url in ("http://[fec0::1]/a.png", "http://169.254.170.3/a.png", "http://192.0.0.200/a.png"):
        assert await fetch(url, serve, allow_private=True) == PNG, url


@pytest.mark.anyio
async def test_the_request_goes_to_the_checked_address_with_the_original_host_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=PNG)

    assert await fetch("http://images.example:8080/cat.png?size=2", handler) == PNG
    (request,) = seen
    assert (request.url.host, request.url.port, request.url.raw_path) == (PUBLIC, 8080, b"/cat.png?size=2")
    assert request.headers["host"] == "images.example:8080"
    assert "sni_hostname" not in request.extensions


@pytest.mark.anyio
async def test_https_keeps_the_name_for_tls_verification() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=PNG)

    assert await fetch("https://images.example/cat.png", handler) == PNG
    assert seen[0].url.scheme == "https"
    assert seen[0].url.host == PUBLIC
    assert seen[0].extensions["sni_hostname"] == "images.example"
    assert seen[0].headers["host"] == "images.example"


@pytest.mark.anyio
async def test_ipv6_addresses_are_pinned_too() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=PNG)

    await fetch("http://cdn.example/a.png", handler)
    assert seen[0].url.host == PUBLIC_V6
    assert seen[0].headers["host"] == "cdn.example"


@pytest.mark.anyio
async def test_dns_rebinding_cannot_swap_the_address_after_the_check() -> None:
    answers = iter([[PUBLIC], ["127.0.0.1"], ["127.0.0.1"]])

    async def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.host == PUBLIC
        return httpx.Response(200, content=PNG)

    assert await fetch("http://images.example/cat.png", handler, resolver=rebinding) == PNG


@pytest.mark.anyio
async def test_the_next_address_is_tried_when_one_refuses_the_connection() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == PUBLIC:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, content=PNG)

    assert await fetch("http://two.example/cat.png", handler) == PNG


def redirecting(location: str) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/start":
            return httpx.Response(302, headers={"Location": location})
        return httpx.Response(200, content=PNG)

    return handler


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://127.0.0.1/admin", "loopback"),
        ("http://[::1]:8080/", "loopback"),
        ("http://evil.example/x.png", "10.1.2.3"),
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
        ("file:///etc/passwd", "file"),
        ("http://2130706433/", "loopback"),
    ],
)
async def test_a_redirect_to_a_refused_url_is_refused(location: str, reason: str) -> None:
    resolver = None if "2130706433" in location else fake_resolver

    async def resolve(host: str, port: int) -> list[str]:
        if host == "images.example":
            return [PUBLIC]
        assert resolver is None
        return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]

    with pytest.raises(UrlRefused, match=reason):
        await fetch("http://images.example/start", redirecting(location), resolver=resolver or resolve)


@pytest.mark.anyio
async def test_relative_redirects_are_followed_and_each_hop_is_resolved_again() -> None:
    looked_up: list[str] = []

    async def counting(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return await fake_resolver(host, port)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/a":
            return httpx.Response(301, headers={"Location": "/b"})
        if request.url.path == "/b":
            return httpx.Response(307, headers={"Location": "https://cdn.example/c"})
        assert request.headers["host"] == "cdn.example"
        return httpx.Response(200, content=PNG)

    assert await fetch("http://images.example/a", handler, resolver=counting) == PNG
    assert looked_up == ["images.example", "images.example", "cdn.example"]


@pytest.mark.anyio
async def test_too_many_redirects_fail() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "/again"})

    with pytest.raises(FetchFailed, match="more than 3 redirects"):
        await fetch("http://images.example/", handler)
    with pytest.raises(FetchFailed, match="more than 0 redirects"):
        await fetch("http://images.example/start", redirecting("/image"), max_redirects=0)


@pytest.mark.anyio
@pytest.mark.parametrize("status", [404, 403, 500, 503, 304])
async def test_error_statuses_fail_and_name_the_status(status: int) -> None:
    with pytest.raises(FetchFailed, match=str(status)):
        await fetch("http://images.example/x.png", lambda request: httpx.Response(status))


@pytest.mark.anyio
async def test_a_declared_length_over_the_cap_is_refused_before_reading() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": "5000000000"}, content=b"tiny")

    with pytest.raises(PayloadTooLarge, match="declares 5,000,000,000 bytes"):
        await fetch("http://images.example/x.png", handler)


@pytest.mark.anyio
async def test_a_streamed_body_over_the_cap_is_cut_off_at_the_cap() -> None:
    sent: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        for index in range(1000):
            sent.append(index)
            yield b"x" * 10_000

    with pytest.raises(PayloadTooLarge):
        await fetch(
            "http://images.example/x.png",
            lambda request: httpx.Response(200, content=body()),
            max_bytes=25_000,
        )
    assert len(sent) == 3


@pytest.mark.anyio
async def test_resolution_and_connection_failures_are_fetch_failures() -> None:
    with pytest.raises(FetchFailed, match=r"could not resolve nowhere\.example"):
        await fetch("http://nowhere.example/x.png")

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(FetchFailed, match=r"could not connect to two\.example"):
        await fetch("http://two.example/x.png", unreachable)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    with pytest.raises(FetchFailed, match="timed out"):
        await fetch("http://images.example/x.png", slow)
