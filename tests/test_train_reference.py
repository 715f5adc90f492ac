"""The campaign driver's bookkeeping: phases never reuse a name the committed curve holds."""

import json
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "data_scripts"))
import train_reference  # noqa: E402


def test_a_new_phase_comes_after_every_phase_here_and_in_the_committed_curve(tmp_path, monkeypatch):
    curve = tmp_path / "campaign.csv"
    monkeypatch.setattr(train_reference, "CURVE", curve)
    assert train_reference._next_phase(None) == 1  # no curve, no phase: the first one
    curve.write_text(
        "phase,step,cpu_hours,val_psnr,lr\nphase-01,250,0.2,25.4,0.0005\n"
        "shipped-before,0,0.86,25.8,0.0\nphase-03,250,1.0,25.9,0.0005\n"
    )
    assert train_reference._next_phase(None) == 4  # a new machine, with the committed curve
    assert train_reference._next_phase(tmp_path / "runs" / "phase-07") == 8


def test_the_shipped_weights_are_known_as_the_campaigns():
    # the committed weights carry the campaign's record, so a new machine warm-starts from them
    assert train_reference._from_campaign(train_reference.WEIGHTS)
    assert not train_reference._from_campaign(REPO / "no-such-weights.pt")


def _phase(work, name, steps, done):
    """A phase folder as the trainer leaves it: settings, a checkpoint, a log of ``done`` steps."""
    run = work / "runs" / name
    run.mkdir(parents=True)
    cfg = train_reference.phase_config(run, [work / "data"], None)
    saved = {**asdict(cfg), "steps": steps}
    (run / "config.json").write_text(json.dumps({"train": saved}))
    (run / "last.pt").write_bytes(b"")
    (run / "log.csv").write_text(f"step,loss\n{done},0.1\n")
    return run


def test_a_phase_resumes_with_its_own_settings_until_its_steps_are_done(tmp_path, monkeypatch):
    monkeypatch.setattr(train_reference, "CURVE", tmp_path / "campaign.csv")
    data = [tmp_path / "data"]
    run = _phase(tmp_path, "phase-02", steps=300, done=120)
    cfg, resume = train_reference.next_slice(tmp_path, run, data, cycle=999)
    assert resume and cfg.steps == 300 and cfg.out == str(run)  # not the new --cycle
    # a finished phase, or an explicit request, starts the next one as one cosine cycle
    finished = _phase(tmp_path, "phase-03", steps=300, done=300)
    for current, new_phase in [(finished, False), (run, True)]:
        cfg, resume = train_reference.next_slice(tmp_path, current, data, 999, new_phase)
        assert not resume and cfg.steps == 999 and cfg.schedule == "cosine"
        assert Path(cfg.out).name == f"phase-{int(current.name[-2:]) + 1:02d}"
    cfg, _ = train_reference.next_slice(tmp_path, None, data)
    assert cfg.steps == train_reference.RECIPE.steps and Path(cfg.out).name == "phase-01"


def test_crop_and_batch_change_a_new_phase_but_not_a_resumed_one(tmp_path, monkeypatch):
    monkeypatch.setattr(train_reference, "CURVE", tmp_path / "campaign.csv")
    data = [tmp_path / "data"]
    run = _phase(tmp_path, "phase-04", steps=300, done=120)
    cfg, resume = train_reference.next_slice(tmp_path, run, data, crop=192, batch_size=4)
    assert resume and (cfg.crop, cfg.batch_size) == (128, 8)  # the phase's own settings
    cfg, resume = train_reference.next_slice(tmp_path, run, data, 500, True, crop=192, batch_size=4)
    assert not resume and (cfg.crop, cfg.batch_size, cfg.steps) == (192, 4, 500)
    assert cfg.lr == train_reference.RECIPE.lr and Path(cfg.out).name == "phase-05"


