"""A toy server whose instructions per request are known in ratio, for dbbench cost's tests.

`python tests/costtoy.py PORT`: GET /loops/K runs the same loop K times, then answers 200; any
other path answers 404. Standard library only, one request at a time."""

import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

ITERATIONS = 5000


def spin() -> int:
    total = 0
    for number in range(ITERATIONS):
        total += number * number % 7
    return total


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection for a whole batch

    def do_GET(self):  # noqa: N802 - http.server's name
        head, _, loops = self.path.rpartition("/")
        if head != "/loops" or not loops.isdigit():
            self.answer(404, b"no such path")
            return
        for _ in range(int(loops)):
            spin()
        self.answer(200, b"ok")

    def answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args) -> None:
        pass


if __name__ == "__main__":
    HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
