"""The layers contract holds: imports point downward only (docs/architecture.md).

``make lint`` runs ``lint-imports`` too; this test makes ``make test`` (and so
CI) fail on an upward import as well.
"""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def test_the_layers_contract_is_kept():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(  # noqa: S603 - our own venv's tool, fixed arguments
        [str(lint_imports), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_the_contract_covers_every_app_and_ignores_nothing():
    config = _config()
    (contract,) = config["contracts"]
    assert contract["type"] == "layers"
    assert "ignore_imports" not in contract
    apps = {
        path.parent.name
        for path in ROOT.glob("*/apps.py")
        if (path.parent / "__init__.py").exists()
    }
    assert apps <= set(contract["layers"]), apps - set(contract["layers"])
    assert set(config["root_packages"]) == set(contract["layers"])
