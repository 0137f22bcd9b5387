"""Looking after a running kiosk over SSH.

- status.py: what `kiosk status` shows (the daemon's record, store size, disk);
- doctor.py: installation checks;
- tune.py: distances in the gallery and a suggested tolerance and margin;
- backup.py: one .tar of the store and kept photos, and restoring it;
- eventlog.py: the log of who was seen, per event or per person per day.
"""
