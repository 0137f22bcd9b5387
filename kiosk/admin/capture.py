"""Asking the running kiosk to enroll the person in front (`kiosk capture NAME`, the web page's button).

The request goes into the store (store/captures.py), where the daemon takes it up within half a
second (live/capture.py) and reports each view; `follow` waits on that row. Without a running
kiosk there is nobody to take views, so the request is refused at once rather than left waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from kiosk.admin.status import daemon_state
from kiosk.errors import Refused
from kiosk.store import Store
from kiosk.store.captures import CaptureRequest
from kiosk.vocabulary import CaptureState

DEFAULT_VIEWS = 8
DEFAULT_TIMEOUT = 60.0
TAKEN_WITHIN = 10.0  # seconds a running kiosk has to take a request up before the asker stops waiting
POLL_SECONDS = 0.3


def ask(store: Store, name: str, views: int = DEFAULT_VIEWS, timeout: float = DEFAULT_TIMEOUT) -> int:
    """File a capture request for NAME (already resolved, or new) with the running kiosk; its id."""
    if not 1 <= views <= 50:
        raise Refused(f"views: {views} is out of range, 1-50")
    if not 5 <= timeout <= 600:
        raise Refused(f"timeout: {timeout:g} s is out of range, 5-600")
    state = daemon_state(store.data_dir)["state"]
    if state != "running":
        raise Refused(f"the kiosk is {state}: capture needs the running kiosk in front of the person "
                      "(systemctl start kiosk, or kiosk run); see kiosk status")
    busy = [request for request in store.captures.unfinished() if request.state != CaptureState.WAITING]
    if busy:
        raise Refused(f"the kiosk is already enrolling {busy[0].name}; wait for it, or try again later")
    return store.captures.request(name, views, timeout)


def follow(store: Store, request_id: int, on_change: Callable[[CaptureRequest], None],
           cancelled: Callable[[], bool] = lambda: False) -> CaptureRequest:
    """Wait until request REQUEST_ID is finished, calling ON_CHANGE at each new view or state;
    a request no running kiosk takes up within TAKEN_WITHIN seconds is cancelled with a reason."""
    shown: tuple | None = None
    asked = time.monotonic()
    while True:
        request = store.captures.get(request_id)
        if request is None:
            raise Refused(f"capture {request_id}: the request is gone (the store was replaced)")
        if (request.state, request.taken) != shown:
            shown = (request.state, request.taken)
            on_change(request)
        if request.finished:
            return request
        if request.state == CaptureState.WAITING and time.monotonic() - asked > TAKEN_WITHIN:
            store.captures.report(request_id, CaptureState.FAILED, 0,
                                  f"no running kiosk took the request within {TAKEN_WITHIN:g} s")
            continue
        if cancelled():
            store.captures.report(request_id, CaptureState.CANCELLED, request.taken, "cancelled by the admin")
            continue
        time.sleep(POLL_SECONDS)


def cancel(store: Store, request_id: int) -> bool:
    request = store.captures.get(request_id)
    return request is not None and store.captures.report(request_id, CaptureState.CANCELLED, request.taken,
                                                         "cancelled by the admin")
