"""Face-recognition kiosk: camera, recognition against a local store, names on a small screen."""

import os
import warnings

# pygame prints a banner on import, and pygame and face_recognition_models both import the
# deprecated pkg_resources (setuptools<81 is pinned for it); neither belongs in the journal.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
