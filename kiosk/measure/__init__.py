"""Measuring the kiosk as it ships; each prints figures and decides nothing.

- bench.py: speed of `kiosk run` against the classic tutorial loop, gallery scale, enrollment,
  scenes and liveness; with tutorial.py (the baseline loop), stages.py (parts timed alone),
  processes.py (each side in its own process), compare.py (agreement, latencies) and report.py;
- stage_costs.py: `kiosk bench --stages`, each live stage timed as the daemon runs it;
- slow.py: `kiosk bench-slow`, `kiosk run` inside CPU quotas (quota.py: the cgroup, NOTIFY_SOCKET);
- scenes.py: synthetic clips (an empty hall, people walking in) for the at-rest and arrival figures;
- visits.py: `kiosk eval --visits`, whole visits through `kiosk run`;
- evaluate.py: recognition accuracy (closed set, open set, strangers) at several settings;
- detection_recall.py: how many labelled faces the live detector finds at each width;
- grouping.py: `kiosk eval-groups`, unknown visitors grouped, scored on photos of known people;
- web_page.py: `kiosk bench-web`, the face library page's times and footprint on N people;
- site.py: `kiosk bench-site`, a site's signed gallery sealed, applied and loaded at N people.
"""
