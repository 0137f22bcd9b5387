"""Seeing faces: decoding photos, finding and encoding faces, and deciding who a face is.

- images.py: untrusted photo bytes to RGB pixels, or a reason why not;
- boxes.py: face boxes, their overlap and one-to-one pairing;
- engine.py: dlib's detectors and landmarks, and the chosen encoder (loads dlib and OpenCV);
- identify.py: photo bytes to the faces in it, the path every photo takes;
- matcher.py: the gallery and the decision rule that names a face or keeps it unknown;
- calibration.py: the rule's tolerance chosen for the gallery, for a target stranger rate;
- encoders/: the networks that turn a face into numbers, one per file, behind one base class.
"""
