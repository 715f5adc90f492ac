"""The campaign driver's bookkeeping: phases never reuse a name the committed curve holds."""

import sys
from pathlib import Path

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
