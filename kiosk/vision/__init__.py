"""Seeing faces: decoding photos, finding and encoding faces, and deciding who a face is.

- images.py: untrusted photo bytes to RGB pixels, or a reason why not;
- boxes.py: face boxes, their overlap and one-to-one pairing;
- build.py: how the installed dlib was built (NEON, AVX, BLAS) and whether it suits this processor;
- engine.py: scaling, search regions and alignment around the chosen detector and encoder;
- identify.py: photo bytes to the faces in it, the path every photo takes;
- matcher.py: the gallery and the decision rule that names a face or keeps it unknown;
- calibration.py: the rule's tolerance chosen for the gallery, for a target stranger rate;
- detectors/: the models that find faces (HOG, CNN), one per file, behind one base class;
- encoders/: the networks that turn a face into numbers, one per file, behind one base class;
- liveness.py: a person or a picture held up, from blinks and movement;
- grouping.py: unknown faces grouped into individuals (average linkage).
"""
