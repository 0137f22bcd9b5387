"""The page's HTML: one template per page (bottle's SimpleTemplate, which escapes every {{value}}),
inside one layout, and the style sheet. Plain forms and links: nothing needs JavaScript, and a
capture in progress refreshes itself with a meta refresh."""

from __future__ import annotations

from urllib.parse import quote

from bottle import SimpleTemplate

STYLE = """
body { font: 15px/1.4 system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d2330; }
nav { background: #1d2330; padding: 0.6em 1em; }
nav a { color: #fff; margin-right: 1.4em; text-decoration: none; font-weight: 600; }
nav a.here { border-bottom: 2px solid #f5b82e; }
main { padding: 1em; max-width: 1200px; }
h1 { font-size: 1.4em; margin: 0.2em 0 0.6em; }
.said, .error { padding: 0.5em 0.8em; border-radius: 4px; margin-bottom: 1em; }
.said { background: #dff3e4; } .error { background: #fbe0e0; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 0.8em; }
.card { background: #fff; border-radius: 6px; padding: 0.7em; box-shadow: 0 1px 2px #0002; }
.card h2 { font-size: 1.05em; margin: 0 0 0.3em; }
.faces { display: flex; flex-wrap: wrap; gap: 4px; margin: 0.4em 0; }
.faces img { width: 64px; height: 64px; object-fit: cover; border-radius: 4px; background: #ddd; }
.photos { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: 0.8em; }
.photo { background: #fff; border-radius: 6px; padding: 0.5em; }
.photo img { width: 100%; height: 170px; object-fit: cover; border-radius: 4px; background: #ddd; }
.held { outline: 3px solid #e2a100; }
.badge { display: inline-block; padding: 0 0.4em; border-radius: 3px; font-size: 0.85em; background: #e2a100; }
.muted { color: #666; font-size: 0.9em; }
form.inline { display: inline; }
fieldset { border: 1px solid #ccd; border-radius: 6px; margin: 0.8em 0; background: #fff; }
table { border-collapse: collapse; background: #fff; }
td, th { padding: 0.3em 0.6em; border-bottom: 1px solid #e3e5ea; text-align: left; vertical-align: middle; }
td img { width: 56px; height: 56px; object-fit: cover; border-radius: 4px; }
.status { background: #fff; padding: 0.8em; border-radius: 6px; white-space: pre-wrap; }
.screen { border: 6px solid #1d2330; border-radius: 6px; }
button { cursor: pointer; }
"""

LAYOUT = SimpleTemplate("""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
% if refresh:
<meta http-equiv="refresh" content="{{refresh}}">
% end
<title>{{title}} · kiosk</title><link rel="stylesheet" href="/style.css"></head>
<body><nav>
% for path, label in (("/people", "People"), ("/events", "Log"), ("/visitors", "Visitors"), ("/status", "Status")):
<a href="{{path}}" class="{{'here' if path == here else ''}}">{{label}}</a>
% end
</nav><main>
% if said:
<div class="said">{{said}}</div>
% end
% if error:
<div class="error">{{error}}</div>
% end
{{!body}}
</main></body></html>
""")

PEOPLE = SimpleTemplate("""<h1>People ({{len(people)}})</h1>
<fieldset><legend>Enroll somebody new</legend>
<form method="post" action="/person/upload" enctype="multipart/form-data">
<input name="name" placeholder="Name" required> <input type="file" name="photos" multiple accept="image/*">
<input type="hidden" name="new" value="1"> <button>Upload photos</button></form>
<form method="post" action="/capture">
<input name="name" placeholder="Name" required> <input type="hidden" name="new" value="1">
<input name="views" type="number" min="1" max="50" value="8" size="3"> views
<button>Enroll the person in front of the kiosk</button></form>
</fieldset>
<div class="cards">
% for p in people:
<div class="card"><h2><a href="/person?name={{q(p.name)}}">{{shown(p.name)}}</a></h2>
<div class="muted">{{p.samples}} photo(s){{', %d held back' % p.held if p.held else ''}}</div>
<div class="faces">
% for sample_id in faces.get(p.name, []):
<img loading="lazy" src="/image/sample/{{sample_id}}" alt="">
% end
</div></div>
% end
</div>
% if not people:
<p>Nobody is enrolled yet.</p>
% end
""")

