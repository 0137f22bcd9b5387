"""Face detectors, one per file behind one base class (base.py), chosen by name in the config.

- hog.py: dlib's HOG detector, the default for live frames and photos;
- cnn.py: dlib's CNN detector, for hard photos and as enrollment's fallback.
"""

from kiosk.vision.detectors.base import DETECTORS, Detector, create_detector, detector_class, register
from kiosk.vision.detectors.cnn import SMALLEST_FACE, CnnDetector
from kiosk.vision.detectors.hog import HogDetector

DEFAULT = HogDetector.name
SHIPPED = (HogDetector, CnnDetector)  # registered on import

__all__ = ["DEFAULT", "DETECTORS", "SHIPPED", "SMALLEST_FACE", "CnnDetector", "Detector", "HogDetector",
           "create_detector", "detector_class", "register"]
