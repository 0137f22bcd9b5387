"""Getting people into the store, and keeping their photos right.

- photos.py: walking a folder of person folders without trusting it;
- enroll.py: the one import, used by `kiosk enroll` and USB sticks;
- encoding.py: each photo decoded and encoded in worker processes (all cores), for import and retraining;
- consistency.py: the check that holds back photos that show somebody else;
- usb.py: a plugged-in stick (faces/<name>/, remove.txt), with progress for the screen;
- retrain.py: re-encoding kept photos with new settings;
- labels.py: learning from kept faces (`kiosk unknowns label`, `kiosk events correct`);
- legacy_pickle.py: migrating an encodings.pickle from older face scripts, safely.
"""
