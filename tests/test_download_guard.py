"""download_url's guard (issue 11): what it may reach, its one network error, its deadline and size cap,
and its own job lane. Every server here is started by the test on 127.0.0.1."""

from __future__ import annotations

import contextlib
import http.server
import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse

import pytest
from archive_factory import make_comic

from lrr_lite.library.intake import download, netguard

GENERIC = download.NETWORK_ERROR
TRICKLE_LIMIT = 15.0  # s: a trickling handler gives up by itself if the client never does


class Handler(http.server.BaseHTTPRequestHandler):
    comic = b""

    def do_GET(self):  # noqa: N802 - http.server's naming
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        try:
            getattr(self, "route_" + url.path.strip("/").replace("-", "_"), self.missing)(query)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def missing(self, query):
        self.send_error(404)

    def route_good(self, query):
        self.send_response(200)
        self.send_header("Content-Disposition", 'attachment; filename="Guarded.cbz"')
        self.send_header("Content-Length", str(len(self.comic)))
        self.end_headers()
        self.wfile.write(self.comic)

    def route_page(self, query):
        body = b"<html>not an archive</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def route_redirect(self, query):
        self.send_response(int(query.get("code", 302)))
        self.send_header("Location", query["to"])
        self.send_header("Content-Length", "0")
        self.end_headers()

    def route_loop(self, query):
        self.send_response(302)
        self.send_header("Location", "/loop")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def route_nolength(self, query):
        # HTTP/1.0 style: the body ends when the connection closes, no length is announced
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Disposition", 'attachment; filename="huge.cbz"')
        self.end_headers()
        self.wfile.write(self.comic + bytes(1_500_000))

    def route_host(self, query):
        body = (self.headers.get("Host") or "").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def route_cut(self, query):
        # announces the whole comic, sends its first half, closes: a cut file must not be imported
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Disposition", 'attachment; filename="cut.cbz"')
        self.send_header("Content-Length", str(len(self.comic)))
        self.end_headers()
        self.wfile.write(self.comic[:len(self.comic) // 2])

    def route_chunked(self, query):
        self.protocol_version = "HTTP/1.1"
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Content-Disposition", 'attachment; filename="huge.cbz"')
        self.end_headers()
        data = self.comic + bytes(1_500_000)
        for i in range(0, len(data), 65536):
            part = data[i:i + 65536]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        self.wfile.write(b"0\r\n\r\n")

    def route_trickle_body(self, query):
        # a valid response whose body comes one byte at a time: every read succeeds, only slowly
        pause = float(query.get("pause", 0.2))
        self.send_response(200)
        self.send_header("Content-Disposition", 'attachment; filename="slow.cbz"')
        self.send_header("Content-Length", str(len(self.comic)))
        self.end_headers()
        self.trickle(self.comic, pause)

    def route_trickle_head(self, query):
        # even the status line and headers come one byte at a time
        head = b"HTTP/1.0 200 OK\r\n" + b"X-Padding: " + b"x" * 200 + b"\r\n\r\n"
        self.trickle(head + self.comic, 0.2)

    def trickle(self, data: bytes, pause: float) -> None:
        ends = time.monotonic() + TRICKLE_LIMIT
        for i in range(len(data)):
            if time.monotonic() > ends:
                return
            self.wfile.write(data[i:i + 1])
            self.wfile.flush()
            time.sleep(pause)

    def log_message(self, *args):
        pass


class Web(http.server.ThreadingHTTPServer):
    daemon_threads = True  # trickling handlers must not hold up shutdown


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    Handler.comic = make_comic(tmp_path_factory.mktemp("web") / "src.cbz", 2, "cbz").read_bytes()
    httpd = Web(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def server(make_server):
    return make_server().start()


def allow_local(server, on: bool = True) -> None:
    server.ctx.settings.set("downloadallowlocal", 1 if on else 0)


def run(server, url: str, timeout: float = 30) -> dict:
    """Queue a download through the API, wait for its job, return the job's result."""
    resp = server.post("/api/download_url", auth=True, params={"url": url})
    assert resp.status_code == 200, resp.text
    job = resp.json()["job"]
    assert server.wait_job(job, timeout=timeout)["state"] == "finished"
    return server.get(f"/api/minion/{job}/detail", auth=True).json()["result"]


def assert_nothing_kept(server) -> None:
    assert not [p for p in server.content.rglob("*") if p.is_file()]
    assert not [p for p in server.ctx.config.temp.iterdir() if p.name.startswith("download-")]


@contextlib.contextmanager
def tcp_server(serve):
    """A bare TCP server on 127.0.0.1 calling serve(conn) for each connection; yields its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def loop() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    def handle(conn) -> None:
        with conn:
            try:
                serve(conn)
            except OSError:
                pass

    threading.Thread(target=loop, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- what may be reached -----------------------------------------------------------------------

def test_loopback_refused_by_default_allowed_by_setting(server, web):
    refused = run(server, web + "/good")
    assert refused["success"] == 0 and refused["message"] == GENERIC and refused["id"] is None
    assert_nothing_kept(server)
    allow_local(server)
    done = run(server, web + "/good")
    assert done["success"] == 1 and done["title"] == "Guarded"


def test_numeric_and_named_loopback_forms_refused(server, web):
    port = urllib.parse.urlsplit(web).port
    forms = ["2130706433", "0x7f000001", "127.1", "017700000001", "0177.0.0.1", "[::ffff:127.0.0.1]",
             "localhost", "127.0.0.2", "0.0.0.0", "0", "[::1]", "[::]"]
    for form in forms:
        result = run(server, f"http://{form}:{port}/page")
        assert result["success"] == 0 and result["message"] == GENERIC, (form, result)
    # the IPv4 forms do lead to the test server: with local addresses allowed, they reach its page,
    # so the refusals above were the guard, not a failed connection
    allow_local(server)
    for form in ["2130706433", "0x7f000001", "127.1", "017700000001", "[::ffff:127.0.0.1]", "localhost"]:
        result = run(server, f"http://{form}:{port}/page")
        assert "not an archive" in result["message"], (form, result)


@pytest.mark.parametrize(("address", "refused"), [
    ("127.0.0.1", True), ("127.255.0.9", True), ("::1", True), ("::ffff:127.0.0.1", True),
    ("169.254.169.254", True), ("fe80::1", True), ("0.0.0.0", True), ("0.1.2.3", True), ("::", True),
    ("224.0.0.1", True), ("ff02::1", True), ("255.255.255.255", True),
    ("10.1.2.3", False), ("172.16.5.5", False), ("192.168.1.20", False), ("fc00::5", False),
    ("fd12:3456::1", False), ("93.184.216.34", False), ("2606:4700::1111", False),
])
def test_address_policy(address, refused):
    ip = ipaddress.ip_address(address)
    assert (netguard.AddressPolicy().refusal(ip) is not None) is refused
    assert netguard.AddressPolicy(allow_local=True).refusal(ip) is None


def test_own_address_refused():
    # the address this machine would send from (a UDP connect sends nothing; it only picks a route)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))
            own = ipaddress.ip_address(probe.getsockname()[0])
    except OSError:
        pytest.skip("no IPv4 route on this machine")
    if own.is_loopback or own.is_link_local:
        pytest.skip("no non-loopback IPv4 address on this machine")
    assert netguard.AddressPolicy().refusal(own) == "an address of this server"
    assert netguard.AddressPolicy(allow_local=True).refusal(own) is None


# --- schemes and redirects ----------------------------------------------------------------------

@pytest.mark.parametrize("url", ["ftp://127.0.0.1/book.cbz", "file:///etc/passwd", "gopher://127.0.0.1/",
                                 "javascript:alert(1)", "//127.0.0.1/book.cbz"])
def test_only_http_and_https(server, url):
    allow_local(server)
    result = run(server, url)
    assert result["success"] == 0 and result["message"] == download.ONLY_HTTP


def test_redirects_followed_but_not_to_another_scheme(server, web):
    allow_local(server)
    q = urllib.parse.quote
    for target in ["ftp://127.0.0.1/book.cbz", "file:///etc/passwd"]:
        result = run(server, f"{web}/redirect?to={q(target)}")
        assert result["success"] == 0 and "not http or https" in result["message"], result
    looping = run(server, web + "/loop")
    assert looping["success"] == 0 and "redirects" in looping["message"]
    # last: a source URL ignores its query, so a success would make the ones above "already downloaded"
    done = run(server, f"{web}/redirect?code=301&to={q(web + '/good')}")
    assert done["success"] == 1 and done["title"] == "Guarded"


class FirstHopOnly(netguard.AddressPolicy):
    """Allows the first address checked (the test server, on loopback), then the default rules: the
    only way a loopback-only test can show that a redirect's target is checked again."""

    def __init__(self) -> None:
        super().__init__(allow_local=False)
        object.__setattr__(self, "left", 1)

    def refusal(self, ip):
        if self.left:
            object.__setattr__(self, "left", self.left - 1)
            return None
        return super().refusal(ip)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "2130706433", "[::ffff:127.0.0.1]"])
def test_redirect_to_loopback_refused(tmp_path, web, host):
    port = urllib.parse.urlsplit(web).port
    url = f"{web}/redirect?to=" + urllib.parse.quote(f"http://{host}:{port}/good")
    with pytest.raises(ValueError, match="^" + GENERIC.replace("(", r"\(").replace(")", r"\)") + "$"):
        download.fetch(url, tmp_path, max_bytes=10**7, timeout=5, deadline=10, policy=FirstHopOnly())
    # the same redirect with local addresses allowed does reach the file
    target, name = download.fetch(url, tmp_path, max_bytes=10**7, timeout=5, deadline=10,
                                  policy=netguard.AddressPolicy(allow_local=True))
    assert name == "Guarded.cbz" and target.read_bytes() == Handler.comic


# --- connections go to the checked address ------------------------------------------------------

def test_connection_pinned_to_checked_address_with_host_header_for_the_name(web):
    """The name is not resolved again when connecting (it cannot resolve at all here), and the
    server still sees it in the Host header: a DNS answer changed after the check changes nothing."""
    port = urllib.parse.urlsplit(web).port
    target = netguard.Target(socket.AF_INET, ("127.0.0.1", port))
    clock = netguard.Deadline(10)
    conn = netguard.PinnedHTTPConnection("rebound.invalid", port, [target], 5, clock)
    try:
        conn.request("GET", "/host")
        response = conn.getresponse()
        assert response.status == 200 and response.read() == f"rebound.invalid:{port}".encode()
    finally:
        conn.close()
        clock.cancel()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for lrr.test (made with the openssl tool)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl tool not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=lrr.test",
                    "-addext", "subjectAltName=DNS:lrr.test"], check=True, capture_output=True)
    return cert, key


