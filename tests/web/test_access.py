"""Who may use the web page (web/access.py): the token, the loopback Host, same-origin changes."""

from __future__ import annotations

import stat

from kiosk.web.access import Asked, ensure_token, refusal, token_path

TOKEN, PORT = "s3cret-token", 8080


def asked(method="GET", host="localhost:8080", cookie=TOKEN, **headers) -> Asked:
    return Asked(method, host, cookie, **headers)


def test_the_token_is_made_once_private_and_kept(tmp_path):
    first = ensure_token(tmp_path)
    assert len(first) >= 32 and ensure_token(tmp_path) == first
    assert stat.S_IMODE(token_path(tmp_path).stat().st_mode) == 0o600
    token_path(tmp_path).write_text("")  # an emptied file is a missing one
    assert ensure_token(tmp_path) not in ("", first)


def test_pages_need_the_token_at_this_loopback_address():
    assert refusal(asked(), TOKEN, PORT) == ""
    for host in ("127.0.0.1:8080", "[::1]:8080"):
        assert refusal(asked(host=host), TOKEN, PORT) == ""
    assert "log in" in refusal(asked(cookie=""), TOKEN, PORT)
    assert "log in" in refusal(asked(cookie="s3cret-tokeN"), TOKEN, PORT)
    # A web site whose name points at 127.0.0.1 (DNS rebinding), or another port.
    for host in ("evil.example:8080", "localhost:8081", "localhost", ""):
        assert "answers only at http://localhost:8080/" in refusal(asked(host=host), TOKEN, PORT)
    assert refusal(asked(cookie="", host="evil.example:8080"), TOKEN, PORT, login=True)


def test_changes_must_come_from_a_page_of_this_server():
    same = "http://localhost:8080"
    assert refusal(asked("POST", origin=same), TOKEN, PORT) == ""
    assert refusal(asked("POST", referer=same + "/person?name=x"), TOKEN, PORT) == ""
    assert refusal(asked("POST", origin=same, fetch_site="same-origin"), TOKEN, PORT) == ""
    for bad in ({"origin": "http://evil.example"}, {"origin": "null"}, {"referer": "http://evil.example/x"},
                {}, {"origin": "http://127.0.0.1:8080"}, {"origin": same, "fetch_site": "cross-site"},
                {"origin": same, "fetch_site": "same-site"}):
        assert "cross-site" in refusal(asked("POST", **bad), TOKEN, PORT), bad
    # The login form is held to the same rule, without the cookie it is about to get.
    assert refusal(asked("POST", cookie="", origin=same), TOKEN, PORT, login=True) == ""
    assert "cross-site" in refusal(asked("POST", cookie="", origin="http://evil.example"), TOKEN, PORT, login=True)
