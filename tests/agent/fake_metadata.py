"""Fake cloud metadata servers over real HTTP: AWS IMDSv2, GCP metadata and Azure Scheduled Events, and each
cloud's instance identity (for the bootstrap exchange).

Each checks the headers the real service requires (and answers like it when they are missing), records the
requests it saw, and lets a test switch a notice on, or say which instance it is (`set_identity`):
- AWS: /latest/dynamic/instance-identity/document, /signature (base64 RSA SHA-256 over the document's bytes,
  https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/verify-signature.html) and /pkcs7 behind the IMDSv2 token
  (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/retrieve-iid.html);
- GCP: instance/service-accounts/default/identity?audience=...&format=full, a JWT whose payload names the
  instance under google.compute_engine (https://cloud.google.com/compute/docs/instances/verifying-instance-identity);
- Azure: /metadata/attested/document?api-version=...&nonce=..., {"encoding": "pkcs7", "signature": base64 of a
  PKCS#7 SignedData whose content is the JSON naming vmId and the nonce}
  (https://learn.microsoft.com/azure/virtual-machines/instance-metadata-service#attested-data).
The signatures are real, made with the test keys of tests/agent/cloud_keys.py (`state.keys`; no cloud key here):
the JWT is RS256 under the key the fake JWKS serves, the AWS signature is RSA under the test "AWS certificate",
the Azure document is a PKCS#7 SignedData made by OpenSSL (through `cryptography`) with a `metadata.azure.com`
signer certificate issued by the test CA. The AWS /pkcs7 form's signature is filler (the daemon uses /signature).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from providers.azure.der import signed_data
from tests.agent.cloud_keys import CloudKeys, default_keys


class MetadataState:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.instance_action: dict[str, Any] | None = None
        self.rebalance: dict[str, Any] | None = None
        self.tokens: set[str] = set()
        self.gcp_preempted = threading.Event()
        self.gcp_maintenance = "NONE"  # instance/maintenance-event; set it with set_gcp_maintenance
        self.gcp_changed = threading.Condition()
        self.azure_events: list[dict[str, Any]] = []
        self.azure_acks: list[dict[str, Any]] = []
        self.aws_identity: dict[str, Any] | None = None  # the instance identity document
        self.gcp_identity: dict[str, Any] | None = None  # google.compute_engine claims
        self.gcp_service_account = True  # False: a VM without a service account (no identity token)
        self.azure_identity: dict[str, Any] | None = None  # attested content, less the nonce (added per request)
        self.keys: CloudKeys = default_keys()  # what the proofs are signed with
        self.gcp_token_lifetime_s = 3600  # the identity token's exp - iat (negative: already expired)
        self.lock = threading.Lock()

    def set_identity(self, cloud: str, instance_id: str, *, region: str = "", zone: str = "",
                     account: str = "") -> None:
        """Be instance `instance_id` (EC2 instance id, GCE numeric id or Azure vmId) of `cloud`."""
        with self.lock:
            if cloud == "aws":
                self.aws_identity = {"instanceId": instance_id, "region": region, "availabilityZone": zone,
                                     "accountId": account or "123456789012", "instanceType": "g5.xlarge"}
            elif cloud == "gcp":
                self.gcp_identity = {"instance_id": instance_id, "instance_name": instance_id, "zone": zone,
                                     "project_id": account, "project_number": 1234}
            else:
                self.azure_identity = {"vmId": instance_id, "subscriptionId": account, "sku": "22_04-lts",
                                       "timeStamp": {"createdOn": "01/01/26 00:00:00 -0000",
                                                     "expiresOn": "01/01/68 00:00:00 -0000"}}

    def set_gcp_maintenance(self, value: str) -> None:
        """NONE, MIGRATE_ON_HOST_MAINTENANCE or TERMINATE_ON_HOST_MAINTENANCE; wakes the hanging long polls."""
        with self.gcp_changed:
            self.gcp_maintenance = value
            self.gcp_changed.notify_all()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def gcp_identity_jwt(claims: dict[str, Any], audience: str, key: rsa.RSAPrivateKey, kid: str,
                     lifetime_s: int = 3600) -> str:
    """A GCE identity token: header.payload.signature, base64url, RS256 under `key`, as Google signs them
    (https://cloud.google.com/compute/docs/instances/verifying-instance-identity#token_format)."""
    now = int(time.time())
    payload = {"aud": audience, "azp": "1234", "exp": now + lifetime_s, "iat": now,
               "iss": "https://accounts.google.com", "sub": "1234", "google": {"compute_engine": claims}}
    signing_input = ".".join([_b64url(json.dumps({"alg": "RS256", "kid": kid, "typ": "JWT"}).encode()),
                              _b64url(json.dumps(payload).encode())])
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64url(signature)}"


