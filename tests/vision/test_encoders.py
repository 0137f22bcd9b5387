"""The encoder seam (kiosk/vision/encoders/): the registry, MobileFaceNet on real photos, a store
that keeps which encoder made each face, and `kiosk retrain` moving a gallery between encoders."""

from __future__ import annotations

import dataclasses
import importlib.machinery
import importlib.util
import io
import json
import sqlite3
import tarfile
import time

import cv2
import numpy as np
import pytest

from kiosk.config import RecognitionConfig, check_setting
from kiosk.errors import Refused
from kiosk.store import SampleSettings, Store, waiting_for_retrain
from kiosk.store.schema import MIGRATIONS, split_sql
from kiosk.vision import encoders
from kiosk.vision.encoders import mobilefacenet
from kiosk.vision.engine import EngineSettings, FaceEngine

from conftest import REPO, require_data, run_kiosk


def test_the_registry_names_every_encoder_and_the_config_refuses_others(tmp_path):
    assert set(encoders.ENCODERS) == {"dlib", "mobilefacenet", "dlib+mobilefacenet"}
    choices = next(f for f in dataclasses.fields(RecognitionConfig) if f.name == "encoder")
    assert choices.default == encoders.DEFAULT
    assert all(check_setting(RecognitionConfig, "encoder", name, "encoder") == name for name in encoders.ENCODERS)
    assert encoders.encoder_of_model(encoders.model_of("mobilefacenet")) == "mobilefacenet"
    assert encoders.encoder_of_model("some_other_model") is None
    config = tmp_path / "config.yaml"
    config.write_text("recognition:\n  encoder: facenet\n")
    result = run_kiosk("--config", str(config), "status")
    assert result.returncode == 2
    assert "recognition.encoder" in result.stderr and "mobilefacenet" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_similarity_transform_turns_and_sizes_without_shearing():
    angle, scale, shift = np.deg2rad(20), 1.7, np.array([5.0, -3.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = np.array([[10.0, 20.0], [40.0, 22.0], [25.0, 45.0]])
    moved = points @ (scale * rotation).T + shift
    motion = mobilefacenet.similarity(points, moved)
    assert np.allclose(motion[:, :2], scale * rotation) and np.allclose(motion[:, 2], shift)


@pytest.fixture(scope="module")
def photos():
    probes = require_data("probes")
    return {name: cv2.cvtColor(cv2.imread(str(probes / name)), cv2.COLOR_BGR2RGB)
            for name in ("obama1.jpg", "obama3.jpg", "alex_lacamoire1.jpg", "johnsnow_test1.jpg")}


def test_mobilefacenet_puts_the_same_person_nearer_than_others_on_real_photos(photos):
    engine = FaceEngine(EngineSettings(encoder="mobilefacenet"))
    encoded = {}
    for name, rgb in photos.items():
        boxes = engine.detect(rgb)
        assert boxes, name
        chips = engine.face_chips(rgb, boxes[:1])
        assert chips[0].shape == (112, 112, 3)
        encoded[name] = engine.encode_chips(chips)[0]
    vectors = np.array(list(encoded.values()))
    assert vectors.shape == (4, 192) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), mobilefacenet.SCALE, atol=1e-5)
    same = np.linalg.norm(encoded["obama1.jpg"] - encoded["obama3.jpg"])
    others = [np.linalg.norm(encoded["obama1.jpg"] - encoded[n]) for n in ("alex_lacamoire1.jpg", "johnsnow_test1.jpg")]
    assert same < 0.45 < min(others), (same, others)  # on dlib's scale: 0.6 is where people differ
    # The network takes two faces at a time: one, two and three faces give the same encodings.
    rgb = photos["obama1.jpg"]
    chip = engine.face_chips(rgb, engine.detect(rgb)[:1])[0]
    for count in (1, 2, 3):
        assert np.allclose(engine.encode_chips([chip] * count), encoded["obama1.jpg"], atol=1e-5)


