"""Face-recognition kiosk: camera, recognition against a local store, names on a small screen.

The package is a house of layers; a module may import from its own subpackage and from the
layers below it, never from a layer above (tests/test_layout.py enforces this):

    cli                              the `kiosk` command: parser, handlers, exit statuses
    measure                          bench, eval, visits, detection recall
    live    admin                    `kiosk run` | status, doctor, tune, backup, event log, sandbox
    outside                          MQTT (Home Assistant) and the door relay
    enrollment                       photos into the store: enroll, encoding workers, USB, retrain, checks
    store                            the Store: connection and migrations, people, events, unknowns
    vision                           images, boxes, engine, detectors, encoders, matcher, calibration
    config errors paths runtime util pool names frame vocabulary     the ground floor

The parts that vary are plug-ins behind a base class and a registry, one file each, named by the
config: frame sources (live/sources/), screens (live/screens/), face detectors
(vision/detectors/) and face encoders (vision/encoders/). `live` and `admin` stand side by side
and do not import each other. Domain code raises KioskError subclasses (errors.py); only `cli`
prints them and chooses the exit status.
"""

import os
import warnings

# OpenCV logs its own warnings to stderr (an absent USB camera, on every retry, two lines each);
# the sources say what failed in one line of their own.
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

# pygame prints a banner on import, and pygame and face_recognition_models both import the
# deprecated pkg_resources (setuptools<81 is pinned for it); neither belongs in the journal.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
