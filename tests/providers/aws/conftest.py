"""Session-scoped moto server on 127.0.0.1 and an injector for what moto does not model.

The server starts once per session (~0.2 s, plus ~1-2 s for the first EC2 backend) and is reset
before each test through POST /moto-api/reset. Responses moto lacks (realistic spot prices,
pricing, placement scores, capacity errors) are injected as real XML/JSON through botocore's
`before-send` event, so the real parsers, paginators and retry handlers run on them.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest
from botocore.awsrequest import AWSResponse

from providers.aws import AWSProvider
from providers.aws.config import AWSConfig

REGION = "us-east-1"
AMI = "ami-0abcdef1234567890"
_FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}

# Realistic spot prices (USD/h) per pool; us-east-1b is the cheapest g5.xlarge zone on purpose.
SPOT_PRICES: dict[tuple[str, str], float] = {
    ("g5.xlarge", "us-east-1a"): 0.4217,
    ("g5.xlarge", "us-east-1b"): 0.3914,
    ("g5.xlarge", "us-east-1c"): 0.4493,
    ("g5.2xlarge", "us-east-1a"): 0.5102,
    ("g5.2xlarge", "us-east-1b"): 0.4988,
    ("p4d.24xlarge", "us-east-1a"): 12.9103,
    ("p4de.24xlarge", "us-east-1b"): 16.3863,
}


class _Body:
    """The `raw` an AWSResponse reads its content from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def response(request: Any, status: int, body: str, content_type: str = "text/xml") -> AWSResponse:
    return AWSResponse(request.url, status, {"Content-Type": content_type}, _Body(body.encode()))


def ec2_error(request: Any, code: str, status: int = 500) -> AWSResponse:
    body = (
        f"<Response><Errors><Error><Code>{code}</Code><Message>injected {code}</Message></Error></Errors>"
        "<RequestID>injected</RequestID></Response>"
    )
    return response(request, status, body)


def form(request: Any) -> dict[str, list[str]]:
    """The form-encoded parameters of an EC2 (query protocol) request."""
    body = request.body or b""
    return parse_qs(body.decode() if isinstance(body, bytes) else str(body))


def spot_history_xml(request: Any, prices: dict[tuple[str, str], float], page_size: int = 3) -> AWSResponse:
    """A paged DescribeSpotPriceHistory answer for the requested types: each pool also has an older,
    higher price, so the adapter must keep the latest one."""
    params = form(request)
    types = {v[0] for k, v in params.items() if k.startswith("InstanceType.")}
    now = datetime.now(UTC).replace(microsecond=0)
    items = []
    for (itype, zone), price in sorted(prices.items()):
        if itype in types:
            items.append((itype, zone, price * 1.5, now - timedelta(days=3)))
            items.append((itype, zone, price, now - timedelta(hours=2)))
    start = int(params.get("NextToken", ["0"])[0])
    page = items[start : start + page_size]
    token = str(start + page_size) if start + page_size < len(items) else ""
    xml = "".join(
        f"<item><instanceType>{t}</instanceType><productDescription>Linux/UNIX</productDescription>"
        f"<spotPrice>{p:.6f}</spotPrice><timestamp>{ts.isoformat().replace('+00:00', '.000Z')}</timestamp>"
        f"<availabilityZone>{z}</availabilityZone></item>"
        for t, z, p, ts in page
    )
    body = (
        '<DescribeSpotPriceHistoryResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
        f"<requestId>injected</requestId><spotPriceHistorySet>{xml}</spotPriceHistorySet>"
        f"<nextToken>{token}</nextToken></DescribeSpotPriceHistoryResponse>"
    )
    return response(request, 200, body)


# On-demand list prices the injected Pricing API answers with (us-east-1, USD/h).
ON_DEMAND_PRICES: dict[str, float] = {
    "g5.xlarge": 1.006, "g5.2xlarge": 1.212, "g5.4xlarge": 1.624, "g5.8xlarge": 2.448, "g5.12xlarge": 5.672,
    "g5.16xlarge": 4.096, "g5.24xlarge": 8.144, "g5.48xlarge": 16.288, "p4d.24xlarge": 21.96,
    "p4de.24xlarge": 27.45,
}


def pricing_json(request: Any, prices: dict[str, float]) -> AWSResponse:
    """A GetProducts answer in the Pricing API's shape: PriceList holds JSON strings."""
    sent = json.loads(request.body or b"{}")
    fields = {f["Field"]: f["Value"] for f in sent.get("Filters", [])}
    itype = fields.get("instanceType", "")
    items = []
    if itype in prices:
        sku = "SKU" + itype.replace(".", "")
        items.append(json.dumps({
            "product": {"sku": sku, "attributes": {"instanceType": itype, "regionCode": fields.get("regionCode")}},
            "terms": {"OnDemand": {f"{sku}.JRTCKXETXF": {"priceDimensions": {f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
                "unit": "Hrs", "pricePerUnit": {"USD": f"{prices[itype]:.10f}"}}}}}},
        }))
    body = json.dumps({"FormatVersion": "aws_v1", "PriceList": items})
    return response(request, 200, body, "application/x-amz-json-1.1")


Handler = Callable[[Any], AWSResponse | None]


class Injector:
    """Counts every request by (service, operation) and answers those a test scripted."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self.handlers: dict[tuple[str, str], Handler] = {}
        self.bodies: dict[tuple[str, str], list[dict[str, list[str]]]] = {}

    def __call__(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        _, service, operation = event_name.split(".", 2)
        key = (service, operation)
        self.calls[key] += 1
        if service == "ec2":
            self.bodies.setdefault(key, []).append(form(request))
        handler = self.handlers.get(key)
        return handler(request) if handler else None

    def on(self, service: str, operation: str, handler: Handler) -> None:
        self.handlers[(service, operation)] = handler

    def count(self, service: str, operation: str) -> int:
        return self.calls[(service, operation)]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    saved = {k: os.environ.get(k) for k in [*_FAKE_ENV, "AWS_PROFILE", "AWS_ENDPOINT_URL"]}
    os.environ.update(_FAKE_ENV)
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(key, None)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def endpoint(moto_endpoint: str) -> str:
    """The server, reset: no instance, queue or rule survives from another test."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).close()
    return moto_endpoint


@pytest.fixture
def injector() -> Injector:
    inj = Injector()
    inj.on("ec2", "DescribeSpotPriceHistory", lambda request: spot_history_xml(request, SPOT_PRICES))
    inj.on("pricing", "GetProducts", lambda request: pricing_json(request, ON_DEMAND_PRICES))
    return inj


@pytest.fixture
def make_provider(endpoint: str, injector: Injector) -> Callable[..., AWSProvider]:
    """Build providers wired to the reset server, with the injector on every client they create."""

    def make(**overrides: Any) -> AWSProvider:
        settings: dict[str, Any] = {
            "regions": (REGION,), "endpoint_url": endpoint, "ami": AMI, "max_attempts": 2,
            "connect_timeout": 2.0, "read_timeout": 20.0, **overrides,
        }
        provider = AWSProvider(AWSConfig(**settings))
        provider.clients.events.register_first("before-send", injector)
        return provider

    return make


@pytest.fixture
def provider(make_provider: Callable[..., AWSProvider]) -> AWSProvider:
    return make_provider()


@pytest.fixture
def ec2_backend(endpoint: str) -> Any:
    """moto's in-process EC2 backend of REGION (the threaded server shares this process)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ec2.models import ec2_backends

    return ec2_backends[DEFAULT_ACCOUNT_ID][REGION]
