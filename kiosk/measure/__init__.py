"""Measuring the kiosk as it ships; each prints figures and decides nothing.

- bench.py: speed of `kiosk run` against the classic tutorial loop, gallery scale, enrollment;
- evaluate.py: recognition accuracy (closed set, open set, strangers) at several settings;
- detection_recall.py: how many labelled faces the live detector finds at each width.
"""
