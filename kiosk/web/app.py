"""`kiosk web`: the face library as a small web page, for an admin at the other end of an SSH tunnel.

Every request opens the store, does what the matching command does through the same functions
(store parts, enrollment, admin/), and closes it: the page keeps no state of its own, and the
running kiosk picks each change up as it does a command's. Every request first passes serving.py and access.py
(token, loopback Host, same-origin changes); pictures come through pictures.py only. A change
answers with a redirect to the page it came from, saying what happened (or why not) in one line.

Served by waitress (pure Python, threads, no build step) on 127.0.0.1; pages are bottle templates.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bottle

from kiosk.admin import capture
from kiosk.admin.naming import person_or_new
from kiosk.admin.status import status_lines, status_report
from kiosk.admin.visitors import dismiss_group, find_group, grouping_tolerance, label_group, visitor_groups
from kiosk.config import Config
from kiosk.enrollment.consistency import check_people
from kiosk.enrollment.labels import correct_event, undo_correction
from kiosk.errors import KioskError, NotFound, Refused
from kiosk.names import display_name
from kiosk.store import Store
from kiosk.store.records import write_private_file
from kiosk.store.site import refuse_on_member
from kiosk.util import format_time
from kiosk.vision.images import PHOTO_SUFFIXES
from kiosk.vocabulary import SampleStatus
from kiosk.web import pages
from kiosk.web.pictures import KINDS, png_file, stored_file, thumbnail
from kiosk.web.serving import PageServer
from kiosk.web.uploads import UPLOAD_PREFIX, read_upload, sweep

HELD = (SampleStatus.SUSPECT, SampleStatus.PENDING)
MAX_UPLOAD_BYTES = 200 * 1024 * 1024  # one upload of photos
IDLE_SECONDS = 20  # a connection that sends nothing for this long is closed
CONNECTIONS = 40  # open at once, at most
EVENTS_SHOWN = 200
CARD_FACES = 4  # photos on a person's card


class WebApp(PageServer):
    """The face library's pages and changes, over CONFIG's store (PageServer: what every request
    passes, logging in, and how a change answers)."""

    def __init__(self, config: Config, port: int, token: str):
        super().__init__(config, port, token)
        routes: list[tuple[str, str, Callable[..., Any], bool]] = [
            ("GET", "/login", self.login_page, True), ("POST", "/login", self.login, True),
            ("GET", "/style.css", self.style, True),
            ("GET", "/", lambda: bottle.redirect("/people", 303), False),
            ("GET", "/people", self.people, False), ("GET", "/person", self.person, False),
            ("POST", "/person/rename", self.rename, False), ("POST", "/person/merge", self.merge, False),
            ("POST", "/person/remove", self.remove, False), ("POST", "/person/decide", self.decide, False),
            ("POST", "/person/upload", self.upload, False),
            ("POST", "/capture", self.capture, False), ("GET", "/capture/<request_id:int>", self.capture_page, False),
            ("POST", "/capture/<request_id:int>/cancel", self.capture_cancel, False),
            ("GET", "/events", self.events, False), ("POST", "/events/correct", self.correct, False),
            ("GET", "/visitors", self.visitors, False), ("POST", "/visitors/label", self.label, False),
            ("POST", "/visitors/dismiss", self.dismiss, False),
            ("GET", "/status", self.status, False), ("GET", "/screen.png", self.screen, False),
            ("GET", "/image/<kind>/<number:int>", self.image, False),
        ]
        for method, path, handler, login in routes:
            self.app.route(path, method, self._guarded(handler, login))

    # --- people -----------------------------------------------------------------------------

    def people(self) -> str:
        with self.store() as store:
            people = store.people.summaries()
            faces = {p.name: [s.id for s in store.people.samples_of(p.name) or []][:CARD_FACES] for p in people}
        body = pages.PEOPLE.render(people=people, faces=faces, q=pages.q, shown=display_name)
        return self.page("People", "/people", body)

    def person(self) -> str:
        typed = bottle.request.query.decode().get("name", "")
        try:
            with self.store() as store:
                name = store.people.resolve(typed)
                samples = store.people.samples_of(name) or []
                others = [other for other in store.people.names() if other != name]
                confusions = store.events.confusions_of(name)
        except KioskError as exc:
            self.back("/people", error=str(exc))
        held = {s.id: s.status_reason if s.status == SampleStatus.SUSPECT else "waiting for the photo check"
                for s in samples if s.status in HELD}
        body = pages.PERSON.render(name=name, samples=samples, held=held, others=others, confusions=confusions,
                                   shown=display_name)
        return self.page(display_name(name), "/people", body)

    def rename(self) -> None:
        form = self.form()

        def change(store: Store) -> str:
            old = store.people.resolve(form.get("name", ""))
            new, _ = person_or_new(store, form.get("new", "").strip(), new=True)
            if new == old:
                raise Refused(f"{old} is already called that")
            store.people.rename(old, new)
            return f"renamed {old} to {new} (shown as {display_name(new)})"
        self.act("/person", change, failed_query={"name": form.get("name", "")},
                 name=form.get("new", "").strip() or form.get("name", ""))

    def merge(self) -> Any:
        form = self.form()
        source, target = form.get("name", ""), form.get("into", "")
        if form.get("confirm") != "yes":
            with self.store() as store:
                samples = len(store.people.samples_of(source) or [])
            return self.page("Merge", "/people", pages.CONFIRM.render(
                question=f"Merge {source} ({samples} sample(s)) into {target}? Their events follow.",
                action="/person/merge", fields={"name": source, "into": target}, button="Merge",
                back=f"/person?name={pages.q(source)}"))

        def change(store: Store) -> str:
            old, into = store.people.resolve(source), store.people.resolve(target)
            if old == into:
                raise Refused(f"{source} and {target} are the same person: {old}")
            moved = store.people.merge(old, into)
            result = check_people(store, [into], self.config.enrollment, self.config.recognition.encoder)
            return (f"merged {old} into {into}: {moved} sample(s), events and corrections moved; "
                    f"{len(result.suspects)} photo(s) held back by the check")
        self.act("/person", change, name=target)

    def remove(self) -> Any:
        form = self.form()
        name, events = form.get("name", ""), form.get("events") == "1"
        if form.get("confirm") != "yes":
            with self.store() as store:
                samples = len(store.people.samples_of(name) or [])
            what = " and their events" if events else ""
            fields = {"name": name, **({"events": "1"} if events else {})}
            return self.page("Remove", "/people", pages.CONFIRM.render(
                question=f"Remove {name} ({samples} sample(s)){what}?", action="/person/remove", fields=fields,
                button="Remove", back=f"/person?name={pages.q(name)}"))

        def change(store: Store) -> str:
            stored = store.people.resolve(name)
            removed = store.people.remove(stored, events=events)
            return f"removed {stored}: {removed} sample(s)" + (" and their events" if events else "")
        self.act("/people", change)

    def decide(self) -> None:
        form = self.form()
        name, action = form.get("name", ""), form.get("action", "")

        def change(store: Store) -> str:
            stored = store.people.resolve(name)
            try:
                sample_id = int(form.get("sample", ""))
            except ValueError:
                raise Refused(f"sample {form.get('sample', '')!r}: not a sample number") from None
            held = [s.id for s in store.people.samples_of(stored) or [] if s.status in HELD]
            if sample_id not in held:
                raise NotFound(f"#{sample_id}: no photo of {stored} held back by that number")
            if action == "accept":
                store.people.accept(stored, [sample_id])
                return f"accepted photo #{sample_id} of {stored}: used for matching from now on"
            if action == "reject":
                store.people.reject(stored, [sample_id])
                return f"rejected photo #{sample_id} of {stored}: deleted, and refused if imported again as {stored}"
            raise Refused(f"{action!r}: neither accept nor reject")
        self.act("/person", change, name=name)

    def upload(self) -> None:
        try:
            fields, files = read_upload(MAX_UPLOAD_BYTES)
        except Refused as exc:
            self.back("/people", error=str(exc))
        typed, new = fields.get("name", "").strip(), fields.get("new") == "1"

        def change(store: Store) -> str:
            name, _ = person_or_new(store, typed, new=new)
            if not files:
                raise Refused("no photo chosen to upload")
            from kiosk.enrollment.enroll import import_folder, live_rule  # late on purpose: uploads only

            # Removed when the request ends, however it ends; a killed server's are swept at start.
            with tempfile.TemporaryDirectory(prefix=UPLOAD_PREFIX, dir=store.data_dir) as scratch:
                folder = Path(scratch) / name
                for index, (filename, data) in enumerate(files, 1):
                    suffix = Path(filename).suffix.lower()
                    suffix = suffix if suffix in PHOTO_SUFFIXES else ".jpg"
                    write_private_file(folder / f"upload-{index}{suffix}", data.read(MAX_UPLOAD_BYTES))
                    data.close()
                report = import_folder(store, scratch, self.config.enrollment,
                                       encoder=self.config.recognition.encoder, layout="the uploaded photos",
                                       same_face=live_rule(store, self.config), create=new)
            return report.upload_line(name)
        self.act("/person", change, failed="/people" if new else "", name=typed)

    def capture(self) -> None:
        form = self.form()
        try:
            views = int(form.get("views", capture.DEFAULT_VIEWS))
        except ValueError:
            self.back("/people", error=f"views: {form.get('views')!r} is not a number")
        try:
            refuse_on_member(self.config.data_path())
            with self.store() as store:
                name, _ = person_or_new(store, form.get("name", "").strip(), new=form.get("new") == "1")
                request_id = capture.ask(store, name, views)
        except KioskError as exc:
            self.back("/people", error=str(exc))
        bottle.redirect(f"/capture/{request_id}", 303)

    def capture_page(self, request_id: int) -> str:
        with self.store() as store:
            request = store.captures.get(request_id)
        if request is None:
            raise bottle.HTTPError(404, f"capture {request_id}: no such request")
        body = pages.CAPTURE.render(c=request, shown=display_name, q=pages.q)
        return self.page("Enrolling", "/people", body, refresh=0 if request.finished else 1)

    def capture_cancel(self, request_id: int) -> None:
        with self.store() as store:
            capture.cancel(store, request_id)
        bottle.redirect(f"/capture/{request_id}", 303)

    # --- the log ------------------------------------------------------------------------------

    def events(self) -> str:
        person = bottle.request.query.decode().get("person", "")
        with self.store() as store:
            events = store.events.query(person=person or None, limit=EVENTS_SHOWN)  # newest first
            names = store.people.names()
        body = pages.EVENTS.render(events=events, names=names, person=person, when=format_time)
        return self.page("Log", "/events", body)

    def correct(self) -> None:
        form = self.form()

        def change(store: Store) -> str:
            try:
                event_id = int(form.get("event", ""))
            except ValueError:
                raise Refused(f"event {form.get('event', '')!r}: not an event number") from None
            if form.get("undo"):
                return undo_correction(store, event_id)
            if form.get("not"):
                return correct_event(store, self.config, event_id, None, store.people.resolve(form.get("not")))
            typed = form.get("name", "").strip()
            if not typed:
                raise Refused("say who the face is")
            name, _ = person_or_new(store, typed, new=form.get("new") == "1")
            return correct_event(store, self.config, event_id, name, None)
        self.act("/events", change)

    # --- unknown visitors ---------------------------------------------------------------------

    def visitors(self) -> str:
        tolerance = grouping_tolerance(self.config)
        with self.store() as store:
            groups = visitor_groups(store, self.config, tolerance)
            names = store.people.names()
        body = pages.VISITORS.render(groups=groups, names=names, tolerance=tolerance, when=format_time,
                                     capturing=self.config.recognition.capture_unknown)
        return self.page("Visitors", "/visitors", body)

    def label(self) -> None:
        form = self.form()

        def change(store: Store) -> str:
            group = find_group(store, self.config, form.get("group", ""))
            name, _ = person_or_new(store, form.get("name", "").strip(), new=form.get("new") == "1")
            result = label_group(store, self.config, group, name)
            held = f"; {len(result.suspects)} held back by the photo check" if result.suspects else ""
            return f"group {group.key}: {len(group.faces)} face(s) enrolled as {name}{held}"
        self.act("/visitors", change)

    def dismiss(self) -> None:
        form = self.form()

        def change(store: Store) -> str:
            group = find_group(store, self.config, form.get("group", ""))
            return f"group {group.key}: {dismiss_group(store, group)} face(s) deleted"
        self.act("/visitors", change)

    # --- status and pictures ------------------------------------------------------------------

    def status(self) -> str:
        report = status_report(self.config)
        with self.store() as store:
            captures = store.captures.latest()
        snapshot = bool(self.config.display.snapshot_path) and Path(self.config.display.snapshot_path).is_file()
        body = pages.STATUS.render(text="\n".join(status_lines(report)), snapshot=snapshot, captures=captures)
        return self.page("Status", "/status", body, refresh=10)

    def screen(self) -> bytes:
        if not self.config.display.snapshot_path:
            bottle.abort(404, "display.snapshot_path is not set")
        try:
            data = png_file(Path(self.config.display.snapshot_path))
        except NotFound as exc:
            bottle.abort(404, str(exc))
        bottle.response.content_type = "image/png"
        return data

    def image(self, kind: str, number: int) -> bytes:
        if kind not in KINDS:
            bottle.abort(404, f"{kind}: no such kind of picture")
        size = bottle.request.query.get("size", "small")
        try:
            with self.store() as store:
                path = stored_file(store, kind, number)
            data = thumbnail(path, self.config, size)
        except NotFound as exc:
            bottle.abort(404, str(exc))
        bottle.response.content_type = "image/jpeg"
        bottle.response.set_header("Cache-Control", "private, max-age=300")
        return data


def serve(config: Config, port: int, token: str, on_listening: Callable[[int], None]) -> None:
    """Serve the page on 127.0.0.1:PORT (0: any free port) until stopped; ON_LISTENING gets the port."""
    import waitress  # late on purpose: only `kiosk web` serves

    app = WebApp(config, port, token)
    sweep(config.data_path())
    # Bounded: a request body no larger than an upload may be, idle connections closed after
    # IDLE_SECONDS, at most CONNECTIONS open (the page is reached through an SSH tunnel).
    server = waitress.create_server(app.app, host="127.0.0.1", port=port, threads=4, ident="kiosk",
                                    clear_untrusted_proxy_headers=True, max_request_body_size=MAX_UPLOAD_BYTES,
                                    channel_timeout=IDLE_SECONDS, connection_limit=CONNECTIONS)
    app.port = int(server.effective_port)
    on_listening(app.port)
    server.run()
