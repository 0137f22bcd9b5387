"""The seams: every part that varies plugs in through a base class and a registry, and the config
names exactly the plug-ins that are registered (it sits below them and lists them itself)."""

from __future__ import annotations

import dataclasses
import inspect
import re

import pytest

from kiosk.config import DETECTORS, ENCODERS, SOURCE_KINDS, DisplayConfig, EnrollmentConfig, check_setting
from kiosk.errors import ConfigError
from kiosk.live import screens, sources
from kiosk.vision import detectors, encoders

SEAMS = [  # (registry, base class, what the config lists)
    (sources.SOURCES, sources.FrameSource, set(SOURCE_KINDS)),
    (screens.SCREENS, screens.Screen,
     {c for c in dataclasses.fields(DisplayConfig)[0].metadata["choices"] if c != "auto"} | {"fb"}),
    (detectors.DETECTORS, detectors.Detector, set(DETECTORS)),
    (encoders.ENCODERS, encoders.Encoder, set(ENCODERS)),
]


@pytest.mark.parametrize("registry, base, configured", SEAMS, ids=["sources", "screens", "detectors", "encoders"])
def test_the_config_names_exactly_the_registered_plug_ins(registry, base, configured):
    assert set(registry) == configured


@pytest.mark.parametrize("registry, base, configured", SEAMS, ids=["sources", "screens", "detectors", "encoders"])
def test_every_registered_plug_in_is_a_whole_subclass_of_its_seam(registry, base, configured):
    for key, plug_in in registry.items():
        assert issubclass(plug_in, base), key
        assert not inspect.isabstract(plug_in), f"{key}: {sorted(plug_in.__abstractmethods__)} not written"


def test_the_display_mode_pattern_is_the_framebuffer_screen():
    choice = dataclasses.fields(DisplayConfig)[0].metadata
    assert re.fullmatch(choice["pattern"], "fb:/dev/fb1") and choice["forms"].startswith(screens.FramebufferScreen.kind)


@pytest.mark.parametrize("lookup, unknown", [
    (sources.source_class, "rtsp"), (screens.screen_class, "drm"),
    (detectors.detector_class, "hailo"), (encoders.encoder_class, "arcface"),
])
def test_a_registry_refuses_an_unknown_key_naming_the_known_ones(lookup, unknown):
    with pytest.raises(ValueError, match=rf"{unknown}.*one of: "):
        lookup(unknown)


def test_the_config_refuses_an_unknown_plug_in_with_the_list():
    with pytest.raises(ConfigError, match="enrollment.detector: 'hailo' is not allowed, allowed values: hog, cnn"):
        check_setting(EnrollmentConfig, "detector", "hailo", "enrollment.detector")


def test_adding_a_source_is_one_subclass_and_its_registration(tmp_path):
    """A new kind plugs in without touching open_source: registered, then opened by its key."""
    import numpy as np

    from kiosk.config import CameraConfig

    class Test(sources.FrameSource):
        kind = "test-pattern"

        @classmethod
        def create(cls, camera, argument, *, fast, loop):
            return cls(camera)

        def _open(self):
            pass

        def _capture(self):
            return np.full((4, 6, 3), 7, np.uint8)

        def _release(self):
            pass

    sources.register(Test)
    try:
        made = sources.source_class("test-pattern").create(CameraConfig(), "", fast=True, loop=False)
        with made:
            frame = made.read()
        assert frame is not None and frame.image.shape == (4, 6, 3) and int(frame.image[0, 0, 0]) == 7
    finally:
        del sources.SOURCES["test-pattern"]
