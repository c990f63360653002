"""The soak run's load: a county's day of people using the JSON API and the dashboard, compressed.

Threads and the standard library's http.client (nothing to install). Each role acts as its people do:
  grid workers  report events with photos (multipart, bearer token, client UUID); a phone retries a
                report on 503 or a broken connection with the SAME UUID until it gets a 2xx, as the
                mobile outbox does; a few re-send a report they already got an answer for (lost answer);
                now and then they verify a handled event of their own (verify_pass with a photo);
  dispatchers   register reported events, dispatch registered ones, close verified ones (If-Match);
  handlers      accept dispatched tasks of their department and submit results with a photo;
  supervisors   get a token through POST /api/v1/auth/token, then load the dashboard and the stats API.
Every answer is recorded by route and status; the reports' fate is kept by UUID for the end checks.
A small SMS gateway (HTTP on loopback) counts what the app's SMS channel delivers.
"""
from __future__ import annotations

import http.client
import io
import json
import random
import socket
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image

REPORT_ROUTE = "POST /api/v1/events"


# ---------------------------------------------------------------- recording
@dataclass
class Recorder:
    started: float = field(default_factory=time.monotonic)
    latencies: dict = field(default_factory=lambda: defaultdict(list))
    statuses: dict = field(default_factory=lambda: defaultdict(Counter))
    samples: list = field(default_factory=list)
    timeline: list = field(default_factory=list)  # (t, route, outcome) for the bad ones, to match with faults
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, route: str, status: int, seconds: float, headers=None, body: bytes = b"") -> str:
        outcome = classify(status, headers)
        with self.lock:
            self.statuses[route][outcome] += 1
            if status > 0:
                self.latencies[route].append(seconds)
            if outcome not in ("2xx", "409 conflict"):
                self.timeline.append((round(time.monotonic() - self.started, 1), route, outcome))
                if outcome not in ("503 Retry-After", "connection error") and len(self.samples) < 30:
                    self.samples.append({"route": route, "status": status,
                                         "body": body[:300].decode("utf-8", "replace")})
        return outcome

    def totals(self) -> Counter:
        total = Counter()
        for counter in self.statuses.values():
            total.update(counter)
        return total


def classify(status: int, headers) -> str:
    if status < 0:
        return "connection error"
    if 200 <= status < 300:
        return "2xx"
    if status == 409:
        return "409 conflict"
    if status == 503:
        return "503 Retry-After" if headers is not None and headers.get("Retry-After") else "503 without Retry-After"
    if status >= 500:
        return f"{status} server error"
    return f"{status}"


ACCEPTABLE = {"2xx", "409 conflict", "503 Retry-After", "connection error"}


