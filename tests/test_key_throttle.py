"""Guessed API keys back off (http/auth.KeyGuard): after KEY_FREE wrong keys from one address, every request of
it that offers a key is answered 429 with Retry-After, unread, for 1 s, 2 s, 4 s …; requests without a key
are never slowed, a right key after the wait clears the count; KOReader's sync routes count the same way.
Real server on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import time

from lrr_lite.http.auth import KEY_FREE


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + base64.b64encode(key.encode()).decode()}


def test_wrong_keys_back_off_and_the_right_key_clears_them(make_server):
    server = make_server(scan=False).start()
    for n in range(KEY_FREE):
        resp = server.get("/api/shinobu", headers=bearer(f"guess-{n}"))
        assert resp.status_code == 401, n  # the first KEY_FREE are answered as LANraragi does
    barred = server.get("/api/shinobu", headers=bearer("guess-x"))
    assert barred.status_code == 429 and barred.json()["success"] == 0
    wait = int(barred.headers["Retry-After"])
    assert 1 <= wait <= 2
    # while barred the key is not even read: the right one gets 429 too, so guessing gains nothing
    assert server.get("/api/shinobu", auth=True).status_code == 429
    assert server.get("/api/shinobu", params={"key": "guess-q"}).status_code == 429
    # a request offering no key is not slowed
    assert server.get("/api/info").status_code == 200
    time.sleep(wait + 0.1)
    assert server.get("/api/shinobu", auth=True).status_code == 200  # the right key clears the count
    for n in range(KEY_FREE - 1):
        assert server.get("/api/shinobu", headers=bearer(f"again-{n}")).status_code == 401


def test_no_back_off_without_password_protection(make_server):
    server = make_server(scan=False).start()
    server.ctx.settings.set("enablepass", 0)
    for n in range(KEY_FREE + 5):
        assert server.get("/api/archives", headers=bearer(f"guess-{n}")).status_code == 200


def test_kosync_logins_back_off_too(make_server):
    server = make_server(scan=False).start()

    def auth(key: str):
        return server.get("/kosync/users/auth", headers={"x-auth-user": "reader",
                                                         "x-auth-key": hashlib.md5(key.encode()).hexdigest(),
                                                         "Accept": "application/vnd.koreader.v1+json"})

    for n in range(KEY_FREE):
        resp = auth(f"guess-{n}")
        assert resp.status_code == 401 and resp.json()["code"] == 2001
    barred = auth("test-key")  # the right key, during the bar
    assert barred.status_code == 429 and barred.json()["code"] == 2001 and barred.headers["Retry-After"]
    time.sleep(int(barred.headers["Retry-After"]) + 0.1)
    assert auth("test-key").status_code == 200
