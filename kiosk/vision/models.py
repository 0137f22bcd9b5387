"""Names of the dlib models, recorded with every sample so a store says how it was made.

Kept apart from engine.py (which loads dlib) so the store and the admin commands can name the
encoder without loading the models.
"""

ENCODER_MODEL = "dlib_face_recognition_resnet_model_v1"  # 128-d ResNet, face_recognition_models