PERSON = SimpleTemplate("""<h1>{{shown(name)}} <span class="muted">stored as {{name}}</span></h1>
<p class="muted">{{len(samples) - len(held)}} photo(s) used for matching, {{len(held)}} held back;
{{confusions}} face(s) recorded as not {{name}}.</p>
<div class="photos">
% for s in samples:
<div class="photo {{'held' if s.id in held else ''}}">
<a href="/image/sample/{{s.id}}?size=large"><img loading="lazy" src="/image/sample/{{s.id}}" alt="{{s.source}}"></a>
<div class="muted">#{{s.id}} {{s.source}}</div>
% if s.id in held:
<div><span class="badge">held back</span> {{held[s.id]}}</div>
<form class="inline" method="post" action="/person/decide">
<input type="hidden" name="name" value="{{name}}"><input type="hidden" name="sample" value="{{s.id}}">
<button name="action" value="accept">Accept</button> <button name="action" value="reject">Reject</button></form>
% elif s.status == 'accepted':
<div class="muted">accepted by an admin</div>
% end
</div>
% end
</div>
<fieldset><legend>Add photos</legend>
<form method="post" action="/person/upload" enctype="multipart/form-data">
<input type="hidden" name="name" value="{{name}}"><input type="file" name="photos" multiple accept="image/*">
<button>Upload</button></form>
<form method="post" action="/capture"><input type="hidden" name="name" value="{{name}}">
<input name="views" type="number" min="1" max="50" value="8" size="3"> views
<button>Enroll {{shown(name)}} standing in front of the kiosk</button></form></fieldset>
<fieldset><legend>Rename</legend><form method="post" action="/person/rename">
<input type="hidden" name="name" value="{{name}}"><input name="new" value="{{name}}" required>
<button>Rename</button></form></fieldset>
<fieldset><legend>Merge into somebody else (one person under two names)</legend>
<form method="post" action="/person/merge"><input type="hidden" name="name" value="{{name}}">
<select name="into">
% for other in others:
<option value="{{other}}">{{other}}</option>
% end
</select> <button>Merge…</button></form></fieldset>
<fieldset><legend>Remove</legend><form method="post" action="/person/remove">
<input type="hidden" name="name" value="{{name}}">
<label><input type="checkbox" name="events" value="1"> also their events</label> <button>Remove…</button>
</form></fieldset>
""")

CONFIRM = SimpleTemplate("""<h1>{{question}}</h1>
<form method="post" action="{{action}}">
% for key, value in fields.items():
<input type="hidden" name="{{key}}" value="{{value}}">
% end
<input type="hidden" name="confirm" value="yes"><button>{{button}}</button> <a href="{{back}}">Cancel</a></form>
""")

EVENTS = SimpleTemplate("""<h1>Log{{' of ' + person if person else ''}}</h1>
<form method="get" action="/events"><select name="person"><option value="">everybody</option>
% for n in names:
<option value="{{n}}" {{'selected' if n == person else ''}}>{{n}}</option>
% end
</select> <button>Show</button></form>
<datalist id="names">
% for n in names:
<option value="{{n}}">
% end
</datalist>
<table><tr><th>#</th><th>when</th><th>face</th><th>name</th><th>distance</th><th>correct it</th></tr>
% for e in events:
<tr><td>{{e.id}}</td><td>{{when(e.at)}}</td>
% if e.has_face:
<td><img loading="lazy" src="/image/event/{{e.id}}" alt=""></td>
% else:
<td><span class="muted">not kept</span></td>
% end
<td>{{e.name}}{{' (was %s)' % e.corrected_from if e.corrected_from else ''}}</td>
<td>{{'%.2f' % e.distance if e.distance is not None else ''}}</td><td>
% if e.has_face:
<form class="inline" method="post" action="/events/correct"><input type="hidden" name="event" value="{{e.id}}">
<input name="name" list="names" placeholder="who it is" size="12">
<label><input type="checkbox" name="new" value="1"> new</label> <button>Correct</button></form>
% if e.name in names:
<form class="inline" method="post" action="/events/correct"><input type="hidden" name="event" value="{{e.id}}">
<button name="not" value="{{e.name}}">Not {{e.name}}</button></form>
% end
% end
% if e.corrected_from:
<form class="inline" method="post" action="/events/correct"><input type="hidden" name="event" value="{{e.id}}">
<button name="undo" value="1">Undo</button></form>
% end
</td></tr>
% end
</table>
% if not events:
<p>No events yet.</p>
% end
""")