# ---------------------------------------------------------------- HTTP
class Client:
    """One person's connection (gunicorn's sync workers close it after each answer anyway)."""

    def __init__(self, host: str, port: int, recorder: Recorder, token: str | None = None, timeout: float = 60):
        self.host, self.port, self.recorder, self.token, self.timeout = host, port, recorder, token, timeout
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, route: str, body: bytes | None = None,
                headers: dict | None = None) -> tuple[int, object, bytes]:
        headers = dict(headers or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        started = time.perf_counter()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
            status, got = response.status, response.headers
            if response.will_close:
                self.close()
        except (OSError, http.client.HTTPException):
            self.close()
            status, got, data = -1, None, b""
        self.recorder.record(route, status, time.perf_counter() - started, got, data)
        return status, got, data

    def json(self, method: str, path: str, route: str, payload=None, headers: dict | None = None):
        body = None if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        hdrs = {"Accept": "application/json", **(headers or {})}
        if body is not None:
            hdrs["Content-Type"] = "application/json"
        status, got, data = self.request(method, path, route, body, hdrs)
        try:
            parsed = json.loads(data) if data and got is not None and "json" in got.get("Content-Type", "") else None
        except ValueError:
            parsed = None
        return status, got, parsed

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
            self.conn = None


def multipart(fields: dict, files: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    boundary = "soak" + uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n".encode())
        out.write(str(value).encode("utf-8") + b"\r\n")
    for name, filename, data in files:
        out.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n"
                  f"Content-Type: image/jpeg\r\n\r\n".encode())
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def photo(rng: random.Random) -> bytes:
    """A small JPEG unlike any other, as a phone camera's pictures are."""
    image = Image.new("RGB", (64, 48), tuple(rng.randrange(256) for _ in range(3)))
    pixels = image.load()
    for _ in range(24):
        pixels[rng.randrange(64), rng.randrange(48)] = tuple(rng.randrange(256) for _ in range(3))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def retry_after(headers) -> float:
    try:
        return float(headers.get("Retry-After")) if headers is not None else 1.0
    except (TypeError, ValueError):
        return 1.0


# ---------------------------------------------------------------- SMS gateway
class SmsGateway:
    """POST {"to", "text", "id"}: counts each notification id it is handed."""

    def __init__(self):
        self.received: Counter = Counter()
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    key = json.loads(self.rfile.read(length))["id"]
                except (ValueError, KeyError):
                    self.send_response(400)
                    self.end_headers()
                    return
                with gateway.lock:
                    gateway.received[key] += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="sms-gateway", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/sms"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- the day
@dataclass
class LoadConfig:
    host: str
    port: int
    plan: dict
    seconds: float
    report_rate: float            # reports per second, all grid workers together
    report_threads: int = 24
    replay_share: float = 0.03    # reports re-sent after their 2xx (the answer was "lost")
    verify_share: float = 0.25    # after a report, look for a handled event of one's own to verify
    think_scale: float = 1.0      # multiplies every pause between a person's actions
    flush_seconds: float = 180.0  # after the day ends, phones keep retrying their unsent reports this long
    seed: int = 11


class Day:
    def __init__(self, config: LoadConfig, log=print):
        self.c = config
        self.say = log
        self.recorder = Recorder()
        self.stop = threading.Event()        # the day is over: no new work
        self.give_up_at = float("inf")       # phones stop retrying (monotonic time)
        self.lock = threading.Lock()
        self.acked: dict[str, dict] = {}
        self.failed: dict[str, str] = {}
        self.replay_mismatch: list[str] = []
        self.pending: set[str] = set()
        self.reports_started = 0
        self.slot = 0
        self.actions: Counter = Counter()
        self.threads: list[threading.Thread] = []

    # -- grid workers
    def _next_slot(self, t0: float) -> bool:
        with self.lock:
            i = self.slot
            self.slot += 1
        due = t0 + i / self.c.report_rate
        while not self.stop.is_set():
            wait = due - time.monotonic()
            if wait <= 0:
                return True
            self.stop.wait(min(wait, 1.0))
        return False

    def _report_loop(self, index: int) -> None:
        rng = random.Random(self.c.seed * 1000 + index)
        workers = self.c.plan["grid_workers"]
        categories = self.c.plan["categories"]
        clients = {}
        t0 = self.t0
        while self._next_slot(t0):
            worker = rng.choice(workers)
            client = clients.get(worker["username"]) or Client(self.c.host, self.c.port, self.recorder, worker["token"])
            clients[worker["username"]] = client
            self.report(client, worker, rng, categories)
            if rng.random() < self.c.verify_share and not self.stop.is_set():
                self.verify(client, rng)

    def report(self, client: Client, worker: dict, rng: random.Random, categories) -> None:
        client_uuid = f"soak-{uuid.UUID(int=rng.getrandbits(128)).hex}"
        lon, lat = rng.choice(worker["points"])
        code, _dept = rng.choice(categories)
        n_photos = rng.choice((1, 1, 2))
        fields = {"category": code, "description": f"巡查发现：{code} 问题 #{client_uuid[-6:]}", "lon": lon, "lat": lat,
                  "urgency": rng.choice((1, 1, 1, 2)), "address": "soak 路 1 号", "client_uuid": client_uuid,
                  "accuracy_m": 8}
        body, content_type = multipart(fields, [("photos", f"p{i}.jpg", photo(rng)) for i in range(n_photos)])
        with self.lock:
            self.reports_started += 1
            self.pending.add(client_uuid)
        attempts = 0
        while True:
            attempts += 1
            status, headers, data = client.request("POST", "/api/v1/events", REPORT_ROUTE, body,
                                                   {"Content-Type": content_type, "Accept": "application/json"})
            if 200 <= status < 300:
                answer = json.loads(data)
                with self.lock:
                    self.acked[client_uuid] = {"id": answer["id"], "photos": n_photos, "attempts": attempts,
                                               "first_status": status}
                    self.pending.discard(client_uuid)
                break
            if status in (-1, 502, 503, 504) and time.monotonic() < self.give_up_at:
                # The phone's outbox: wait as told (or a moment after a broken connection), send again.
                pause = min(retry_after(headers), 5.0) if status == 503 else rng.uniform(0.5, 2.0)
                time.sleep(pause * rng.uniform(0.8, 1.2))
                continue
            with self.lock:
                self.failed[client_uuid] = f"status {status}: {data[:200].decode('utf-8', 'replace')}"
                self.pending.discard(client_uuid)
            return
        if rng.random() < self.c.replay_share:
            status, _headers, data = client.request("POST", "/api/v1/events", REPORT_ROUTE, body,
                                                    {"Content-Type": content_type, "Accept": "application/json"})
            if 200 <= status < 300:
                answer = json.loads(data)
                with self.lock:
                    self.acked[client_uuid]["replayed"] = True
                    if status != 200 or answer["id"] != self.acked[client_uuid]["id"] or not answer.get("replay"):
                        self.replay_mismatch.append(client_uuid)

    def verify(self, client: Client, rng: random.Random) -> None:
        status, _h, page = client.json("GET", "/api/v1/events?state=handled&mine=1&per_page=5",
                                       "GET /api/v1/events (list)")
        if status != 200 or not page or not page["items"]:
            return
        item = rng.choice(page["items"])
        self._act_with_detail(client, item["id"], "verify_pass", rng, photos=True,
                              fields={"comment": "现场核查，已处理完毕"})

    # -- staff
    def _act(self, client: Client, event_id: int, version: int, action: str, rng: random.Random,
             photos: bool = False, fields: dict | None = None) -> int:
        path = f"/api/v1/events/{event_id}/actions/{action}"
        route = f"POST /api/v1/events/{{id}}/actions/{action}"
        headers = {"If-Match": f'"{version}"', "Accept": "application/json"}
        if photos:
            body, content_type = multipart(fields or {}, [("photos", "r.jpg", photo(rng))])
            status, _h, _d = client.request("POST", path, route, body, {**headers, "Content-Type": content_type})
        else:
            status, _h, _d = client.json("POST", path, route, fields or {}, headers)
        if 200 <= status < 300:
            with self.lock:
                self.actions[action] += 1
        return status

    def _act_with_detail(self, client: Client, event_id: int, action: str, rng: random.Random, **kwargs) -> int:
        status, headers, detail = client.json("GET", f"/api/v1/events/{event_id}", "GET /api/v1/events/{id}")
        if status != 200 or not detail or action not in detail.get("allowed_actions", []):
            return 0
        return self._act(client, event_id, detail["version"], action, rng, **kwargs)

    def _pick(self, client: Client, query: str, rng: random.Random):
        status, _h, page = client.json("GET", f"/api/v1/events?{query}&per_page=20", "GET /api/v1/events (list)")
        if status != 200 or not page or not page["items"]:
            return None
        return rng.choice(page["items"])

    def _pause(self, rng: random.Random, low: float, high: float) -> None:
        self.stop.wait(rng.uniform(low, high) * self.c.think_scale)

    def _dispatcher_loop(self, person: dict, index: int) -> None:
        rng = random.Random(self.c.seed * 2000 + index)
        client = Client(self.c.host, self.c.port, self.recorder, person["token"])
        area = person["township"]
        while not self.stop.is_set():
            item = self._pick(client, f"state=handled&area={area}", rng)
            if item is not None:
                self._act_with_detail(client, item["id"], "close", rng)
                self._pause(rng, 0.3, 1.0)
            item = self._pick(client, f"state=registered&area={area}", rng)
            if item is not None:
                self._act(client, item["id"], item["version"], "dispatch", rng,
                          fields={"comment": "请按时限处置"})
                self._pause(rng, 0.3, 1.0)
            item = self._pick(client, f"state=reported&area={area}", rng)
            if item is not None:
                self._act(client, item["id"], item["version"], "register", rng)
            self._pause(rng, 0.5, 1.5)

    def _handler_loop(self, person: dict, index: int) -> None:
        rng = random.Random(self.c.seed * 3000 + index)
        client = Client(self.c.host, self.c.port, self.recorder, person["token"])
        department = person["department"]
        self._pause(rng, 0, 3)
        while not self.stop.is_set():
            item = self._pick(client, f"state=in_progress&department={department}", rng)
            if item is not None:
                self._act(client, item["id"], item["version"], "submit_result", rng, photos=True,
                          fields={"comment": "已到场处置完毕"})
                self._pause(rng, 0.5, 1.5)
            item = self._pick(client, f"state=dispatched&department={department}", rng)
            if item is not None:
                self._act(client, item["id"], item["version"], "accept", rng)
            self._pause(rng, 1.5, 4.0)

    def _supervisor_loop(self, person: dict, index: int) -> None:
        rng = random.Random(self.c.seed * 4000 + index)
        client = Client(self.c.host, self.c.port, self.recorder)
        while not self.stop.is_set() and client.token is None:
            status, headers, body = client.json("POST", "/api/v1/auth/token", "POST /api/v1/auth/token",
                                                {"username": person["username"], "password": self.c.plan["password"],
                                                 "label": "soak"})
            if status == 201 and body:
                client.token = body["token"]
            else:
                self.stop.wait(min(retry_after(headers), 5.0) if status == 503 else 2.0)
        county = self.c.plan["county"]
        while not self.stop.is_set():
            client.request("GET", "/dashboard/?period=this_month", "GET /dashboard", headers={"Accept": "text/html"})
            self._pause(rng, 1.0, 3.0)
            group = rng.choice(("township", "department", "category"))
            client.json("GET", f"/api/v1/stats?group_by={group}&area={county}", "GET /api/v1/stats")
            self._pause(rng, 2.0, 5.0)

    # -- running
    def start(self) -> None:
        self.t0 = time.monotonic()
        self.recorder.started = self.t0
        spawn = [(self._report_loop, (i,)) for i in range(self.c.report_threads)]
        spawn += [(self._dispatcher_loop, (p, i)) for i, p in enumerate(self.c.plan["dispatchers"])]
        spawn += [(self._handler_loop, (p, i)) for i, p in enumerate(self.c.plan["handlers"])]
        spawn += [(self._supervisor_loop, (p, i)) for i, p in enumerate(self.c.plan["supervisors"])]
        for target, args in spawn:
            thread = threading.Thread(target=target, args=args, daemon=True)
            thread.start()
            self.threads.append(thread)

    def finish(self) -> float:
        """End the day; let the phones send what they still hold. Returns the day's length in seconds."""
        self.stop.set()
        ended = time.monotonic()
        self.give_up_at = ended + self.c.flush_seconds
        for thread in self.threads:
            thread.join(timeout=max(1.0, self.give_up_at + 70 - time.monotonic()))
        with self.lock:
            for client_uuid in self.pending:
                self.failed.setdefault(client_uuid, "still unsent when the phones gave up")
        return ended - self.t0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def wait_until_serving(host: str, port: int, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(host, port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return True
        except (OSError, http.client.HTTPException, socket.timeout):
            pass
        time.sleep(0.5)
    return False
