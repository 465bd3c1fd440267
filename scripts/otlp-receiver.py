#!/usr/bin/env python3
"""A small OTLP/HTTP trace receiver: decodes each ExportTraceServiceRequest (protobuf) with the
opentelemetry-proto package and appends one JSON line per span to --out (or stdout).

    scripts/otlp-receiver.py [--port 4318] [--out spans.jsonl]

Prints "listening on PORT" once ready (--port 0 picks a free one). Used by the tracing tests,
and handy to see what a sidecar exports: OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318.
Needs `pip install opentelemetry-proto` (scripts/install-deps.sh makes .build/test-venv).
"""
import argparse, json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest, ExportTraceServiceResponse)

def value(any_value):
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None

def spans(request):
    for resource_spans in request.resource_spans:
        resource = {a.key: value(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield {
                    "service": resource.get("service.name"),
                    "name": span.name,
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex(),
                    "kind": span.kind,
                    "start_ns": span.start_time_unix_nano,
                    "end_ns": span.end_time_unix_nano,
                    "attributes": {a.key: value(a.value) for a in span.attributes},
                    "events": [{"name": e.name, "time_ns": e.time_unix_nano} for e in span.events],
                    "status_code": span.status.code,
                    "status_message": span.status.message,
                }

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=4318)
    parser.add_argument("--out", default="-")
    args = parser.parse_args()
    out = sys.stdout if args.out == "-" else open(args.out, "a", buffering=1)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path != "/v1/traces" or self.headers.get("Content-Type") != "application/x-protobuf":
                self.send_error(404 if self.path != "/v1/traces" else 415)
                return
            request = ExportTraceServiceRequest()
            try:
                request.ParseFromString(body)
            except Exception as error:  # a malformed export is the sender's bug: say so
                self.send_error(400, f"undecodable ExportTraceServiceRequest: {error}")
                return
            with lock:
                for span in spans(request):
                    out.write(json.dumps(span) + "\n")
            reply = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"listening on {server.server_address[1]}", flush=True)
    server.serve_forever()

if __name__ == "__main__":
    main()
