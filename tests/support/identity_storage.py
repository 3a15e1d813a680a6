"""What an identity-based storage connection talks to in Azure, on a local HTTPS server:
the App Service managed identity endpoint (IDENTITY_ENDPOINT, IDENTITY_HEADER), which hands
out tokens, and Blob Storage's Get User Delegation Key, which takes one. Azurite signs
account-key SAS only, so this is where the user delegation path is exercised.

The server's certificate is self-signed; clients trust it through REQUESTS_CA_BUNDLE."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import os
import ssl
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

IDENTITY_HEADER = "identity-header-for-tests"
OBJECT_ID = "5a1b2c3d-0000-4000-8000-00000000beef"  # the identity, as keys name it (skoid)
TENANT_ID = "7e8f9a0b-0000-4000-8000-00000000cafe"
CLIENT_ID = "6f0e4c5e-8d4b-4f5a-9a57-3c2b1d0e9f11"  # the managed identity the template gives the app


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files in `folder`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@dataclass
class DelegationKeyRequest:
    token: str
    start: str
    expiry: str


@dataclass
class IdentityStorage:
    """The running server: its URLs, and the requests it answered."""

    cert_file: Path
    port: int = 0
    token_requests: list[dict[str, list[str]]] = field(default_factory=list)
    key_requests: list[DelegationKeyRequest] = field(default_factory=list)  # those answered with a key
    # Faults of Get User Delegation Key: each request is counted as it arrives (key_arrived
    # set), then held while `key_gate` is unset, then answered `key_status` (403: the
    # identity lacks the role) or, when 200, a key.
    key_attempts: int = 0
    key_arrived: threading.Event = field(default_factory=threading.Event)
    key_gate: threading.Event = field(default_factory=threading.Event)
    key_status: int = 200
    _server: ThreadingHTTPServer | None = None

    @property
    def identity_endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}/msi/token"

    def blob_service_uri(self, account: str) -> str:
        return f"https://127.0.0.1:{self.port}/{account}"

    def start(self, key_file: Path) -> IdentityStorage:
        storage = self
        self.key_gate.set()  # open unless a test holds it

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # the managed identity endpoint
                url = urlsplit(self.path)
                if url.path != "/msi/token" or self.headers.get("X-IDENTITY-HEADER") != IDENTITY_HEADER:
                    return self._send(401, b"{}", "application/json")
                query = parse_qs(url.query)
                storage.token_requests.append(query)
                expires = int(dt.datetime.now(dt.UTC).timestamp()) + 3600
                token = {"access_token": f"token-{len(storage.token_requests)}", "expires_on": str(expires),
                         "resource": query["resource"][0], "token_type": "Bearer"}
                self._send(200, json.dumps(token).encode(), "application/json")

            def do_POST(self) -> None:  # Get User Delegation Key
                query = parse_qs(urlsplit(self.path).query)
                auth = self.headers.get("Authorization", "")
                if query.get("comp") != ["userdelegationkey"] or not auth.startswith("Bearer "):
                    return self._send(403, b"", "application/xml")
                info = ET.fromstring(self.rfile.read(int(self.headers["Content-Length"])))
                storage.key_attempts += 1
                storage.key_arrived.set()
                storage.key_gate.wait(60)
                if storage.key_status != 200:
                    error = ('<?xml version="1.0" encoding="utf-8"?><Error>'
                             "<Code>AuthorizationPermissionMismatch</Code><Message>This request is not "
                             "authorized to perform this operation using this permission.</Message></Error>")
                    return self._send(storage.key_status, error.encode(), "application/xml")
                start, expiry = info.findtext("Start") or "", info.findtext("Expiry") or ""
                storage.key_requests.append(DelegationKeyRequest(auth.removeprefix("Bearer "), start, expiry))
                key = base64.b64encode(os.urandom(32)).decode()
                body = (
                    '<?xml version="1.0" encoding="utf-8"?><UserDelegationKey>'
                    f"<SignedOid>{OBJECT_ID}</SignedOid><SignedTid>{TENANT_ID}</SignedTid>"
                    f"<SignedStart>{start}</SignedStart><SignedExpiry>{expiry}</SignedExpiry>"
                    "<SignedService>b</SignedService><SignedVersion>2025-11-05</SignedVersion>"
                    f"<Value>{key}</Value></UserDelegationKey>"
                )
                self._send(200, body.encode(), "application/xml")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, key_file)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