def test_the_fused_encoding_holds_both_and_its_distance_combines_theirs(photos):
    parts = {name: FaceEngine(EngineSettings(encoder=name)) for name in ("dlib", "mobilefacenet")}
    fused = FaceEngine(EngineSettings(encoder="dlib+mobilefacenet"))
    vectors, alone = {}, {name: {} for name in parts}
    for name, rgb in photos.items():
        boxes = fused.detect(rgb)[:1]
        chips = fused.face_chips(rgb, boxes)
        assert [chip.shape for chip in chips[0]] == [(150, 150, 3), (112, 112, 3)]  # each part aligns its own way
        vectors[name] = fused.encode_chips(chips)[0]
        for part, engine in parts.items():
            alone[part][name] = engine.encode_chips(engine.face_chips(rgb, boxes))[0]
    assert all(v.shape == (320,) and v.dtype == np.float32 for v in vectors.values())

    def distance(table, a, b):
        return float(np.linalg.norm(table[a] - table[b]))

    for a, b in (("obama1.jpg", "obama3.jpg"), ("obama1.jpg", "alex_lacamoire1.jpg"),
                 ("alex_lacamoire1.jpg", "johnsnow_test1.jpg")):
        # The weighted quadratic mean of the two encoders' own distances (weights 0.5 and 0.5).
        combined = np.sqrt(0.5 * distance(alone["dlib"], a, b) ** 2 + 0.5 * distance(alone["mobilefacenet"], a, b) ** 2)
        assert distance(vectors, a, b) == pytest.approx(combined, abs=1e-4)
    same = distance(vectors, "obama1.jpg", "obama3.jpg")
    assert same < 0.45 < min(distance(vectors, "obama1.jpg", n) for n in ("alex_lacamoire1.jpg", "johnsnow_test1.jpg"))


def test_a_missing_or_altered_model_is_one_line_naming_the_setting_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(mobilefacenet, "model_dir", lambda: tmp_path)
    with pytest.raises(encoders.EncoderUnavailable, match=r"^recognition.encoder mobilefacenet: .*fetch-models"):
        encoders.create_encoder("mobilefacenet")
    (tmp_path / mobilefacenet.MODEL_FILE).write_bytes(b"not a model")
    with pytest.raises(encoders.EncoderUnavailable, match="SHA-256 differs"):
        encoders.create_encoder("mobilefacenet")


