"""The live kiosk (`kiosk run`): camera, recognition beside the screen, names on the display.

- sources.py: frame sources (Pi camera, USB, video file, photo folder) behind one interface;
- tracker.py: following faces across frames and voting on their names;
- recognition.py: the recognition stage, on worker threads beside the display loop;
- display.py: drawing frames and names with pygame (window, KMS/DRM, /dev/fbN or headless);
- daemon.py: the loop that ties them together, with systemd notification (notify.py),
  the event writer (events.py) and run figures (stats.py).
"""
