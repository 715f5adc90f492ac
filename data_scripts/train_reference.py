"""Train the model shipped inside the package: the lite preset on real GoPro frames and photographs.

The shipped weights come from a long training campaign run in resumable slices on two CPU
cores (chapter *Training*)::

    .venv/bin/python data_scripts/train_reference.py --time-limit 60   # one slice; it resumes
    .venv/bin/python data_scripts/train_reference.py --export          # score, write the weights
    .venv/bin/python data_scripts/train_reference.py --export --phase phase-05   # another phase

1. Makes the training data under ``--work`` unless it is there (outside the repository: the
   data are not ours to redistribute): real pairs averaged from the 240-fps GoPro frames of
   ``../shared/realblur/gopro_frames/GOPR0477_11_00`` (``frames_to_pairs.py``; the last 60
   frames are held out for validation) and :data:`N_PHOTO_PAIRS` pairs synthesised with
   GoPro-scale motion from the photographs of ``../shared/photos`` (``svrnn-lite synth
   --photos``).
2. Trains :data:`RECIPE` on both, in equal shares, into ``WORK/runs/<phase>``, resuming the
   phase's checkpoint when there is one. With no checkpoint under ``--work`` (a new machine),
   a new phase starts from the committed weights (a warm restart with the same recipe).
   ``--cycle STEPS`` makes a new phase one cosine cycle that anneals the rate to zero,
   ``--crop``/``--batch-size``/``--static-psnr`` change a new phase's crops, ``--variant both``
   also trains it on every pair averaged in linear light, and
   ``--strong-blur`` adds the data of :func:`make_strong_data` to it (a resumed phase keeps its
   own).
3. ``--export`` scores the phase's checkpoint (its moving average of the weights) on the real
   pairs of ``benchmarks/real_blur_check.py``, the synthetic photo test split and the bundled
   synthetic test split, writes the weights and that record to ``svrnn_lite/weights/lite.pt``
   (``svrnn_lite.load_pretrained("lite")``), and the learning curve of every phase so far to
   ``book/chapters/data/campaign.csv``.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from svrnn_lite.train import TrainConfig, train
from svrnn_lite.train_config import VARIANTS

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
WORK = Path.home() / "svrnn-lite-campaign"
WEIGHTS = ROOT / "svrnn_lite" / "weights" / "lite.pt"
CURVE = ROOT / "book" / "chapters" / "data" / "campaign.csv"
REAL_BLUR = ROOT / "book" / "chapters" / "data" / "real_blur.json"
FRAMES = SHARED / "realblur" / "gopro_frames" / "GOPR0477_11_00"
N_PHOTO_PAIRS = 1500
#: Stronger blur than GoPro's, for the recipe probe's ``strong-blur`` arm: the real crops that
#: gain least are the most blurred (chapter *Training*). Real pairs from the same GOPR0477
#: frames averaged over longer windows, and photo pairs with faster camera shake.
STRONG_FRAMES = (25, 49)  # full-frame input PSNR 24.6-27.6 dB on GOPR0477, as the real full pairs
STRONG_SHAKE = (1.0, 4.0)  # median input PSNR of 128-px crops about 21 dB, as the real crops
N_STRONG_PHOTO_PAIRS = 1000
#: The learning curve: validation PSNR on the held-out GOPR0477 block against the CPU hours
#: of the whole campaign; a row without ``val_psnr`` marks where a phase stopped.
CURVE_FIELDS = ("phase", "step", "cpu_hours", "val_psnr", "lr")

#: The recipe (``data`` and ``out`` are filled in for the folders of ``--work``).
RECIPE = TrainConfig(
    preset="lite",
    arch="multitask",
    residual=True,  # learning the correction converges far faster on a CPU budget
    loss="charbonnier",
    steps=40_000,  # the horizon of the cosine decay; slices stop long before
    batch_size=8,
    crop=128,
    lr=5e-4,
    schedule="cosine",
    warmup=100,
    ema=0.999,
    val_every=250,
    val_images=12,  # the whole held-out block of GOPR0477
    seed=0,  # phase_config gives each phase its own: its number
    threads=2,
    progress=False,
)


def make_data(work: Path) -> list[Path]:
    """The training folders under ``work``, made when missing: real pairs first (validation)."""
    real, photos = work / "data" / "gopro0477", work / "data" / "photos_gopro"
    _real_pairs(real)
    _photo_pairs(photos, N_PHOTO_PAIRS)
    return [real, photos]


def make_strong_data(work: Path) -> list[Path]:
    """The folders of stronger blur under ``work`` (:data:`STRONG_FRAMES`, :data:`STRONG_SHAKE`),
    made when missing: training pairs only, as validation stays on :func:`make_data`'s."""
    real, photos = strong_folders(work)
    _real_pairs(real, STRONG_FRAMES)
    _photo_pairs(photos, N_STRONG_PHOTO_PAIRS, STRONG_SHAKE)
    return [real, photos]


