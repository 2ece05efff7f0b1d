"""A loopback reverse proxy in front of an OpenSearch node that checks AWS SigV4 signatures.

Each request's signature is recomputed independently with botocore (`SigV4Auth`, the reference
implementation) from the proxy's own credentials, region and service and the request as it
arrived: its method, path, query, the headers it names as signed, its `X-Amz-Date`, and its body
(which must also match `x-amz-content-sha256` when that header is present). The query is
decoded and handed to botocore as parameters, so it is canonicalized (RFC 3986 encoding,
sorted) as AWS does, whatever encoding the client chose on the wire; the path is taken as it
arrived and encoded again by botocore, as AWS does for services other than S3.

A request with a matching signature is forwarded to the node; any other is answered 403 as
Amazon OpenSearch Service does, and counted. `GET /_sigv4_proxy/stats` (not forwarded, not
signed) answers the counts and the canonical requests of the last mismatch.

    python sigv4_proxy.py --upstream http://127.0.0.1:9200 --port-file PATH \
        --access-key AK --secret-key SK --region us-east-1 --service es
"""

import argparse
import hashlib
import hmac
import http.client
import json
import os
import re
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

STATS_PATH = "/_sigv4_proxy/stats"
AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailer", "transfer-encoding", "upgrade",
}


class Verdict(Exception):
    """Why a request's signature is refused."""


class Proxy:
    def __init__(self, args):
        self.args = args
        self.credentials = Credentials(args.access_key, args.secret_key)
        upstream = urllib.parse.urlsplit(args.upstream)
        self.upstream = (upstream.hostname, upstream.port or 80)
        self.lock = threading.Lock()
        self.stats = {"verified": 0, "mismatches": 0, "unsigned": 0, "last_mismatch": None}

    def count(self, key, detail=None):
        with self.lock:
            self.stats[key] += 1
            if detail is not None:
                self.stats["last_mismatch"] = detail

    def verify(self, method, target, headers, body):
        """Raises `Verdict` unless the request carries a valid signature of our credentials."""
        match = AUTHORIZATION.match(headers.get("authorization", ""))
        if not match:
            raise Verdict("no SigV4 Authorization header")
        access_key, day, region, service, terminator = match["credential"].split("/")
        if access_key != self.args.access_key:
            raise Verdict(f"unknown access key {access_key}")
        if (region, service, terminator) != (self.args.region, self.args.service, "aws4_request"):
            raise Verdict(f"credential scope {region}/{service}/{terminator}")
        amz_date = headers.get("x-amz-date", "")
        if not re.fullmatch(r"\d{8}T\d{6}Z", amz_date) or amz_date[:8] != day:
            raise Verdict(f"X-Amz-Date '{amz_date}' does not match the scope's day {day}")
        declared = headers.get("x-amz-content-sha256")
        if declared is not None and declared != hashlib.sha256(body).hexdigest():
            raise Verdict("x-amz-content-sha256 is not the body's hash")
        signed = match["signed"].split(";")
        if "host" not in signed:
            raise Verdict("the host header is not signed")
        missing = [name for name in signed if name not in headers]
        if missing:
            raise Verdict(f"signed headers missing from the request: {missing}")

        path, _, query = target.partition("?")
        request = AWSRequest(
            method=method,
            url=f"http://{headers['host']}{path}",
            headers={name: headers[name] for name in signed},
            params=urllib.parse.parse_qsl(query, keep_blank_values=True),
            data=body,
        )
        request.context["timestamp"] = amz_date
        auth = SigV4Auth(self.credentials, self.args.service, self.args.region)
        canonical = auth.canonical_request(request)
        expected = auth.signature(auth.string_to_sign(request, canonical), request)
        ours = auth.signed_headers(auth.headers_to_sign(request))
        if ours != match["signed"] or not hmac.compare_digest(expected, match["signature"]):
            raise Verdict(
                "signature mismatch; canonical request (botocore):\n" + canonical
                + f"\nsigned headers (client): {match['signed']}"
            )


def handler(proxy):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet: one line per refusal only
            pass

        def reply(self, status, body, content_type="application/json", extra=()):
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            for name, value in extra:
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def handle_any(self):
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.command == "GET" and self.path == STATS_PATH:
                with proxy.lock:
                    stats = json.dumps(proxy.stats).encode()
                return self.reply(200, stats)
            # Header names are case-insensitive; a repeated header is joined as AWS does.
            headers = {}
            for name, value in self.headers.items():
                lname = name.lower()
                headers[lname] = f"{headers[lname]},{value}" if lname in headers else value
            try:
                proxy.verify(self.command, self.path, headers, body)
            except Verdict as refusal:
                unsigned = "authorization" not in headers
                proxy.count("unsigned" if unsigned else "mismatches",
                            None if unsigned else {"target": self.path, "why": str(refusal)})
                print(f"sigv4-proxy: refused {self.command} {self.path}: {refusal}",
                      file=sys.stderr, flush=True)
                message = {"message": "The request signature we calculated does not match the "
                                      "signature you provided."}
                return self.reply(403, json.dumps(message).encode())
            proxy.count("verified")
            self.forward(headers, body)

        def forward(self, headers, body):
            conn = http.client.HTTPConnection(*proxy.upstream, timeout=60)
            try:
                out = {k: v for k, v in headers.items() if k not in HOP_BY_HOP and k != "host"}
                out["host"] = f"{proxy.upstream[0]}:{proxy.upstream[1]}"
                conn.request(self.command, self.path, body=body or None, headers=out)
                response = conn.getresponse()
                data = response.read()
                extra = [(k, v) for k, v in response.getheaders()
                         if k.lower() not in HOP_BY_HOP | {"content-length", "content-type"}]
                self.reply(response.status, data,
                           response.getheader("content-type", "application/json"), extra)
            except OSError as e:
                self.reply(502, json.dumps({"message": f"upstream: {e}"}).encode())
            finally:
                conn.close()

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = handle_any

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", help="where to write the port once listening")
    parser.add_argument("--access-key", required=True)
    parser.add_argument("--secret-key", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--service", default="es")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(Proxy(args)))
    server.daemon_threads = True
    port = server.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(port))
        os.replace(args.port_file + ".tmp", args.port_file)
    print(f"sigv4-proxy: 127.0.0.1:{port} -> {args.upstream}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