def test_https_pinned_with_sni_and_certificate_check(certificate):
    cert, key = certificate
    names: list[str | None] = []
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    server_ctx.sni_callback = lambda sock, name, ctx: names.append(name)

    def tls_hello(conn) -> None:
        with server_ctx.wrap_socket(conn, server_side=True) as tls:
            tls.recv(65536)
            tls.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello")

    client_ctx = ssl.create_default_context(cafile=str(cert))
    with tcp_server(tls_hello) as port:
        target = netguard.Target(socket.AF_INET, ("127.0.0.1", port))
        for host, ok in [("lrr.test", True), ("other.test", False)]:
            clock = netguard.Deadline(10)
            conn = netguard.PinnedHTTPSConnection(host, port, [target], 5, clock, context=client_ctx)
            try:
                if ok:
                    conn.request("GET", "/")
                    assert conn.getresponse().read() == b"hello"
                else:  # the certificate is checked against the name, not the address connected to
                    with pytest.raises(ssl.SSLCertVerificationError):
                        conn.request("GET", "/")
            finally:
                conn.close()
                clock.cancel()
    assert names[0] == "lrr.test"


def test_deadline_cuts_a_stalled_tls_handshake(tmp_path):
    def stall(conn) -> None:
        # a TLS record of 16 KB starting a ServerHello of 16 KB, then one byte every 0.2 s
        conn.sendall(b"\x16\x03\x03\x40\x00" + b"\x02\x00\x3f\xfc")
        ends = time.monotonic() + TRICKLE_LIMIT
        while time.monotonic() < ends:
            conn.sendall(b"\x00")
            time.sleep(0.2)

    with tcp_server(stall) as port:
        started = time.monotonic()
        with pytest.raises(ValueError) as caught:
            download.fetch(f"https://127.0.0.1:{port}/book.cbz", tmp_path, max_bytes=10**6, timeout=30,
                           deadline=1, policy=netguard.AddressPolicy(allow_local=True))
        assert str(caught.value) == GENERIC and time.monotonic() - started < 2.5