def strong_folders(work: Path) -> list[Path]:
    return [work / "data" / "gopro0477_long", work / "data" / "photos_strong"]


def _real_pairs(folder: Path, n_frames=None) -> None:
    if (folder / "pairs.json").exists() and _complete(folder):
        return
    command = [
        sys.executable,
        Path(__file__).resolve().parent / "frames_to_pairs.py",
        FRAMES,
        folder,
    ]
    if n_frames is not None:
        command += ["--n-frames", *map(str, n_frames)]
    subprocess.run(command, check=True)


def _photo_pairs(folder: Path, n: int, shake=None) -> None:
    if not (folder / "train").is_dir() or _pairs_in(folder) < n:
        from svrnn_lite.synth import write_dataset

        write_dataset(folder, n_train=n, n_test=24, photos=SHARED / "photos", photo_shake=shake)


def _complete(folder: Path) -> bool:
    """Whether every pair of ``folder`` has its linear-light average too (``blur_gamma``): run
    again on a folder made before it wrote those, ``frames_to_pairs.py`` adds them."""
    return all(
        len(list(sequence.glob("blur_gamma/*.png"))) == len(list(sequence.glob("blur/*.png")))
        for sequence in folder.glob("*/*")
        if sequence.is_dir()
    )


def _pairs_in(root: Path) -> int:
    return sum(1 for _ in (root / "train").glob("*/sharp/*.png"))


def current_phase(work: Path) -> Path | None:
    """The latest phase's run folder, or None when there is none."""
    phases = sorted(p for p in (work / "runs").glob("phase-*") if p.is_dir())
    return phases[-1] if phases else None


