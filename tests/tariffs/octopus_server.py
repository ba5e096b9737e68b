"""A stand-in for Octopus Energy's API on 127.0.0.1: an http.server answering standard-unit-rates
requests in Octopus's documented shape ({"count", "next", "previous", "results": [...]}, newest
first, `page_size` a page), from prices it is given. It can fail a page (HTTP 500) to test a fetch
that stops half way. Used by the tests and by bench/bench_tariffs.py; never the internet."""

import datetime as dt
import json
import threading
import urllib.parse
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def agile_prices(start: dt.datetime, count: int) -> list[dict]:
    """`count` half-hourly results from `start` (UTC), prices varying through the day, as Octopus gives them."""
    results = []
    for index in range(count):
        begins = start + dt.timedelta(minutes=30 * index)
        exc_vat = Decimal(8 + (index % 48) * Decimal("0.5") + (index // 48) % 7).quantize(Decimal("0.0001"))
        inc_vat = (exc_vat * Decimal("1.05")).quantize(Decimal("0.0001"))
        results.append({
            "value_exc_vat": float(exc_vat), "value_inc_vat": float(inc_vat),
            "valid_from": begins.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "valid_to": (begins + dt.timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ"), "payment_method": None,
        })  # fmt: skip
    return results


class OctopusServer:
    def __init__(self, results: list[dict]):
        self.results = sorted(results, key=lambda result: result["valid_from"], reverse=True)
        self.fail_pages: set[int] = set()  # pages answered with HTTP 500
        self.junk_pages: dict[int, bytes] = {}  # pages answered with this body instead
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                server.requests.append(self.path)
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                page = int(query.get("page", "1"))
                if page in server.fail_pages or not url.path.endswith("/standard-unit-rates/"):
                    self.send_response(500 if page in server.fail_pages else 404)
                    self.end_headers()
                    return
                if page in server.junk_pages:
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(server.junk_pages[page])
                    return
                size = int(query.get("page_size", "100"))
                chosen = [r for r in server.results
                          if r["valid_from"] < query["period_to"] and r["valid_to"] > query["period_from"]]  # fmt: skip
                rows = chosen[(page - 1) * size : page * size]
                following = urllib.parse.urlencode(query | {"page": page + 1})
                body = json.dumps({
                    "count": len(chosen),
                    "next": f"{server.url}{url.path}?{following}" if page * size < len(chosen) else None,
                    "previous": None, "results": rows,
                }).encode()  # fmt: skip
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "OctopusServer":
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