# --- one error text for every network failure -----------------------------------------------------

def test_network_failures_share_one_message(server, web):
    """Closed port, refused address, unknown name, a port that does not speak HTTP and TLS on a plain
    HTTP port all read the same: the job result cannot be used to scan ports."""
    def ssh_banner(conn) -> None:
        conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

    with tcp_server(ssh_banner) as not_http:
        messages = {"refused address": run(server, web + "/good")["message"]}
        allow_local(server)
        messages["closed port"] = run(server, f"http://127.0.0.1:{closed_port()}/good")["message"]
        messages["unknown name"] = run(server, "http://nonexistent.invalid/good")["message"]
        messages["not http"] = run(server, f"http://127.0.0.1:{not_http}/good")["message"]
        messages["tls on plain http"] = run(server, web.replace("http:", "https:") + "/good")["message"]
    assert messages == dict.fromkeys(messages, GENERIC)


# --- deadline and size cap ------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "message"), [
    ("/trickle-body", "took longer than the 1 s limit"),
    ("/trickle-head", GENERIC),  # no response yet: a timeout, like any other network failure
])
def test_overall_deadline(server, web, path, message):
    allow_local(server)
    server.ctx.settings.set("downloaddeadline", 1)
    server.ctx.settings.set("downloadtimeout", 30)  # each byte comes well within it
    started = time.monotonic()
    result = run(server, web + path)
    took = time.monotonic() - started
    assert result["success"] == 0 and message in result["message"], result
    assert took < 3.0, took
    assert_nothing_kept(server)


