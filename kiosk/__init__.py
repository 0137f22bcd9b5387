"""Face-recognition kiosk: camera, recognition against a local store, names on a small screen.

The package is a house of layers; a module may import from its own subpackage and from the
layers below it, never from a layer above (tests/test_layout.py enforces this):

    cli                              the `kiosk` command: parser, handlers, exit statuses
    measure                          bench, eval, detection recall
    live    admin                    `kiosk run` | status, doctor, tune, backup, event log, sandbox
    outside                          MQTT (Home Assistant) and the door relay
    enrollment                       photos into the store: enroll, USB, retrain, checks, labels
    store                            SQLite store, schema, kept face crops
    vision                           images, boxes, engine (dlib), matcher
    config  errors  paths  runtime  util    the ground floor

`live` and `admin` stand side by side and do not import each other. Domain code raises
KioskError subclasses (errors.py); only `cli` prints them and chooses the exit status.
"""

import os
import warnings

# pygame prints a banner on import, and pygame and face_recognition_models both import the
# deprecated pkg_resources (setuptools<81 is pinned for it); neither belongs in the journal.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
