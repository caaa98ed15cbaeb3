"""Start-up cost of every command: the CLI and a Workspace's option checks import no scientific stack.

scikit-learn, SciPy's statistics and pandas take over a second to import; only classification training and
evaluation, topics and the UI need them. ``sift index``, ``sift search`` and ``sift ask`` build a Workspace,
whose :class:`~pipelines.options.ClassifyOptions` check their names against the classify package.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("sklearn", "scipy.stats", "scipy.optimize", "pandas")


def test_cli_and_workspace_options_import_no_scientific_stack() -> None:
    code = (
        "import sys\n"
        "from app.cli.main import build_parser\n"
        "from app.workspace import Workspace\n"
        "from pipelines.options import AskOptions, ClassifyOptions, SearchOptions\n"
        "build_parser(); ClassifyOptions(); AskOptions(); SearchOptions()\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def test_classify_package_still_loads_what_training_needs() -> None:
    code = (
        "import sys\n"
        "import numpy as np\n"
        "from pipelines.classify import LogisticClassifier\n"
        "clf = LogisticClassifier().fit(np.eye(4, dtype=np.float32), ['a', 'b', 'a', 'b'])\n"
        "print(clf.labels, 'sklearn' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.split() == ["['a',", "'b']", "True"], done.stdout
