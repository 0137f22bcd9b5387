"""The live kiosk (`kiosk run`): camera, recognition beside the screen, names on the display.

- sources/: frame sources (Pi camera, USB, video file, photo folder), one plug-in per file;
- motion.py, evidence.py: the motion gate for an empty hall, and a track's weighted encodings;
- tracker.py: following faces across frames and deciding their names on the evidence;
- recognition.py: the recognition stage, on worker threads beside the display loop;
- pace.py: how hard recognition works on a slow processor, decided by measurement;
- policy.py: what a confirmed face causes (event, kept face, MQTT, greeting), decided once;
- scene.py: what one drawn frame shows, as plain data;
- display.py: drawing a scene with pygame (theme.py: the look; canvas.py: geometry and text);
- screens/: where the picture goes (window, KMS/DRM fullscreen, /dev/fbN, headless);
- capture.py: `kiosk capture`, the good views of the person in front, enrolled;
- daemon.py: the loop that ties them together, with systemd notification (notify.py),
  the event writer (events.py) and run figures (stats.py).
"""
