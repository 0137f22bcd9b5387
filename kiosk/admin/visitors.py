"""Unknown visitors: the kept unknown faces grouped into individuals, to name or dismiss at once.

`kiosk unknowns groups`, `kiosk unknowns label gID NAME`, `kiosk unknowns dismiss gID` and the web
page's visitors all come here. The grouping (vision/grouping.py) runs afresh on every call, so
nothing about groups is stored: a group is named by its first face ("g17"), which stays its name
while faces are added to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from kiosk.config import Config
from kiosk.enrollment.consistency import CheckResult, check_people
from kiosk.enrollment.labels import label_unknowns
from kiosk.errors import NotFound
from kiosk.store import Store, UnknownFace
from kiosk.store.faces import delete_unknown_faces
from kiosk.vision.encoders import model_of
from kiosk.vision.grouping import group_faces
from kiosk.vocabulary import SampleStatus

GROUP_ID = re.compile(r"[gG](\d{1,12})")


@dataclass(frozen=True)
class VisitorGroup:
    """One unknown individual: their kept faces, oldest first."""
    faces: list[UnknownFace]

    @property
    def key(self) -> str:
        return f"g{self.faces[0].id}"

    @property
    def first_seen(self) -> float:
        return self.faces[0].at

    @property
    def last_seen(self) -> float:
        return self.faces[-1].at

    @property
    def visits(self) -> int:
        """Separate times seen: faces from one followed track count once."""
        return len({face.track_id if face.track_id is not None else -face.id for face in self.faces})

    def as_dict(self) -> dict:
        return {"group": self.key, "faces": len(self.faces), "visits": self.visits, "first_seen": self.first_seen,
                "last_seen": self.last_seen, "face_ids": [face.id for face in self.faces]}


def grouping_tolerance(config: Config) -> float:
    """How close two unknown faces must be to be one visitor: recognition.group_tolerance. Not
    the tolerance matching decides with, which is chosen for the gallery's size (fewer than 2
    people enrolled: the loosest; 77: 0.49) and says nothing about pairs of strangers."""
    return config.recognition.group_tolerance


def visitor_groups(store: Store, config: Config, tolerance: float | None = None) -> list[VisitorGroup]:
    """The kept unknown faces made by the configured encoder, grouped; largest group first."""
    model = model_of(config.recognition.encoder)
    faces = [face for face in store.unknowns.all() if face.encoder == model]
    if not faces:
        return []
    if tolerance is None:
        tolerance = grouping_tolerance(config)
    grouping = group_faces(np.stack([face.embedding for face in faces]), tolerance)
    return [VisitorGroup([faces[i] for i in group]) for group in grouping.groups]


def find_group(store: Store, config: Config, typed: str) -> VisitorGroup:
    """The group TYPED ("g17") names, or NotFound saying where to look."""
    match = GROUP_ID.fullmatch(typed.strip())
    if match is None:
        raise NotFound(f"{typed}: not a group (groups are named like g17, see kiosk unknowns groups)")
    first = int(match.group(1))
    for group in visitor_groups(store, config):
        if group.faces[0].id == first:
            return group
        if any(face.id == first for face in group.faces):
            raise NotFound(f"{typed}: face {first} is now in group {group.key} (see kiosk unknowns groups)")
    raise NotFound(f"{typed}: no such group (see kiosk unknowns groups)")


def label_group(store: Store, config: Config, group: VisitorGroup, name: str) -> CheckResult:
    """Enroll every face of GROUP as NAME in one transaction (all or none; identical crops, as a
    looping slideshow leaves, make one sample), pending until the photo check on NAME has run
    (as after an import): a face that does not look like the others is held back, not matched.
    A check interrupted here is finished by the next import (pending samples are picked up)."""
    label_unknowns(store, config, [face.id for face in group.faces], name, SampleStatus.PENDING)
    return check_people(store, [name], config.enrollment, config.recognition.encoder)


def dismiss_group(store: Store, group: VisitorGroup) -> int:
    """Delete GROUP's faces (rows and crops); returns how many."""
    return delete_unknown_faces(store, [face.id for face in group.faces])