def azure_attested(content: bytes, keys: CloudKeys) -> str:
    """Azure's attested `signature`: base64 of a PKCS#7 SignedData holding `content`, its signer certificate and
    signed attributes (what OpenSSL's PKCS7_sign makes, as Azure's is)."""
    builder = pkcs7.PKCS7SignatureBuilder().set_data(content).add_signer(keys.azure_cert, keys.azure_key,
                                                                         hashes.SHA256())
    for intermediate in keys.azure_intermediates:
        builder = builder.add_certificate(intermediate)
    der = builder.sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    return base64.b64encode(der).decode()


def _handler(state: MetadataState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

        def _send(self, code: int, body: str | bytes = b"", headers: dict[str, str] | None = None) -> None:
            data = body.encode() if isinstance(body, str) else body
            self.send_response(code)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with state.lock:
                state.requests.append((self.command, self.path, dict(self.headers), body))
            return body

        def do_PUT(self) -> None:  # noqa: N802
            self._record()
            if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                token = f"tok-{len(state.tokens)}"
                state.tokens.add(token)
                return self._send(200, token)
            return self._send(400, "missing TTL header")

        def do_GET(self) -> None:  # noqa: N802
            self._record()
            url = urlparse(self.path)
            if url.path.startswith("/latest/dynamic/instance-identity/"):
                if self.headers.get("X-aws-ec2-metadata-token") not in state.tokens:
                    return self._send(401, "")
                if state.aws_identity is None:
                    return self._send(404, "Not Found")
                document = json.dumps(state.aws_identity, indent=2)
                if url.path.endswith("/document"):
                    return self._send(200, document)
                if url.path.endswith("/signature"):
                    signature = state.keys.aws_key.sign(document.encode(), padding.PKCS1v15(), hashes.SHA256())
                    return self._send(200, base64.encodebytes(signature).decode())  # wrapped at 76, as IMDS's
                if url.path.endswith("/pkcs7"):  # base64 DER without PEM armour, as IMDS serves it
                    return self._send(200, base64.b64encode(signed_data(document.encode())).decode())
                return self._send(404, "Not Found")
            plain = {"/computeMetadata/v1/instance/id": "instance_id", "/computeMetadata/v1/instance/zone": "zone",
                     "/computeMetadata/v1/project/project-id": "project_id"}
            if url.path in plain and state.gcp_identity is not None:
                if self.headers.get("Metadata-Flavor") != "Google":
                    return self._send(403, "Missing Metadata-Flavor:Google header.")
                value = str(state.gcp_identity[plain[url.path]])
                return self._send(200, f"projects/1234/zones/{value}" if url.path.endswith("/zone") else value)
            if url.path == "/computeMetadata/v1/instance/service-accounts/default/identity":
                if self.headers.get("Metadata-Flavor") != "Google":
                    return self._send(403, "Missing Metadata-Flavor:Google header.")
                if not state.gcp_service_account:  # GCE has no identity token for a VM without one
                    return self._send(404, "Not Found")
                query = parse_qs(url.query)
                if not query.get("audience") or state.gcp_identity is None:
                    return self._send(400, "non-empty audience parameter required")
                claims = state.gcp_identity if query.get("format") == ["full"] else {}
                return self._send(200, gcp_identity_jwt(claims, query["audience"][0], state.keys.gcp_key,
                                                        state.keys.gcp_kid, state.gcp_token_lifetime_s))
            if url.path == "/metadata/attested/document":
                query = parse_qs(url.query)
                if self.headers.get("Metadata") != "true" or "api-version" not in query:
                    return self._send(400, json.dumps({"error": "Bad request"}))
                if state.azure_identity is None:
                    return self._send(404, json.dumps({"error": "Not found"}))
                content = {**state.azure_identity, "nonce": query.get("nonce", [""])[0]}
                signature = azure_attested(json.dumps(content).encode(), state.keys)
                return self._send(200, json.dumps({"encoding": "pkcs7", "signature": signature}),
                                  {"Content-Type": "application/json"})
            if url.path.startswith("/latest/meta-data/"):
                if self.headers.get("X-aws-ec2-metadata-token") not in state.tokens:
                    return self._send(401, "")  # IMDSv2 refuses tokenless requests
                doc = state.instance_action if url.path.endswith("spot/instance-action") else (
                    state.rebalance if url.path.endswith("recommendations/rebalance") else None)
                return self._send(200, json.dumps(doc)) if doc else self._send(404, "Not Found")
            if url.path == "/computeMetadata/v1/instance/preempted":
                if self.headers.get("Metadata-Flavor") != "Google":
                    return self._send(403, "Missing Metadata-Flavor:Google header.")
                query = parse_qs(url.query)
                if query.get("wait_for_change") == ["true"]:
                    state.gcp_preempted.wait(float(query.get("timeout_sec", ["5"])[0]))
                value = "TRUE" if state.gcp_preempted.is_set() else "FALSE"
                return self._send(200, value, {"ETag": value.lower(), "Metadata-Flavor": "Google"})
            if url.path == "/computeMetadata/v1/instance/maintenance-event":
                if self.headers.get("Metadata-Flavor") != "Google":
                    return self._send(403, "Missing Metadata-Flavor:Google header.")
                query = parse_qs(url.query)
                with state.gcp_changed:  # GCE: wait_for_change answers at once when last_etag is not current
                    if query.get("wait_for_change") == ["true"] and \
                            query.get("last_etag", [None])[0] in (None, state.gcp_maintenance.lower()):
                        seen = state.gcp_maintenance
                        state.gcp_changed.wait_for(lambda: state.gcp_maintenance != seen,
                                                   float(query.get("timeout_sec", ["5"])[0]))
                    value = state.gcp_maintenance
                return self._send(200, value, {"ETag": value.lower(), "Metadata-Flavor": "Google"})
            if url.path == "/metadata/scheduledevents":
                if self.headers.get("Metadata") != "true" or "api-version" not in parse_qs(url.query):
                    return self._send(400, json.dumps({"error": "Bad request"}))
                with state.lock:
                    doc = {"DocumentIncarnation": len(state.azure_events), "Events": list(state.azure_events)}
                return self._send(200, json.dumps(doc), {"Content-Type": "application/json"})
            return self._send(404, "no such path")

        def do_POST(self) -> None:  # noqa: N802
            body = self._record()
            if urlparse(self.path).path == "/metadata/scheduledevents" and self.headers.get("Metadata") == "true":
                with state.lock:
                    state.azure_acks.append(json.loads(body))
                return self._send(200, "")
            return self._send(400, "")

    return Handler


@contextmanager
def fake_metadata_server() -> Iterator[tuple[str, MetadataState]]:
    state = MetadataState()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        state.gcp_preempted.set()
        state.set_gcp_maintenance("SHUTDOWN")  # releases the hanging maintenance-event polls
        server.shutdown()
        server.server_close()