VISITORS = SimpleTemplate("""<h1>Unknown visitors ({{len(groups)}})</h1>
<p class="muted">Faces nobody could name, grouped into individuals (recognition.group_tolerance
{{'%.2f' % tolerance}}). Naming a group enrolls its faces, through the photo check.</p>
<datalist id="names">
% for n in names:
<option value="{{n}}">
% end
</datalist>
<div class="cards">
% for g in groups:
<div class="card"><h2>{{g.key}}</h2>
<div class="muted">{{len(g.faces)}} face(s), {{g.visits}} visit(s); first {{when(g.first_seen)}},
last {{when(g.last_seen)}}</div>
<div class="faces">
% for f in g.faces[:8]:
<img loading="lazy" src="/image/unknown/{{f.id}}" alt="">
% end
</div>
<form method="post" action="/visitors/label"><input type="hidden" name="group" value="{{g.key}}">
<input name="name" list="names" placeholder="who it is" size="12" required>
<label><input type="checkbox" name="new" value="1"> new</label> <button>Name</button></form>
<form method="post" action="/visitors/dismiss"><input type="hidden" name="group" value="{{g.key}}">
<button>Dismiss</button></form></div>
% end
</div>
% if not groups:
<p>No unknown faces kept{{'' if capturing else ' (recognition.capture_unknown is off)'}}.</p>
% end
""")

STATUS = SimpleTemplate("""<h1>Status</h1>
<p class="muted">What <code>kiosk status</code> says, refreshed every 10 s.</p>
<pre class="status">{{text}}</pre>
<h2>The screen</h2>
% if snapshot:
<img class="screen" src="/screen.png" alt="what the kiosk's screen shows">
% else:
<p class="muted">Set display.snapshot_path (the Pi install uses /run/kiosk/screen.png) to see the screen here.</p>
% end
% if captures:
<h2>Enrolling in front of the kiosk</h2><table>
% for c in captures:
<tr><td><a href="/capture/{{c.id}}">{{c.name}}</a></td><td>{{c.state}}</td><td>{{c.taken}} of {{c.views}}</td>
<td>{{c.message}}</td></tr>
% end
</table>
% end
""")

CAPTURE = SimpleTemplate("""<h1>Enrolling {{shown(c.name)}} in front of the kiosk</h1>
<p>{{c.state}}: {{c.taken}} of {{c.views}} view(s).</p><p>{{c.message}}</p>
% if not c.finished:
<form method="post" action="/capture/{{c.id}}/cancel"><button>Cancel</button></form>
% else:
<p><a href="/person?name={{q(c.name)}}">{{shown(c.name)}}'s photos</a></p>
% end
""")

LOGIN = SimpleTemplate("""<h1>Log in</h1><p>{{reason}}</p>
<form method="post" action="/login"><input name="token" type="password" size="40" placeholder="token">
<button>Log in</button></form>
<p class="muted">Run <code>kiosk web --url</code> on the kiosk for the address that logs in.</p>
""")


def q(text: str) -> str:
    """TEXT for a URL's query."""
    return quote(text, safe="")