def phase_config(run: Path, data: list[Path], init: Path | None) -> TrainConfig:
    """The recipe for the phase in the folder ``run`` (``phase-NN`` or ``phase-NN-<arm>``).

    The seed, which sets every batch (which pairs, crops and flips), is the phase's number NN:
    a warm restart draws crops the phases before it did not see, instead of replaying the same
    batches from the new weights. The arms of one probe share their phase's number, so they
    see the same batches. (Phases 01 to 09 all had seed 0.)
    """
    kind, number, *_ = [*run.name.split("-"), ""]
    if kind != "phase" or not number.isdigit():
        raise ValueError(f"{run}: a phase's folder is named phase-NN or phase-NN-<arm>")
    return replace(
        RECIPE,
        data=[str(d) for d in data],
        out=str(run),
        init=None if init is None else str(init),
        seed=int(number),
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=WORK, help="data and run state (%(default)s)")
    parser.add_argument("--time-limit", type=float, help="minutes to train in this slice")
    parser.add_argument("--export", action="store_true", help="score and write the weights")
    parser.add_argument(
        "--cycle",
        type=int,
        metavar="STEPS",
        help="a new phase's learning rate decays to zero over STEPS steps (a cosine cycle that "
        f"ends annealed; default the recipe's {RECIPE.steps})",
    )
    parser.add_argument(
        "--new-phase",
        action="store_true",
        help="start a new phase from the committed weights even if the current one can resume",
    )
    parser.add_argument(
        "--crop", type=int, help=f"a new phase's crop size (default the recipe's {RECIPE.crop})"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        help=f"a new phase's crops per batch (default the recipe's {RECIPE.batch_size})",
    )
    parser.add_argument(
        "--static-psnr",
        type=float,
        metavar="DB",
        help="a new phase redraws training crops whose input is above DB dB, nearly static "
        "windows (the probe's moving arm: 30; default the recipe's 0, every crop kept)",
    )
    parser.add_argument(
        "--variant",
        choices=VARIANTS,
        help="a new phase's blurry images: both also trains on every pair averaged in linear "
        "light (GoPro's blur_gamma; the probe's linear-light arm); default the recipe's "
        f"{RECIPE.variant}",
    )
    parser.add_argument(
        "--strong-blur",
        action="store_true",
        help="a new phase also draws half of every batch from the folders of stronger blur "
        "(make_strong_data: longer GoPro windows, faster photo shake); a resumed phase keeps "
        "its own data",
    )
    parser.add_argument(
        "--phase", help="with --export: the phase to export (default the latest), e.g. phase-05"
    )
    args = parser.parse_args(argv)
    changes = {
        name: getattr(args, name)
        for name in ("crop", "batch_size", "static_psnr", "variant")
        if getattr(args, name) is not None
    }
    args.work = args.work.resolve()  # the same paths in every slice's settings
    data = make_data(args.work)
    run = current_phase(args.work)
    if args.export:
        if args.phase is not None:
            run = args.work / "runs" / args.phase
            if not (run / "last.pt").exists():
                parser.error(f"no checkpoint {run / 'last.pt'}: name a phase under {run.parent}")
        if run is None:
            parser.error(f"nothing to export: no phase under {args.work / 'runs'}")
        return export(run, data)

    if args.strong_blur:
        data = [*data, *make_strong_data(args.work)]
    cfg, resume = next_slice(args.work, run, data, args.cycle, args.new_phase, **changes)
    limit = None if args.time_limit is None else 60 * args.time_limit
    result = train(cfg, resume=resume, time_limit=limit)
    return 0 if result["finished"] else 3


def next_slice(
    work: Path,
    run: Path | None,
    data: list[Path],
    cycle: int | None = None,
    new_phase=False,
    **changes,
) -> tuple[TrainConfig, bool]:
    """The settings of the next slice, and whether it resumes the phase ``run``.

    A phase resumes with the settings it started with until it has trained all its steps. A new
    phase (none yet, the last one finished, or ``new_phase``) warm-starts from the committed
    weights; with ``cycle`` its learning rate decays to zero over that many steps, so that it
    ends annealed (a warm restart per phase, as in SGDR). ``changes`` (``crop``, ``batch_size``)
    replace the recipe's settings in a new phase only; a resumed phase keeps its own.
    """
    if run is not None and (run / "last.pt").exists() and not new_phase:
        saved = json.loads((run / "config.json").read_text())["train"]
        if _steps_done(run) < saved["steps"]:
            return replace(RECIPE, **saved), True
    run = work / "runs" / f"phase-{_next_phase(run):02d}"
    cfg = phase_config(run, data, WEIGHTS if _from_campaign(WEIGHTS) else None)
    cfg = replace(cfg, **changes)
    return (cfg if cycle is None else replace(cfg, steps=cycle)), False


