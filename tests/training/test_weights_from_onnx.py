"""Trainable weights recovered from a shipped ONNX model (batch-norms put back after folding)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the `training` extra (torch) is not installed")

from tests.training.onnx_models import manifest_for, with_random_batchnorm  # noqa: E402
from training.batchnorm_restoration import restore_batchnorm  # noqa: E402
from training.checkpoints import read_weights  # noqa: E402
from training.cli import main  # noqa: E402
from training.errors import CheckpointError  # noqa: E402
from training.export_pipeline import export_checkpoint  # noqa: E402
from training.model_zoo import BUILDERS, build_model  # noqa: E402
from training.onnx_export import export_onnx  # noqa: E402
from training.onnx_weights import module_from_onnx  # noqa: E402

SHAPE = (1, 24, 24)


def faces(n: int = 64, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, *SHAPE)).astype(np.float32)


@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_restored_model_equals_the_shipped_one_and_trains_without_a_jump(
    family: str, tmp_path: Path
) -> None:
    # given a trained-like model exported to ONNX and rebuilt with its batch-norms folded
    torch.manual_seed(0)
    original = with_random_batchnorm(build_model(family, 1, width=0.25, dropout=0.0))
    path = tmp_path / "m.onnx"
    export_onnx(original, SHAPE, path)
    folded = module_from_onnx(manifest_for(family), path)
    assert folded is not None
    # when the batch-norms are restored with statistics of these faces
    x = faces()
    plain = restore_batchnorm(folded, build_model(family, 1, width=0.25, dropout=0.0), x)
    # then in eval mode it computes what the original computes
    inputs = torch.from_numpy(x)
    with torch.no_grad():
        expected = torch.softmax(original.eval()(inputs), 1)
        restored = torch.softmax(plain.eval()(inputs), 1)
        # and in training mode (batch statistics) on the same faces it starts where eval is
        in_training = torch.softmax(plain.train()(inputs), 1)
    assert float((expected - restored).abs().max()) <= 1e-4
    assert float((restored - in_training).abs().max()) <= 1e-3


def test_unfolded_model_is_refused(tmp_path: Path) -> None:
    # given a "folded" module that still has bias-free convolutions (nothing was folded)
    plain = build_model("resnet", 1, width=0.25, dropout=0.0)
    # when batch-norms are restored from it
    # then the refusal names the convolution instead of writing wrong weights
    with pytest.raises(CheckpointError, match="was not folded"):
        restore_batchnorm(plain, build_model("resnet", 1, width=0.25, dropout=0.0), faces())


def test_cli_writes_weights_a_training_config_can_start_from(
    trained_run: Path, synthetic_split: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a registered model exported by this pipeline (its checkpoint is gone)
    models = tmp_path / "models"
    export_checkpoint(trained_run / "best.pt", "tiny", models)
    out = tmp_path / "tiny-trainable.pt"
    capsys.readouterr()
    # when `python -m training weights-from-onnx` recovers trainable weights from it
    argv = ["weights-from-onnx", "--model", "tiny", "--models-dir", str(models)]
    argv += ["--data", str(synthetic_split), "--faces", "50", "--out", str(out)]
    assert main(argv) == 0
    # then every tensor of the architecture is in the file, batch-norm statistics included
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["faces"] == 50
    weights = read_weights(out)
    spec = result
    model = build_model(spec["family"], 1, spec["width"], spec["dropout"])
    model.load_state_dict(weights, strict=True)
    norms = [k for k in weights if k.endswith("running_var")]
    assert norms and all(float(weights[k].min()) >= 0 for k in norms)
    assert any(float(weights[k].std()) > 0 for k in norms)  # measured, not defaults
