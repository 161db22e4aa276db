"""A short training run: it learns, logs, checkpoints, stops early and resumes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the `training` extra (torch) is not installed")

from inference.model_manifest import CANONICAL_CLASSES  # noqa: E402
from tests.training.conftest import tiny_config, write_class_folders  # noqa: E402
from training.checkpoints import load_model  # noqa: E402
from training.dataset_loaders import load_dataset  # noqa: E402
from training.training_config import parse_config  # noqa: E402
from training.training_loop import class_weights  # noqa: E402
from training.training_run import train_model  # noqa: E402


def read_log(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "log.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_two_epochs_reduce_the_loss_and_write_the_run_folder(
    synthetic_split: Path, tmp_path: Path
) -> None:
    # given a tiny learnable dataset and a two-epoch config
    config = parse_config(tiny_config(synthetic_split, synthetic_split, tmp_path / "runs"))
    # when trained
    summary = train_model(config)
    # then the training loss falls from epoch 1 to 2 and the run folder is complete
    rows = read_log(config.run_dir)
    assert len(rows) == 2
    assert float(rows[1]["train_loss"]) < float(rows[0]["train_loss"])
    for name in ("best.pt", "last.pt", "curves.png", "log.csv", "run.log", "summary.json"):
        assert (config.run_dir / name).is_file(), name
    assert json.loads((config.run_dir / "summary.json").read_text())["epochs_run"] == 2
    assert summary["best_epoch"] in (1, 2)


def test_best_checkpoint_rebuilds_the_model(trained_run: Path) -> None:
    # given a finished run
    # when its best checkpoint is loaded
    model, spec, payload = load_model(trained_run / "best.pt")
    # then the model predicts the seven classes for the configured input size
    out = model(torch.zeros(2, spec.channels, spec.size, spec.size))
    assert out.shape == (2, len(CANONICAL_CLASSES))
    assert payload["model"]["family"] == "baseline"


def test_same_seed_gives_the_same_run(synthetic_split: Path, tmp_path: Path) -> None:
    # given the same config twice (different output folders)
    losses = []
    for name in ("a", "b"):
        raw = tiny_config(synthetic_split, synthetic_split, tmp_path / name, epochs=1)
        raw["augmentation"] = {"enabled": True}
        # when trained
        train_model(parse_config(raw))
        losses.append(read_log(tmp_path / name / "tiny-baseline")[0]["train_loss"])
    # then the logged losses are identical
    assert losses[0] == losses[1]


def test_seeding_also_makes_gpu_convolutions_deterministic() -> None:
    from training.training_loop import seed_everything

    # given cuDNN left in its fast, timing-based mode
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = True, False
    # when a run seeds everything
    gen = seed_everything(5)
    # then cuDNN is told to use deterministic algorithms and the generator carries the seed
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    assert gen.initial_seed() == 5


def test_early_stopping_stops_when_val_loss_stalls(synthetic_split: Path, tmp_path: Path) -> None:
    # given a zero learning rate (val loss cannot fall) and patience 1
    raw = tiny_config(synthetic_split, synthetic_split, tmp_path, epochs=6)
    raw["train"] |= {"lr": 0.0, "early_stopping_patience": 1, "schedule": "plateau"}
    # when trained
    summary = train_model(parse_config(raw))
    # then it stops after two epochs with an early-stopping reason
    assert summary["epochs_run"] == 2
    assert summary["stop_reason"].startswith("early stopping")


def test_resume_continues_from_the_last_epoch(synthetic_split: Path, tmp_path: Path) -> None:
    # given a one-epoch run
    raw = tiny_config(synthetic_split, synthetic_split, tmp_path, epochs=1)
    train_model(parse_config(raw))
    # when the same run is resumed with a two-epoch cap
    raw["train"]["epochs"] = 2
    train_model(parse_config(raw), resume=True, allow_changed=["train.epochs"])
    # then the log holds epochs 1 and 2
    assert [r["epoch"] for r in read_log(tmp_path / "tiny-baseline")] == ["1", "2"]


def test_class_weights_favour_rare_classes() -> None:
    # given 90 happy, 10 disgust and no fear labels
    happy, disgust = CANONICAL_CLASSES.index("happy"), CANONICAL_CLASSES.index("disgust")
    labels = torch.tensor([happy] * 90 + [disgust] * 10).numpy()
    # when weighted by inverse and by sqrt-inverse frequency
    inv, sqrt = class_weights(labels, "inverse"), class_weights(labels, "sqrt-inverse")
    # then disgust weighs 9x (inverse) and 3x (sqrt) happy, absent classes weigh 0
    assert float(inv[disgust] / inv[happy]) == pytest.approx(9.0)
    assert float(sqrt[disgust] / sqrt[happy]) == pytest.approx(3.0)
    assert float(inv[CANONICAL_CLASSES.index("fear")]) == 0.0
    assert float(class_weights(labels, "none").sum()) == len(CANONICAL_CLASSES)


def test_pretrained_weights_are_loaded(trained_run: Path, tmp_path: Path) -> None:
    # given a finished run's checkpoint as the starting point of a new run
    data = write_class_folders(tmp_path / "d", list(CANONICAL_CLASSES), per_class=4)
    raw = tiny_config(data, data, tmp_path / "runs", epochs=1)
    raw["model"]["pretrained"] = str(trained_run / "best.pt")
    raw["train"]["lr"] = 0.0
    # when trained with a zero learning rate
    config = parse_config(raw)
    train_model(config)
    # then the new weights equal the pretrained ones (batch-norm statistics aside)
    old, _, _ = load_model(trained_run / "best.pt")
    new, _, _ = load_model(config.run_dir / "last.pt")
    first_old, first_new = next(old.parameters()), next(new.parameters())
    assert torch.equal(first_old, first_new)


def test_summary_reports_class_weights_and_per_class_val_figures(tmp_path: Path) -> None:
    # given a training split where disgust is rare (3 images against 12 of every other class)
    names = [c for c in CANONICAL_CLASSES if c != "disgust"]
    data = write_class_folders(tmp_path / "train", names, per_class=12)
    write_class_folders(tmp_path / "train", ["disgust"], per_class=3, seed=1)
    config = parse_config(tiny_config(data, data, tmp_path / "runs", epochs=2))
    # when trained with the default sqrt-inverse weighting
    summary = train_model(config)
    # then summary.json reports the counts and the weights (disgust weighs 2x: sqrt(12/3))
    saved = json.loads((config.run_dir / "summary.json").read_text())
    assert (
        saved["train_class_counts"]["disgust"] == 3 and saved["class_weighting"] == "sqrt-inverse"
    )
    weights = saved["class_weights"]
    assert weights["disgust"] / weights["happy"] == pytest.approx(2.0, rel=1e-3)
    # and the per-class val recall of the best epoch, equal to a recount with best.pt
    model, spec, _ = load_model(config.run_dir / "best.pt")
    val = load_dataset("folder", data, "val", spec)
    with torch.no_grad():
        predicted = model(torch.from_numpy(val.inputs)).argmax(1).numpy()
    per_class = saved["val_per_class_at_best_epoch"]
    for i, name in enumerate(CANONICAL_CLASSES):
        hits = (predicted[val.labels == i] == i).mean()
        assert per_class[name]["recall"] == pytest.approx(float(hits)), name
    assert summary["val_per_class_at_best_epoch"] == per_class
    assert "val recall angry=" in (config.run_dir / "run.log").read_text()


def test_plain_state_dict_files_are_pretrained_weights_too(tmp_path: Path) -> None:
    # given weights saved as a plain state_dict (not a checkpoint of this pipeline)
    from training.errors import CheckpointError
    from training.model_zoo import build_model

    torch.manual_seed(3)
    source = build_model("baseline", 1, width=0.25, dropout=0.0)
    torch.save(source.state_dict(), tmp_path / "weights.pt")
    data = write_class_folders(tmp_path / "d", list(CANONICAL_CLASSES), per_class=2)
    raw = tiny_config(data, data, tmp_path / "runs", epochs=1)
    raw["model"]["pretrained"] = str(tmp_path / "weights.pt")
    raw["train"]["lr"] = 0.0
    # when a run starts from them with a zero learning rate
    config = parse_config(raw)
    train_model(config)
    # then the first layer holds the given weights
    new, _, _ = load_model(config.run_dir / "last.pt")
    assert torch.equal(next(source.parameters()), next(new.parameters()))
    # and a file without tensors is refused with a clear error
    torch.save({"note": "no weights"}, tmp_path / "bad.pt")
    raw["model"]["pretrained"] = str(tmp_path / "bad.pt")
    raw["run"]["output_dir"] = str(tmp_path / "other-runs")
    with pytest.raises(CheckpointError, match="holds no state_dict"):
        train_model(parse_config(raw))
