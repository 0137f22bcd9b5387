"""Face encoders, one per file, each a subclass of base.Encoder registered under its name.

- base.py: the seam (the Encoder base class, the registry, the scale all distances share);
- dlib_resnet.py: dlib's ResNet, the default (128 values);
- mobilefacenet.py: MobileFaceNet through LiteRT (192 values; model installed by scripts/fetch-models);
- fused.py: both together, one vector whose distances are the two encoders' combined.

Importing this package loads no model.
"""

from kiosk.vision.encoders.base import (
           ENCODERS,
           Encoder,
           EncoderUnavailable,
           create_encoder,
           encoder_class,
           encoder_of_model,
           model_of,
           require_encoder,
)
from kiosk.vision.encoders.dlib_resnet import DlibEncoder  # each registers itself
from kiosk.vision.encoders.fused import FusedEncoder
from kiosk.vision.encoders.mobilefacenet import MobileFaceNetEncoder

DEFAULT = "dlib"

__all__ = ["DEFAULT", "ENCODERS", "DlibEncoder", "Encoder", "EncoderUnavailable", "FusedEncoder",
           "MobileFaceNetEncoder", "create_encoder", "encoder_class", "encoder_of_model", "model_of", "require_encoder"]