def test_the_command_line_hands_a_new_phase_its_crop_settings(tmp_path, monkeypatch):
    monkeypatch.setattr(train_reference, "CURVE", tmp_path / "campaign.csv")
    monkeypatch.setattr(train_reference, "make_data", lambda work: [work / "data"])
    trained = []
    monkeypatch.setattr(
        train_reference, "train", lambda cfg, **_: trained.append(cfg) or {"finished": True}
    )
    changes = ["--crop", "192", "--batch-size", "4", "--static-psnr", "30", "--variant", "both"]
    assert train_reference.main(["--work", str(tmp_path), "--new-phase", *changes]) == 0
    first = trained[0]
    assert (first.crop, first.batch_size, first.static_psnr, first.variant) == (
        192,
        4,
        30.0,
        "both",
    )
    assert train_reference.main(["--work", str(tmp_path), "--new-phase"]) == 0
    recipe = train_reference.RECIPE
    assert (trained[1].crop, trained[1].static_psnr, trained[1].variant) == (
        recipe.crop, recipe.static_psnr, recipe.variant,
    )  # fmt: skip


def test_each_phase_draws_its_own_batches_and_the_arms_of_a_probe_share_theirs(tmp_path):
    data = [tmp_path / "data"]
    seeds = {
        name: train_reference.phase_config(tmp_path / "runs" / name, data, None).seed
        for name in ("phase-09", "phase-10", "phase-10-crop192", "phase-10-strong-photos")
    }
    assert seeds == {
        "phase-09": 9,
        "phase-10": 10,
        "phase-10-crop192": 10,
        "phase-10-strong-photos": 10,
    }
    with pytest.raises(ValueError, match="phase-NN or phase-NN-<arm>"):
        train_reference.phase_config(tmp_path / "runs" / "photos", data, None)


def test_the_record_says_when_a_phase_trained_on_stronger_blur_too(tmp_path):
    base = [tmp_path / "data" / "gopro0477", tmp_path / "data" / "photos_gopro"]
    strong_folders = train_reference.strong_folders(tmp_path)
    for name, data in (
        ("phase-01", base),
        ("phase-02", base + strong_folders),
        ("phase-03", [*base, strong_folders[1]]),  # the fast-shake photos alone
    ):
        run = tmp_path / "runs" / name
        run.mkdir(parents=True)
        cfg = train_reference.phase_config(run, data, None)
        (run / "config.json").write_text(json.dumps({"train": asdict(cfg)}))
    plain = train_reference._data_text(tmp_path / "runs" / "phase-01")
    strong = train_reference._data_text(tmp_path / "runs" / "phase-02")
    assert "GOPR0477" in plain and "stronger blur" not in plain
    low, high = train_reference.STRONG_FRAMES
    assert (
        strong.startswith(plain) and "stronger blur" in strong and f"{low}-{high} frames" in strong
    )
    photos = train_reference._data_text(tmp_path / "runs" / "phase-03")
    assert "camera shake of" in photos and f"{low}-{high} frames" not in photos
    assert "linear light" not in plain


def test_the_record_says_when_a_phase_trained_on_linear_light_averages_too(tmp_path):
    run = tmp_path / "runs" / "phase-14"
    run.mkdir(parents=True)
    cfg = train_reference.phase_config(run, [tmp_path / "data" / "gopro0477"], None)
    (run / "config.json").write_text(json.dumps({"train": {**asdict(cfg), "variant": "both"}}))
    assert "also averaged in linear light" in train_reference._data_text(run)


def test_a_folder_of_real_pairs_without_linear_light_averages_is_completed(tmp_path, monkeypatch):
    folder = tmp_path / "gopro0477"
    for variant in ("blur", "sharp"):
        (folder / "train" / "clip" / variant).mkdir(parents=True)
        (folder / "train" / "clip" / variant / "000004.png").write_bytes(b"")
    (folder / "pairs.json").write_text("{}")
    made = []
    monkeypatch.setattr(train_reference.subprocess, "run", lambda cmd, **_: made.append(cmd))
    train_reference._real_pairs(folder)
    assert len(made) == 1 and str(folder) in map(str, made[0])  # frames_to_pairs fills it in
    (folder / "train" / "clip" / "blur_gamma").mkdir()
    (folder / "train" / "clip" / "blur_gamma" / "000004.png").write_bytes(b"")
    train_reference._real_pairs(folder)
    assert len(made) == 1  # complete: left alone