def fetch_models_script():
    loader = importlib.machinery.SourceFileLoader("fetch_models", str(REPO / "scripts" / "fetch-models"))
    spec = importlib.util.spec_from_loader("fetch_models", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_fetch_models_refuses_a_tarball_that_is_not_the_pinned_one():
    script = fetch_models_script()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        payload = b"\0" * 1000
        member = tarfile.TarInfo(mobilefacenet.MEMBER)
        member.size = len(payload)
        archive.addfile(member, io.BytesIO(payload))
    with pytest.raises(ValueError, match="SHA-512 differs"):
        script.model_from(buffer.getvalue(), "copy.tgz")
    assert (REPO / "scripts" / "fetch-models").stat().st_mode & 0o111


def seven_store(path):
    """A store as schema 7 made it (before other encoders): one person, one sample, one kept
    unknown face, one event with its face."""
    path.mkdir()
    db = sqlite3.connect(path / "kiosk.db")
    for script in MIGRATIONS[:7]:
        for statement in split_sql(script):
            db.execute(statement)
    blob = np.arange(128, dtype="<f4").tobytes()
    db.execute("INSERT INTO people (name, created_at) VALUES ('ada', 1)")
    db.execute("INSERT INTO samples (person_id, embedding, encoder, detector, landmarks, jitters, photo_sha256, "
               "source, created_at) VALUES (1, ?, 'dlib_face_recognition_resnet_model_v1', 'hog', 5, 1, ?, 'a.jpg', 1)",
               (blob, "0" * 64))
    db.execute("INSERT INTO unknown_faces (at, embedding, crop_file) VALUES (1, ?, 'u.jpg')", (blob,))
    db.execute("INSERT INTO events (at, name) VALUES (1, 'ada')")
    db.execute("INSERT INTO event_faces (event_id, at, embedding, crop_file) VALUES (1, 1, ?, 'e.jpg')", (blob,))
    db.execute("PRAGMA user_version = 7")
    db.commit()
    db.close()


def test_an_older_store_keeps_its_faces_marked_as_dlibs_and_takes_other_lengths(tmp_path):
    seven_store(tmp_path / "data")
    mfn = SampleSettings(encoders.model_of("mobilefacenet"), "hog", 5, 1)
    with Store(tmp_path / "data") as store:
        assert len(store.people.load_gallery("dlib")) == 1
        assert store.unknowns.all()[0].encoder == store.events.face(1).encoder == encoders.model_of("dlib")
        assert len(store.people.load_gallery("mobilefacenet")) == 0
        assert store.people.load_gallery("mobilefacenet").dimensions == 192
        store.people.add_sample("bea", np.full(192, 0.01, np.float32), mfn, "1" * 64, "b.jpg")
        assert store.people.load_gallery("mobilefacenet").names == ["bea"]
        assert store.people.load_gallery("dlib").names == ["ada"]
        assert waiting_for_retrain(store, "mobilefacenet") == (
            "1 of 2 samples were made by another encoder (1 by dlib) than recognition.encoder mobilefacenet: "
            "they are not matched until `kiosk retrain`")
        # A face dlib made cannot become a sample of the other encoder: it would never be matched.
        with pytest.raises(Refused, match="unknown face 1 was encoded by dlib"):
            store.unknowns.label([(1, "2" * 64, "unknowns/u.jpg")], "ada", mfn)
        assert len(store.unknowns.all()) == 1  # refused in its transaction: the face is still kept
        with pytest.raises(ValueError):
            store.people.add_sample("cy", np.zeros(3, np.float32), mfn, "3" * 64, "c.jpg")


@pytest.mark.slow
@pytest.mark.parametrize("encoder", ["mobilefacenet", "dlib+mobilefacenet"])
def test_retrain_moves_the_gallery_to_another_encoder_and_it_names_the_probes(encoder, enrolled_copy, tmp_path):
    probes = require_data("probes")
    expected = json.loads((probes / "expected.json").read_text())
    config = tmp_path / "encoder.yaml"
    config.write_text(f"recognition:\n  encoder: {encoder}\n")
    before = run_kiosk("--config", str(config), "status", data_dir=enrolled_copy)
    assert "11 of 11 samples were made by another encoder (11 by dlib)" in before.stdout, before.stdout
    doctor = run_kiosk("--config", str(config), "doctor", data_dir=enrolled_copy)
    assert "recognition" in doctor.stdout and "kiosk retrain" in doctor.stdout
    unmoved = run_kiosk("--config", str(config), "identify", "--json", str(probes / "obama1.jpg"),
                        data_dir=enrolled_copy)
    assert [f["name"] for f in json.loads(unmoved.stdout)[0]["faces"]] == ["unknown"]  # nothing of its own yet

    started = time.monotonic()
    retrained = run_kiosk("--config", str(config), "retrain", "--json", data_dir=enrolled_copy)
    assert retrained.returncode == 0, retrained.stderr
    report = json.loads(retrained.stdout)
    assert report["replaced"] == 11 and report["settings"]["encoder"] == encoders.model_of(encoder)
    print(f"retrain of 11 photos to {encoder}: {time.monotonic() - started:.1f} s")
    with Store(enrolled_copy) as store:
        assert store.people.encoders() == {encoders.model_of(encoder): 11}
        assert waiting_for_retrain(store, encoder) == ""
    after = run_kiosk("--config", str(config), "status", data_dir=enrolled_copy)
    assert f"encoder:    {encoder}" in after.stdout and "another encoder" not in after.stdout

    named = run_kiosk("--config", str(config), "identify", "--json", *[str(probes / n) for n in expected],
                      data_dir=enrolled_copy)
    assert named.returncode == 0, named.stderr
    got = {r["image"].rsplit("/", 1)[-1]: sorted(f["name"] for f in r["faces"]) for r in json.loads(named.stdout)}
    wrong = {n: got[n] for n in expected if set(got[n]) - set(expected[n]) - {"unknown"}}
    right = sum(got[n] == sorted(expected[n]) for n in expected)
    assert not wrong, wrong  # never the wrong person
    assert right >= len(expected) - 1, got  # 15 of 15 when measured

    # The live kiosk on the sample clip, with the moved gallery: the encoder runs in its own process.
    # --fast: every frame is recognized, so the evidence does not depend on how busy the machine is.
    clip = require_data("video", "short_hamilton_clip.mp4")
    live = run_kiosk("--config", str(config), "run", "--source", f"file:{clip}", "--display", "headless", "--fast",
                     data_dir=enrolled_copy, env={"RUNTIME_DIRECTORY": str(tmp_path)})
    assert live.returncode == 0, live.stderr
    events = json.loads(run_kiosk("--config", str(config), "events", "--json", data_dir=enrolled_copy).stdout)
    assert "lin_manuel_miranda" in {e["name"] for e in events}
    assert {e["name"] for e in events} <= {"lin_manuel_miranda", "unknown"}, events

    # And back: dlib's own samples again, from the same kept photos.
    back = run_kiosk("retrain", "--json", data_dir=enrolled_copy)
    assert json.loads(back.stdout)["replaced"] == 11
    with Store(enrolled_copy) as store:
        assert store.people.encoders() == {encoders.model_of("dlib"): 11}
