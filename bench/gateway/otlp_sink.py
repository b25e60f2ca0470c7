"""A local OTLP/HTTP collector stand-in for the telemetry cost benchmark: accepts
``POST /v1/traces`` (protobuf), counts the spans, answers an empty success.

    python -m bench.gateway.otlp_sink --port 14318      # GET /stats -> {"requests", "spans"}
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

STATS = {"requests": 0, "spans": 0}
LOCK = threading.Lock()


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the OpenTelemetry Collector's receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        spans = 0
        if self.path == "/v1/traces":
            request = ExportTraceServiceRequest.FromString(body)
            spans = sum(
                len(scope.spans) for rs in request.resource_spans for scope in rs.scope_spans
            )
        with LOCK:
            STATS["requests"] += 1
            STATS["spans"] += spans
        reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def do_GET(self) -> None:
        with LOCK:
            raw = json.dumps(STATS).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=14318)
    args = parser.parse_args()
    ThreadingHTTPServer(("127.0.0.1", args.port), Sink).serve_forever()


if __name__ == "__main__":
    main()