def _steps_done(run: Path) -> int:
    """The last step in a run's log (0 before its first record)."""
    with open(run / "log.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return int(rows[-1]["step"]) if rows else 0


def _next_phase(run: Path | None) -> int:
    """The number of a new phase: after every phase here and in the committed curve, so a new
    machine never reuses the name of a phase whose points the curve already holds."""
    numbers = [int(run.name.split("-")[1])] if run is not None else []
    if CURVE.exists():
        with open(CURVE, newline="") as f:
            phases = {row["phase"] for row in csv.DictReader(f)}
        numbers += [int(p.split("-")[1]) for p in phases if p.startswith("phase-")]
    return max(numbers, default=0) + 1


def _from_campaign(weights: Path) -> bool:
    """Whether the committed weights were trained by this recipe (not by an older one)."""
    from svrnn_lite.checkpoint import safe_load

    if not weights.exists():
        return False
    extra = safe_load(weights).get("extra", {})
    return extra.get("train_config", {}).get("loss") == RECIPE.loss and "campaign" in extra


def export(run: Path, data: list[Path]) -> int:
    """Score the phase, write the shipped weights with their record and the learning curve."""
    from svrnn_lite.checkpoint import load_checkpoint
    from svrnn_lite.data import PairDataset, SyntheticPairs, gopro_pairs
    from svrnn_lite.evaluate import evaluate, summarise
    from svrnn_lite.pretrained import export_pretrained

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from real_blur_check import binned, real_sets, summary

    model = load_checkpoint(run / "last.pt").eval()
    real, every_row = {}, []
    for name, pairs in real_sets(SHARED / "realblur").items():
        rows = evaluate(model, pairs)
        real[name], every_row = summary(rows), every_row + rows
    photo_rows = evaluate(model, PairDataset(gopro_pairs(data[1], "test")))
    bundled_rows = evaluate(model, SyntheticPairs("test", n=24, seed=0))
    curve = _curve(run)
    record = {
        "campaign": {
            "phases": sorted({row["phase"] for row in curve}),
            "cpu_hours": curve[-1]["cpu_hours"] if curve else 0.0,
            "data": _data_text(run),
        },
        "real_blur": real,
        "photo_test_metrics": summarise(photo_rows),
    }
    extra = export_pretrained(run / "last.pt", WEIGHTS, bundled_rows, record)
    _write_curve(curve)
    from svrnn_lite.atomic import atomic_path
    from svrnn_lite.metrics import CONVENTION

    with atomic_path(REAL_BLUR) as tmp:  # numbers only: the chapters quote them
        table = {"sets": real, "by_input_psnr": binned(every_row), "convention": CONVENTION}
        tmp.write_text(json.dumps(table, indent=1) + "\n")
    print(json.dumps({k: extra[k] for k in ("steps", "campaign", "real_blur")}, indent=1))
    print("photo test split:", extra["photo_test_metrics"])
    print("bundled synthetic test split:", extra["test_metrics"])
    return 0


def _data_text(run: Path) -> str:
    """What the phase ``run`` trained on, in words, for the shipped weights' record."""
    text = (
        "real pairs averaged from GoPro GOPR0477_11_00 frames (GoPro, CC BY 4.0) and "
        f"{N_PHOTO_PAIRS} pairs synthesised from BSDS500, Urban100, Sun-Hays80, Kodak24 and "
        "McMaster photographs"
    )
    settings = json.loads((run / "config.json").read_text())["train"]
    if settings.get("variant") == "both":
        text += ", each pair also averaged in linear light (GoPro's blur_gamma)"
    names = {Path(f).name for f in settings["data"]}
    long_windows, fast_shake = (folder.name in names for folder in strong_folders(Path()))
    strong = [
        *([f"the same frames averaged over {STRONG_FRAMES[0]}-{STRONG_FRAMES[1]} frames"]
          if long_windows else []),
        *([f"{N_STRONG_PHOTO_PAIRS} photo pairs with camera shake of {STRONG_SHAKE[0]:g}-"
           f"{STRONG_SHAKE[1]:g} pixels per sub-frame"] if fast_shake else []),
    ]  # fmt: skip
    if strong:
        text += "; in equal shares with those, stronger blur: " + " and ".join(strong)
    return text


def _curve(run: Path) -> list[dict]:
    """The committed curve of earlier phases, then this phase's validation points."""
    rows = []
    if CURVE.exists():
        with open(CURVE, newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["phase"] != run.name]
    offset = max((float(r["cpu_hours"]) for r in rows), default=0.0)
    from svrnn_lite.checkpoint import safe_load

    history = safe_load(run / "last.pt")["history"]
    for record in history:
        if "val_psnr" in record or record is history[-1]:  # the last row: where the phase ends
            rows.append(
                {
                    "phase": run.name,
                    "step": record["step"],
                    "cpu_hours": round(offset + record.get("cpu_s", 0.0) / 3600, 4),
                    "val_psnr": round(record["val_psnr"], 4) if "val_psnr" in record else "",
                    "lr": record["lr"],
                }
            )
    for row in rows:
        row["cpu_hours"] = float(row["cpu_hours"])
    return rows


def _write_curve(rows: list[dict]) -> None:
    from svrnn_lite.atomic import atomic_path

    with atomic_path(CURVE) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, CURVE_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    sys.exit(main())