@pytest.mark.parametrize("path", ["/nolength", "/chunked"])
def test_size_cap_counts_received_bytes(server, web, path):
    allow_local(server)
    server.ctx.settings.set("downloadmaxsize", 1)  # MB; the body is 1.5 MB and announces no length
    result = run(server, web + path)
    assert result["success"] == 0 and "too large" in result["message"], result
    assert_nothing_kept(server)


def test_body_shorter_than_announced_is_a_network_failure(server, web):
    allow_local(server)
    result = run(server, web + "/cut")
    assert result["success"] == 0 and result["message"] == GENERIC, result
    assert_nothing_kept(server)


# --- the download lane ----------------------------------------------------------------------------

def test_slow_downloads_do_not_hold_thumbnails(make_server, web):
    """Two downloads from a server sending one byte every 0.5 s: they run one at a time on their own
    worker, while a page thumbnail is made at once by the general workers."""
    server = make_server()
    make_comic(server.content / "book.cbz", 3, "cbz")
    server.start()
    allow_local(server)
    server.ctx.settings.set("downloaddeadline", 2)
    archive_id = server.get("/api/archives").json()[0]["arcid"]
    jobs = [server.post("/api/download_url", auth=True,
                        params={"url": f"{web}/trickle-body?pause=0.5&n={n}"}).json()["job"] for n in range(2)]
    ends = time.monotonic() + 5
    while server.get(f"/api/minion/{jobs[0]}").json()["state"] != "active":
        assert time.monotonic() < ends, "the first download never started"
        time.sleep(0.02)

    started = time.monotonic()
    resp = server.get(f"/api/archives/{archive_id}/thumbnail", params={"page": 2, "no_fallback": "true"})
    assert resp.status_code == 202, resp.text
    thumb = server.wait_job(resp.json()["job"], timeout=10)
    took = time.monotonic() - started
    assert thumb["state"] == "finished" and took < 1.0, (thumb, took)
    # the lane has one worker: the second download waits for the first, not for a general worker
    assert [server.get(f"/api/minion/{j}").json()["state"] for j in jobs] == ["active", "inactive"]

    for job in jobs:
        assert server.wait_job(job, timeout=10)["state"] == "finished"
        result = server.get(f"/api/minion/{job}/detail", auth=True).json()["result"]
        assert result["success"] == 0 and "took longer" in result["message"]
    assert server.ctx.jobs.wait_idle(5)
