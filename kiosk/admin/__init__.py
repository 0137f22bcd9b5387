"""Looking after a running kiosk over SSH.

- status.py: what `kiosk status` shows (the daemon's record, store size, disk);
- doctor.py: installation checks;
- tune.py: distances in the gallery and a suggested tolerance and margin;
- backup.py: one .tar of the store and kept photos, and restoring it;
- eventlog.py: the log of who was seen, per event or per person per day;
- visitors.py: the kept unknown faces grouped into visitors, to name or dismiss;
- capture.py: asking the running kiosk to enroll the person in front, and following it;
- naming.py: which person a typed name means, or a new one when the admin says so.
"""
